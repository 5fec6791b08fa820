"""The study report page (one self-contained HTML file) assembled from the study's outputs.

Sections: the claims judged by criteria fixed before the run (``claims.md``, first: what the
study shows), every rendered table given (paper Tables 1-4, 6, 7, 15), Figure 4 (§3.5 leakage
curves), per-run diagnostics (backbone probe accuracy and final training InfoNCE against
ln(batch) / ln(candidates): "cannot see" vs "shortcut"), training curves per run, rationale
statistics per run and meta-task, the rationale probe per run (rationales right against the
scenes, P@1 on right vs wrong rationales), and worked examples per meta-task in the manner of paper
Table 5 (query, the RGE run's rationale, baseline vs RGE top-1 candidate, ground truth). A
section whose inputs are missing is left out and named in the header.

The page is built from ``files``: {input name: [paths]}, the names of the ``report`` stage's
inputs (``claims``, ``table``, ``figure4``, ``rationale_probe``, ``train_log``, ``summary``, ``probe``, ``embed_eval``,
``scores``, ``predictions``, ``rationales``, ``eval_task``; see that stage's docstring).
"""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rge.data.mmeb import load_eval_rows
from rge.data.records import EvalRow
from rge.io import read_json, read_jsonl
from rge.report import curves, examples
from rge.report.html import esc, figure, file_uri, markdown_to_html, page, table_html

if TYPE_CHECKING:
    from rge.config import PageView

# {input name: its paths}; an absent name has no files
Files = Mapping[str, Sequence[Path]]

HONESTY = (
    "Rows marked ours are measured by this pipeline in the {study!r} study; they are not the "
    "paper's numbers. Paper numbers appear only in rows labelled 'paper', for orientation."
)


def git_commit() -> str:
    """HEAD of the repository holding this code (else of the working directory), or "unknown";
    "+ local changes" is appended when tracked files differ from it."""
    for where in (Path(__file__).parent, Path.cwd()):
        try:
            head = subprocess.run(
                ["git", "-C", str(where), "rev-parse", "HEAD"],
                capture_output=True, text=True, timeout=10, check=True,
            ).stdout.strip()  # fmt: skip
            dirty = subprocess.run(
                ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True, text=True, timeout=30, check=False,
            ).stdout.strip()  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            continue
        return head + (" + local changes" if dirty else "")
    return "unknown"


EVAL_GLOBS = {
    "scores": "*.json",
    "predictions": "*.predictions.jsonl",
    "rationales": "*.rationales.jsonl",
}


def eval_files(files: Files, kind: str) -> list[Path]:
    """The ``kind`` files named directly plus those inside every ``embed_eval`` directory."""
    found = list(files.get(kind, []))
    for folder in files.get("embed_eval", []):
        if not folder.is_dir():
            raise NotADirectoryError(f"report: input embed_eval={folder} is not a directory")
        found += sorted(folder.glob(EVAL_GLOBS[kind]))
    return found


def eval_identity(path: Path, kind: str) -> dict:
    """(run, mode, task, meta_task) of an embed_eval ``{task}.{kind}.jsonl`` file."""
    stem = path.name.removesuffix(f".{kind}.jsonl")
    score = path.with_name(f"{stem}.json")
    if score.is_file():
        s = read_json(score)
        return {"run": s["run"], "mode": s["mode"], "task": s["task"], "meta": s.get("meta_task")}
    return {"run": path.parent.parent.name, "mode": path.parent.name, "task": stem, "meta": None}


class Study:
    """The report's view plus helpers to label and order runs."""

    def __init__(self, cfg: PageView):
        self.cfg = cfg
        self.runs: Mapping = cfg.runs
        self.tasks = {
            t: (v["meta_task"] if isinstance(v, Mapping) else v) for t, v in cfg.tasks.items()
        }

    def label(self, run: str) -> str:
        """A run's display label."""
        return (self.runs.get(run) or {}).get("label", run)

    def order(self, run: str) -> tuple[int, str]:
        """Sort key: runs in cfg order first, then by name."""
        names = list(self.runs)
        return (names.index(run) if run in names else len(names), run)


# ----------------------------------------------------------------------------- sections


