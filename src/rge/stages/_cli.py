"""The command line every stage shares.

Each Snakemake rule runs ``python -m rge.stages.<rule>`` with

    --cfg JSON            the config slice the stage needs (Snakemake tracks it as a param,
                          so changing one run's settings reruns only that run's jobs)
    --input  NAME=PATH    named inputs  (repeatable; PATH may be repeated NAME=... for lists)
    --output NAME=PATH    named outputs (repeatable)
    --log PATH            log file (also echoed to stderr)

``stage_main`` parses these, sets up logging and calls ``run(cfg, inputs, outputs)``.
Tests call ``main([...])`` with the same arguments.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


class Paths(dict):
    """Named paths: ``paths.model`` or ``paths["model"]``; a name given twice becomes a list."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as err:
            raise AttributeError(f"no path named {name!r}; have {sorted(self)}") from err


def as_list(value: Path | str | list) -> list[Path]:
    """A named input that may be one path or several, as a list of paths."""
    return [Path(v) for v in value] if isinstance(value, list) else [Path(value)]


def write_table_outputs(table: Any, outputs: Paths) -> dict:
    """Write ``table`` (an ``rge.report.tables.Table``) to the ``md``, ``csv`` and ``tex``
    outputs; return ``{"rows": number of rows}``."""
    from rge.report.tables import write_table

    write_table(table, md=outputs.md, csv_path=outputs.csv, tex=outputs.tex)
    return {"rows": len(table.rows)}


def run_table_files(inputs: Paths) -> dict[str, Any]:
    """The named inputs of a per-run table rule (Tables 1, 3, 4, 6) as the file keywords of
    ``rge.report.run_tables.build_run_table``: ``summary`` and ``train_summary`` (each one path
    or several), ``probe`` and ``paper``."""
    return {
        "summaries": as_list(inputs.summary),
        "train_summaries": as_list(inputs.train_summary),
        "probe": inputs.probe,
        "paper": inputs.paper,
    }


def _named_paths(pairs: list[str], flag: str) -> Paths:
    out = Paths()
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"{flag} expects NAME=PATH, got {pair!r}")
        path = Path(value)
        if name in out:
            prev = out[name]
            out[name] = (prev if isinstance(prev, list) else [prev]) + [path]
        else:
            out[name] = path
    return out


def parse(argv: list[str] | None, description: str = "") -> tuple[dict, Paths, Paths, Path | None]:
    """Parse the shared stage arguments into (cfg, inputs, outputs, log)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--cfg", default="{}", help="config slice as JSON, or @file.json")
    ap.add_argument("--input", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--output", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--log", type=Path, default=None)
    args = ap.parse_args(argv)
    text = Path(args.cfg[1:]).read_text() if args.cfg.startswith("@") else args.cfg
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as err:
        raise SystemExit(f"--cfg is not valid JSON: {err}") from err
    return cfg, _named_paths(args.input, "--input"), _named_paths(args.output, "--output"), args.log


def setup_logging(log: Path | None) -> None:
    """Log to stderr and, if given, to ``log`` (created with its parent folder)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log, mode="w"))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        handlers=handlers,
        force=True,
    )


def stage_main(
    run: Callable[[dict, Paths, Paths], Any], argv: list[str] | None, doc: str = ""
) -> Any:
    """Parse argv, set up logging and call ``run(cfg, inputs, outputs)``."""
    cfg, inputs, outputs, log = parse(argv, doc)
    setup_logging(log)
    try:
        return run(cfg, inputs, outputs)
    except Exception:
        # The traceback goes to the rule's log file too, where Snakemake points the user.
        logging.getLogger("rge.stage").exception("stage failed")
        raise
