"""DVC's metrics: one run x mode's headline MMEB scores, in %, in one small file.

`dvc metrics show` and `dvc exp show` list every number of every metrics file; the
``score_mmeb`` summary holds every task's counts (hundreds of columns per study), this file
only the study-level scores the paper's tables report (paper Table 2: overall, IND, OOD and the
four meta-tasks), as the tables print them (%, 0.1).

Config keys read (cfg slice):
    run (str), mode (str): the run and mode (written into the file).
Inputs:
    summary: the ``score_mmeb`` summary JSON (``overall``, ``IND``, ``OOD`` in [0, 1], and
        ``meta_task`` {name: mean in [0, 1]}).
Outputs:
    metrics: JSON {run, mode, overall, IND, OOD, <meta-task>: ...}, scores in % rounded to 0.1
        (a score the summary lacks, e.g. OOD of a run evaluated on IND tasks only, is left out).
"""

from __future__ import annotations

from collections.abc import Mapping

from rge.io import read_json, write_json
from rge.stages._cli import Paths, stage_main

HEADLINE = ("overall", "IND", "OOD")


def headline(summary: Mapping, run: str, mode: str) -> dict:
    """The headline scores of a ``score_mmeb`` summary in % (0.1); raises KeyError naming a
    summary without ``overall``."""
    if "overall" not in summary:
        raise KeyError(f"score summary of {run} ({mode}) has no 'overall' score")
    out: dict = {"run": run, "mode": mode}
    scores = {k: summary.get(k) for k in HEADLINE} | dict(summary.get("meta_task") or {})
    for name, value in scores.items():
        if value is not None:
            out[name] = round(100.0 * float(value), 1)
    return out


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Write the headline scores of one run x mode."""
    result = headline(read_json(inputs.summary), cfg["run"], cfg["mode"])
    write_json(outputs.metrics, result)
    return result


def main(argv: list[str] | None = None):
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
