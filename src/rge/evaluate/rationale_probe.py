"""Rationale probe: are the rationales a model writes right, and does P@1 follow them?

Issue 12 item 2 (the mechanism variable of the embedded study): per task, the query-side
rationales that reasoning-mode evaluation writes (``{task}.rationales.jsonl``, see
``rge.stages.embed_eval``) are scored against the synthetic benchmark's scene sidecar
(``rge.data.synthetic.read_sidecar``):

- *description* right: the first "left is C S , right is C S" the rationale writes
  (``rge.data.scenes.parse_description``) names all four attributes of the row's scene;
- *answer* right: the text after that description (all of it when none parses) states what
  the query asks for, per fact kind of the sidecar (the same facts the ``scene`` oracle
  writes its clause from, ``rge.rationale.scene``):

  ========  =======================================================================
  classify  the stored label ("red circle")
  color_of  the stored colour is the last colour named; shape_of: the same for shapes
  describe  both object labels, left one first (text->image and image->text)
  locate    the target's side is the last side named
  refer     the target's label and side, and not the other side
  modify    a second description that names all four attributes of the edited scene
  ========  =======================================================================

and P@1 is split by right / wrong rationale using the per-query correctness of
``{task}.predictions.jsonl``. No model is run; pure Python.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Mapping
from pathlib import PurePath
from typing import Any

from rge.data.scenes import (
    ATTRIBUTES,
    COLORS,
    SHAPES,
    SIDES,
    object_name,
    other_side,
    parse_description,
    scene_attributes,
)
from rge.io import read_jsonl

RATIONALE_FIELDS = ("key", "side", "rationale", "n_tokens", "forced")
_DESCRIPTION = re.compile(r"left is \w+ \w+ , right is \w+ \w+")


def _word(text: str, phrase: str) -> int:
    """Start of the first whole-word occurrence of ``phrase`` in ``text`` (-1 if none)."""
    m = re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text)
    return m.start() if m else -1


def _has(text: str, phrase: str) -> bool:
    return _word(text, phrase) >= 0


def _ordered(text: str, first: str, second: str) -> bool:
    i = _word(text, first)
    return i >= 0 and _word(text[i + len(first) :], second) >= 0


def _side_only(text: str, side: str) -> bool:
    return _has(text, side) and not _has(text, other_side(side))


def _last_word(text: str, words: Collection[str]) -> str | None:
    """The last of ``words`` that ``text`` names (whole words), or None."""
    found = re.findall(rf"(?<!\w)({'|'.join(map(re.escape, words))})(?!\w)", text)
    return found[-1] if found else None


def _modified(text: str, rec: dict) -> bool:
    return parse_description(text) == scene_attributes(rec["fact"]["target_scene"])


ANSWER_CHECKS: dict[str, Callable[[str, dict], bool]] = {
    "classify": lambda t, r: _has(t, r["target_text"]),
    # the colour / shape the rationale ends on: a clause may name the other object's on the way
    "color_of": lambda t, r: _last_word(t, COLORS) == r["target_text"],
    "shape_of": lambda t, r: _last_word(t, SHAPES) == r["target_text"],
    "describe": lambda t, r: _ordered(
        t, object_name(r["scene"]["left"]), object_name(r["scene"]["right"])
    ),
    # the side it ends on ("... left no , right yes , so the crop shows the right object")
    "locate": lambda t, r: _last_word(t, SIDES) == r["fact"]["side"],
    "refer": lambda t, r: (
        _side_only(t, r["fact"]["side"]) and _has(t, object_name(r["scene"][r["fact"]["side"]]))
    ),
    "modify": _modified,
}


def score_rationale(rationale: str, rec: Mapping[str, Any]) -> dict[str, bool]:
    """``{"description": bool, "answer": bool}`` of one rationale against its sidecar record.

    Raises:
        ValueError: the record has no scene or an unknown / missing fact kind (names the key).
    """
    try:
        truth, check = scene_attributes(rec["scene"]), ANSWER_CHECKS[rec["fact"]["kind"]]
    except (KeyError, TypeError) as err:
        raise ValueError(f"sidecar row {rec.get('key')!r}: no scene or known fact ({err})") from err
    m = _DESCRIPTION.search(rationale)
    got = parse_description(rationale)
    described = all(got[a] == truth[a] for a in ATTRIBUTES)
    rest = rationale[m.end() :] if m else rationale
    return {"description": described, "answer": bool(check(rest, dict(rec)))}


def read_rationales(path: str | os.PathLike) -> list[dict]:
    """Rows of a ``{task}.rationales.jsonl``; raises ValueError naming the file, row and field."""
    rows = read_jsonl(path)
    for i, row in enumerate(rows):
        missing = [f for f in RATIONALE_FIELDS if f not in row]
        if missing:
            raise ValueError(f"{path}: row {i} lacks {missing}")
    return rows


def read_correctness(path: str | os.PathLike) -> dict[str, bool]:
    """``{row key: correct}`` from a ``{task}.predictions.jsonl`` (ValueError naming the row)."""
    out = {}
    for i, row in enumerate(read_jsonl(path)):
        if "key" not in row or "correct" not in row:
            raise ValueError(f"{path}: row {i} lacks key or correct")
        out[row["key"]] = bool(row["correct"])
    return out


def _resolve(
    records: list[dict], sidecar: Mapping[str, dict], query_texts: Mapping[str, str] | None
) -> dict[str, str]:
    """Row key -> its rationale. Evaluation writes one record per unique query item (first
    row's key), so a row repeating an earlier row's text and image is found by them."""
    queries = [r for r in records if r["side"] == "query"]
    by_key = {r["key"]: r["rationale"] for r in queries}
    by_item = {(r.get("text"), PurePath(r.get("image") or "").name): r for r in queries}
    out = {}
    for key, rec in sidecar.items():
        if key in by_key:
            out[key] = by_key[key]
            continue
        text = None if query_texts is None else query_texts.get(key)
        hit = by_item.get((text, PurePath(rec.get("qry_image_path") or "").name))
        if hit is None:
            raise ValueError(
                f"row {key!r}: no query rationale under its key"
                + ("" if query_texts else " (pass query_texts to find a deduplicated one)")
            )
        out[key] = hit["rationale"]
    return out


def _share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _split(correct: Mapping[str, bool], keys: list[str], flags: dict[str, dict], what: str):
    right = [correct[k] for k in keys if flags[k][what]]
    wrong = [correct[k] for k in keys if not flags[k][what]]
    return {
        f"p_at_1_{what}_right": _share(right),
        f"n_{what}_right": len(right),
        f"p_at_1_{what}_wrong": _share(wrong),
        f"n_{what}_wrong": len(wrong),
    }


def rationale_probe(
    records: list[dict],
    sidecar: Mapping[str, dict],
    correct: Mapping[str, bool] | None = None,
    *,
    query_texts: Mapping[str, str] | None = None,
) -> dict:
    """Score one task's query rationales; split P@1 by right / wrong rationale.

    Args:
        records: rows of ``{task}.rationales.jsonl`` (target-side rows are ignored).
        sidecar: ``{row key: record}`` of the task's evaluation rows (``read_sidecar``).
        correct: ``{row key: bool}`` per-query correctness (``read_correctness``); every row of
            ``sidecar`` must have one. None skips the P@1 split.
        query_texts: ``{row key: query text}``, needed only when evaluation deduplicated rows.

    Returns:
        ``{"n_queries", "description_correct", "answer_correct" (fractions in [0, 1]),
        "rows": {key: {"description", "answer"}}}`` plus, with ``correct``, ``"p_at_1"`` and
        for each of description / answer ``p_at_1_<what>_right``, ``n_<what>_right``,
        ``p_at_1_<what>_wrong``, ``n_<what>_wrong`` (P@1 None where a group is empty).

    Raises:
        ValueError: a row without a rationale, a correctness flag or a known fact kind.
    """
    rationales = _resolve(records, sidecar, query_texts)
    flags = {k: score_rationale(rationales[k], rec) for k, rec in sidecar.items()}
    keys = list(sidecar)
    out: dict[str, Any] = {
        "n_queries": len(keys),
        "description_correct": _share([flags[k]["description"] for k in keys]),
        "answer_correct": _share([flags[k]["answer"] for k in keys]),
    }
    if correct is not None:
        missing = [k for k in keys if k not in correct]
        if missing:
            raise ValueError(f"no correctness for rows {missing[:5]} ({len(missing)} in all)")
        out["p_at_1"] = _share([correct[k] for k in keys])
        for what in ("description", "answer"):
            out.update(_split(correct, keys, flags, what))
    out["rows"] = flags
    return out


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


SUMMARY_KEYS = (
    "description_correct",
    "answer_correct",
    "p_at_1",
    "p_at_1_answer_right",
    "p_at_1_answer_wrong",
)


def probe_evaluation(
    evaluation: str | os.PathLike,
    scenes: str | os.PathLike,
    tasks: list[str],
    query_texts: Mapping[str, Mapping[str, str]] | None = None,
) -> dict:
    """The rationale probe of one reasoning-mode evaluation folder (``embed_eval`` output).

    Args:
        evaluation: folder with ``{task}.rationales.jsonl`` and ``{task}.predictions.jsonl``.
        scenes: the synthetic benchmark folder (``make_synthetic``); its sidecars are
            ``scenes/eval/{task}.jsonl``.
        tasks: the tasks to score (those the evaluation scored).
        query_texts: ``{task: {row key: query text}}`` for deduplicated queries (optional).

    Returns:
        ``{"tasks": {task: rationale_probe(...) output}, "mean": {key: mean over tasks}}`` with
        the ``SUMMARY_KEYS`` (fractions in [0, 1]; a task where a group is empty is left out
        of that key's mean, None when no task has it).

    Raises:
        FileNotFoundError: a task's sidecar, rationales or predictions file is missing.
        ValueError: as ``rationale_probe`` (names the row).
    """
    from rge.data.synthetic import read_sidecar

    folder, out = PurePath(evaluation), {}
    for task in tasks:
        sidecar = read_sidecar(PurePath(scenes) / "scenes" / "eval" / f"{task}.jsonl")
        records = read_rationales(folder / f"{task}.rationales.jsonl")
        correct = read_correctness(folder / f"{task}.predictions.jsonl")
        texts = (query_texts or {}).get(task)
        try:
            out[task] = rationale_probe(records, sidecar, correct, query_texts=texts)
        except ValueError as err:
            raise ValueError(f"{folder / task}: {err}") from err
    mean = {k: _mean([t[k] for t in out.values()]) for k in SUMMARY_KEYS}
    return {"tasks": out, "mean": mean}


TRAIN_WINDOW = 50  # final training steps whose self rationales ``probe_training`` scores


def probe_training(
    log_rows: list[dict], scenes: str | os.PathLike, *, window: int = TRAIN_WINDOW
) -> dict:
    """Training-row rationale correctness of a q_self run (issue 12 item 6): the rationales the
    model wrote for its own training pairs in the final ``window`` steps, scored against the
    training split's scene sidecars (``scenes/train/{subset}.jsonl``). A training-split
    measure: it never reads an evaluation row.

    Args:
        log_rows: rows of the run's ``train_log.jsonl`` (``rge.train.loop``); rows with
            ``self_rationales`` ([[pair key, text]]) are used, others ignored.
        scenes: the synthetic benchmark folder (``make_synthetic``).
        window: how many of the last steps with rationales to score.

    Returns:
        ``{"steps": [first, last] step scored, "n_rationales", "subsets": {subset: {"n",
        "description_correct", "answer_correct"}}, "description_correct", "answer_correct"}``
        (fractions in [0, 1]; the two means are over subsets; None where nothing was logged).

    Raises:
        FileNotFoundError: a subset's training sidecar is missing.
        ValueError: a logged key that its sidecar does not have (names the key and step).
    """
    from rge.data.synthetic import read_sidecar

    rows = [r for r in log_rows if r.get("self_rationales")][-window:]
    flags: dict[str, list[dict[str, bool]]] = {}
    sidecars: dict[str, dict] = {}
    for row in rows:
        subset = row["subset"]
        if subset not in sidecars:
            sidecars[subset] = read_sidecar(
                PurePath(scenes) / "scenes" / "train" / f"{subset}.jsonl"
            )
        for key, text in row["self_rationales"]:
            if key not in sidecars[subset]:
                raise ValueError(f"step {row['step']}: pair {key!r} is not in {subset}'s sidecar")
            flags.setdefault(subset, []).append(score_rationale(text, sidecars[subset][key]))
    subsets = {
        s: {
            "n": len(f),
            "description_correct": _share([x["description"] for x in f]),
            "answer_correct": _share([x["answer"] for x in f]),
        }
        for s, f in sorted(flags.items())
    }
    return {
        "steps": [rows[0]["step"], rows[-1]["step"]] if rows else None,
        "n_rationales": sum(v["n"] for v in subsets.values()),
        "subsets": subsets,
        "description_correct": _mean([v["description_correct"] for v in subsets.values()]),
        "answer_correct": _mean([v["answer_correct"] for v in subsets.values()]),
    }