def tables_section(files: list[Path], tested: Mapping[str, list[str]] | None = None) -> str:
    """Every rendered table, with its own title, header lines and notes; first the claims it
    tests (``tested``: {table name = its folder, e.g. "table6": ["claim (verdict)", ...]})."""
    parts = []
    for f in files:
        title, body = markdown_to_html(f.read_text(), str(f))
        claims = (tested or {}).get(f.parent.name)
        line = (
            f"<p><b>Claims this table tests:</b> {esc('; '.join(claims))}</p>\n" if claims else ""
        )
        parts.append(f"<h3>{esc(title or f.stem)}</h3>\n{line}{body}")
    return "\n".join(parts)


def tested_claims(files: list[Path]) -> dict[str, list[str]]:
    """{table: ["claim (verdict)", ...]} from the claims stage's ``claims.json`` (its rows'
    ``tables``)."""
    out: dict[str, list[str]] = defaultdict(list)
    for f in files:
        for row in read_json(f)["claims"]:
            for table in row.get("tables", []):
                out[table].append(f"{row['claim']} ({row['verdict']})")
    return dict(out)


def claims_section(files: list[Path]) -> str:
    """The claims file (``claims.md``: the minimum detectable effects, then the verdicts),
    each of its ``# title`` blocks as a titled table (a ``claims.json`` given too is skipped)."""
    parts = []
    for f in (f for f in files if f.suffix == ".md"):
        for block in re.split(r"(?m)^(?=# )", f.read_text()):
            if block.strip():
                title, body = markdown_to_html(block, str(f))
                parts.append(f"<h3>{esc(title or f.stem)}</h3>\n{body}")
    return "\n".join(parts)


PROBE_COLUMNS = ("description_correct", "answer_correct", "p_at_1", "p_at_1_answer_right",
                 "p_at_1_answer_wrong")  # fmt: skip


def rationale_probe_section(study: Study, files: list[Path]) -> str:
    """Per probed run (reasoning mode): how often its rationales describe the scene and state
    the answer right, and P@1 on rows whose rationale is right vs wrong (means over tasks)."""
    probes = sorted((read_json(f) for f in files), key=lambda p: study.order(p["run"]))
    rows = [
        [study.label(p["run"]), p["mode"], len(p["tasks"]),
         *[None if p["mean"].get(k) is None else 100.0 * p["mean"][k] for k in PROBE_COLUMNS]]
        for p in probes
    ]  # fmt: skip
    if not rows:
        return ""
    cols = ["run", "mode", "tasks", "description right %", "answer right %", "P@1 %",
            "P@1 % (answer right)", "P@1 % (answer wrong)"]  # fmt: skip
    return table_html(cols, rows, digits=1) + (
        '<p class="note">Rationale probe (rge.evaluate.rationale_probe): each query rationale '
        "scored against the synthetic scene it was written about; means over tasks (a task "
        "whose rationales are all right or all wrong has no P@1 on the other side).</p>"
    )


def curves_section(study: Study, logs: list[Path], summary_files: list[Path]) -> str:
    """Training curves per run, each log read with the summary in its folder."""
    by_dir = {f.parent.resolve(): f for f in summary_files}
    loaded = [curves.read_curve(p, by_dir.get(p.parent.resolve())) for p in logs]
    loaded.sort(key=lambda c: study.order(c.run))
    return curves.curves_html(loaded, {c.run: study.label(c.run) for c in loaded})


def examples_section(study: Study, files: Files) -> str:
    """Per meta-task, a few rows with the baseline's and the RGE run's top-1 candidates."""
    cfg = study.cfg
    sides = {
        "baseline": (cfg.baseline_run, cfg.baseline_mode),
        "rge": (cfg.rge_run, cfg.rge_mode),
    }
    task_dirs = {d.name: d for d in files.get("eval_task", [])}
    preds: dict[str, dict[str, dict]] = defaultdict(dict)  # task -> side -> {key: record}
    meta_of = dict(study.tasks)
    for f in eval_files(files, "predictions"):
        ident = eval_identity(f, "predictions")
        for side, run_mode in sides.items():
            if (ident["run"], ident["mode"]) == run_mode and ident["task"] in task_dirs:
                preds[ident["task"]][side] = {r["key"]: r for r in read_jsonl(f)}
                meta_of.setdefault(ident["task"], ident["meta"])
    rationales: dict[str, str] = {}
    for f in eval_files(files, "rationales"):
        ident = eval_identity(f, "rationales")
        if (ident["run"], ident["mode"]) == sides["rge"]:
            rationales |= {r["key"]: r["rationale"] for r in read_jsonl(f) if _query_side(r)}
    order = [t for t in study.tasks if t in preds] + sorted(set(preds) - set(study.tasks))
    labels = {
        side: f"{study.label(run)} ({mode})"
        for side, (run, mode) in sides.items()
        if any(side in p for p in preds.values())
    }
    cache: dict[str, list[EvalRow]] = {}

    def rows_of(task: str) -> list[EvalRow]:
        if task not in cache:
            cache[task] = eval_rows(task_dirs[task], task)
        return cache[task]

    return examples.examples_html(
        {t: preds[t] for t in order}, rationales, rows_of, meta_of, labels,
        n=cfg.examples_per_task, px=cfg.thumbnail_px,
    )  # fmt: skip


