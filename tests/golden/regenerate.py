"""Rewrite every golden file from the current code: ``python -m tests.golden.regenerate``.

The stored inputs (embedding matrices, per-task scores) are kept when present, so only the
outputs move; ``--new-inputs`` recreates the inputs too. Review the diff (``git diff
tests/golden``) before committing: a golden value changes only when behaviour changes on purpose.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tests.golden import golden


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")


def _inputs(path: Path, make, key: str | None, new: bool) -> dict:
    if path.exists() and not new:
        stored = json.loads(path.read_text())
        return stored[key] if key else stored
    return make()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-inputs", action="store_true", help="recreate the stored inputs too")
    args = parser.parse_args(argv)

    _write_json(golden.SYNTHETIC, golden.synthetic_hashes())
    _write_json(golden.TOKENIZER, golden.tokenizer_digest())

    inputs = _inputs(golden.SCORES, golden.make_score_inputs, "inputs", args.new_inputs)
    _write_json(golden.SCORES, {"inputs": inputs, "expected": golden.embedding_scores(inputs)})

    table_inputs = _inputs(golden.TABLE_INPUTS, golden.make_table_inputs, None, args.new_inputs)
    _write_json(golden.TABLE_INPUTS, table_inputs)
    md, csv_text = golden.rendered_table(table_inputs)
    golden.TABLE_MD.write_text(md)
    golden.TABLE_CSV.write_text(csv_text)
    for path in (
        golden.SYNTHETIC,
        golden.SCORES,
        golden.TABLE_INPUTS,
        golden.TABLE_MD,
        golden.TABLE_CSV,
    ):
        print(f"wrote {path.relative_to(golden.REPO)}")


if __name__ == "__main__":
    main()
