"""The command line every stage shares.

Each Snakemake rule runs ``python -m rge.stages.<rule>`` with

    --cfg JSON            the config slice the stage needs (Snakemake tracks it as a param,
                          so changing one run's settings reruns only that run's jobs)
    --input  NAME=PATH    named inputs  (repeatable; PATH may be repeated NAME=... for lists)
    --output NAME=PATH    named outputs (repeatable)
    --log PATH            log file (also echoed to stderr)

``stage_main`` parses these, sets up logging and calls ``run(cfg, inputs, outputs)``.
Tests call ``main([...])`` with the same arguments.

Console: the job's config goes to stderr as one line (stage, number of keys, a short hash);
the full JSON only to the log file. Ctrl-C ends the job with one line and exit status 130
(128 + SIGINT, what a shell reports), not a traceback. DeepSpeed's "Setting accelerator to
CPU" warning is dropped: transformers' ``save_pretrained`` imports DeepSpeed (through
accelerate) in every job that saves a model, and on a CPU job that is the expected device.

Threads: ``THREAD_ENV`` is the OpenMP setting every stage process should start with; see
``apply_thread_policy``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shlex
import sys
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

# OMP_WAIT_POLICY=PASSIVE: an OpenMP thread that waits at a barrier sleeps instead of spinning.
# With the default (spin first), a two-thread torch job whose second core is busy with another
# program spins on one core while its partner waits for a time slice, at every parallel region
# of every small op: 5-20x slower than one thread on a busy 2-core machine, 1.1-1.5x with
# PASSIVE (a tiny-backbone training step, measured with a process spinning on one core).
THREAD_ENV: dict[str, str] = {"OMP_WAIT_POLICY": "PASSIVE"}


def apply_thread_policy(env: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """Put ``THREAD_ENV`` into ``env`` where the user has not set those variables.

    libgomp reads them once, when torch loads it: this must run before ``import torch`` in the
    process (``stage_main`` also calls it, which covers stages that import torch lazily and any
    process a stage starts). Returns the variables it set.
    """
    added = {k: v for k, v in THREAD_ENV.items() if k not in env}
    env.update(added)
    return added


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
    or several; no ``train_summary`` when every row's run is seeded: their training facts are
    in the ``pool_seeds`` summaries), ``probe`` and ``paper``."""
    return {
        "summaries": as_list(inputs.summary),
        "train_summaries": as_list(inputs.get("train_summary", [])),
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


# Records logged with extra={FILE_ONLY: True} reach the log file but not the terminal.
FILE_ONLY = "file_only"


def _not_cpu_accelerator_notice(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("Setting accelerator to CPU")


def setup_logging(log: Path | None) -> None:
    """Log to stderr and, if given, to ``log`` (created with its parent folder)."""
    # DeepSpeed's own logger (name "DeepSpeed", stdout, no propagation) keeps this filter when
    # DeepSpeed configures it later; addFilter ignores a filter that is already there.
    logging.getLogger("DeepSpeed").addFilter(_not_cpu_accelerator_notice)
    console = logging.StreamHandler(sys.stderr)
    console.addFilter(lambda record: not getattr(record, FILE_ONLY, False))
    handlers: list[logging.Handler] = [console]
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
    """Parse argv, set up logging and call ``run(cfg, inputs, outputs)``.

    Raises:
        SystemExit(130): on Ctrl-C (KeyboardInterrupt), after one line on stderr.
    """
    cfg, inputs, outputs, log = parse(argv, doc)
    apply_thread_policy()
    setup_logging(log)
    module = _module_name(run)
    stage = module.rpartition(".")[2]
    logger = logging.getLogger("rge.stage")
    _log_config(logger, stage, cfg, log)
    command = ["python", "-m", module, *(sys.argv[1:] if argv is None else argv)]
    logger.info("command: %s", shlex.join(command), extra={FILE_ONLY: True})
    try:
        return run(cfg, inputs, outputs)
    except KeyboardInterrupt:
        # One line instead of a traceback; atomic writes leave no half-written output.
        print(f"{stage}: interrupted (Ctrl-C)", file=sys.stderr, flush=True)
        raise SystemExit(130) from None
    except Exception:
        # The traceback goes to the rule's log file too, where Snakemake points the user.
        logger.exception("stage failed")
        raise


def _module_name(run: Callable) -> str:
    """``rge.stages.<rule>`` of ``run``, also when it was started as ``python -m`` (``__main__``)
    or is a ``functools.partial`` of the stage's ``run`` (whose ``__module__`` is functools)."""
    run = getattr(run, "func", run)
    if run.__module__ != "__main__":
        return run.__module__
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    return spec.name if spec is not None else Path(sys.argv[0]).stem


def _log_config(logger: logging.Logger, stage: str, cfg: dict, log: Path | None) -> None:
    """One line on the terminal; the whole config (and command line) in the log file only."""
    text = json.dumps(cfg, sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    where = f", full config in {log}" if log is not None else ""
    logger.info("%s: config of %d keys (sha256 %s)%s", stage, len(cfg), digest, where)
    logger.info("config: %s", text, extra={FILE_ONLY: True})