def _query_side(record: dict) -> bool:
    return record.get("side", "query") == "query"


def eval_rows(folder: Path, task: str) -> list[EvalRow]:
    """A fetched task's rows, checked to be keyed 0..n-1 (predictions index them by key)."""
    rows = load_eval_rows(folder, task, check_images=False).records
    if any(examples.row_index(r.key) != i for i, r in enumerate(rows)):
        raise ValueError(f"{folder}: row keys of {task} are not 0..n-1")
    return rows


# ----------------------------------------------------------------------------- the page


def header_html(study: str, commit: str, left_out: list[str]) -> str:
    """Study, date, commit, the honesty line and the sections left out for want of input."""
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = (
        f"<p>Study <code>{esc(study)}</code> · generated {date} · git commit "
        f"<code>{esc(commit)}</code></p>\n"
        f'<p class="honesty">{esc(HONESTY.format(study=study))}</p>'
    )
    if left_out:
        out += f'<p class="note">Left out (no input): {esc(", ".join(left_out))}</p>'
    return out


@dataclass(frozen=True)
class Page:
    """The assembled report: its HTML, the anchors of the sections it holds, and the titles of
    the sections left out for want of input."""

    html: str
    sections: list[str]
    left_out: list[str]


def build_page(cfg: PageView, files: Files, commit: str) -> Page:
    """Assemble the page from whatever files were given.

    Args:
        cfg: the ``report`` stage's view (``rge.config.PageView``; see the stage's docstring).
        files: {input name: [paths]} (module docstring); every name is optional.
        commit: the code version printed in the header (e.g. ``git_commit()``).

    Returns:
        The page; nothing is written.

    Raises:
        KeyError: a score/summary lacks a key the page shows.
        NotADirectoryError: an ``embed_eval`` input is not a directory.
        ValueError: a fetched task's row keys are not 0..n-1.
    """
    study = Study(cfg)
    probe_file = list(files.get("probe", []))
    probe = read_json(probe_file[0]) if probe_file else None
    summary_files = list(files.get("summary", []))
    summaries = {curves.run_name(f.parent, s): s for f in summary_files for s in [read_json(f)]}
    fig4 = list(files.get("figure4", []))
    ordered = dict(sorted(summaries.items(), key=lambda kv: study.order(kv[0])))
    labels = {run: study.label(run) for run in ordered}
    scores = sorted(
        (read_json(f) for f in eval_files(files, "scores")), key=lambda s: study.order(s["run"])
    )
    candidates = [
        ("claims", "Claims", claims_section(list(files.get("claims", [])))),
        ("tables", "Tables", tables_section(list(files.get("table", [])), tested_claims(
            [f for f in files.get("claims", []) if f.suffix == ".json"]))),
        ("figure4", "Figure 4", figure(file_uri(fig4[0]), "Figure 4") if fig4 else ""),
        ("diagnostics", "Can it see, did it learn?",
         curves.diagnostics_html(ordered, labels, probe) if summaries or probe else ""),
        ("curves", "Training curves",
         curves_section(study, list(files.get("train_log", [])), summary_files)),
        ("rationales", "Rationale statistics",
         examples.rationale_stats_html(scores, {s["run"]: study.label(s["run"]) for s in scores})),
        ("rationale_probe", "Rationale probe",
         rationale_probe_section(study, list(files.get("rationale_probe", [])))),
        ("examples", "Examples", examples_section(study, files)),
    ]  # fmt: skip
    sections = [s for s in candidates if s[2]]
    left_out = [title for _, title, body in candidates if not body]
    header = header_html(cfg.study, commit, left_out)
    html_text = page(f"RGE study report: {cfg.study}", header, sections)
    return Page(html_text, [anchor for anchor, _, _ in sections], left_out)
