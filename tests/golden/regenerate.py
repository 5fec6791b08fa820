"""Rewrite every golden file from the current code: ``python -m tests.golden.regenerate``.

``--smoke`` instead reruns the smoke study twice (one torch thread per job, then two) in copies
of the checkout and rewrites ``smoke_metrics.json``: the trained numbers of the one-thread run
and a tolerance calibrated by the difference between the two (``tests.golden.smoke``); it takes
a few minutes on two cores.

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
    parser.add_argument(
        "--smoke", action="store_true", help="rerun the smoke study (1 vs 2 threads)"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        _regenerate_smoke()
        return

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


def _smoke_run(dest: Path, threads: int) -> dict:
    """The smoke study run to the end in a copy of the checkout, every torch job on
    ``threads`` threads; its trained numbers (``tests.golden.smoke.smoke_metrics``)."""
    from tests.golden import smoke
    from tests.workflow.snakemake_run import copy_checkout, snakemake

    repo = copy_checkout(dest)
    rules = ("pretrain_backbone", "cold_start", "train_run", "leakage_curves", "embed_eval")
    proc = snakemake(
        "--cores", "2", "--configfile", "config/smoke.yaml",
        "--set-threads", *(f"{r}={threads}" for r in rules),
        cwd=repo, snakefile=repo / "Snakefile", timeout=3600,
    )  # fmt: skip
    if proc.returncode:
        raise SystemExit(f"smoke study ({threads} threads) failed:\n{proc.stderr[-4000:]}")
    return smoke.smoke_metrics(repo / "data" / "smoke")


def _regenerate_smoke() -> None:
    import tempfile

    from tests.golden import smoke

    with tempfile.TemporaryDirectory() as tmp:
        one = _smoke_run(Path(tmp) / "one", 1)
        two = _smoke_run(Path(tmp) / "two", 2)
    stored = {
        "metrics": one,
        "tolerance": smoke.calibrate(one, two),
        "calibration": "3 x the largest difference between the smoke study on 1 and on 2 torch "
        f"threads per job (floors {smoke.FLOOR})",
    }
    _write_json(smoke.SMOKE, stored)
    print(f"wrote {smoke.SMOKE.relative_to(golden.REPO)}: tolerance {stored['tolerance']}")


if __name__ == "__main__":
    main()
