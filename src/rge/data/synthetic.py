"""The synthetic benchmark: MMEB-style tasks over two-object scenes, in MMEB's on-disk layout.

``write_benchmark`` writes, deterministically from a seed::

    MMEB-train/<Subset>/original-00000-of-00001.parquet, MMEB-train/images_zip/<Subset>.zip
    MMEB-eval/<Task>/test-00000-of-00001.parquet,        MMEB-eval/images.zip
    retrieval/<Bench>/data/test-00000-of-00001.parquet   (royokong Flickr/COCO layout)
    scenes/{train,eval,retrieval}/<name>.jsonl           scene metadata sidecar
    RGE/src/{instruction_replacements,instruction_replacements-eval,candidate_replacements}.yaml
                                                         rewrite tables (RGE release schema)
    manifest.json                                        sizes, seed, task registry

so it is read back by the same loaders as the real data (``rge.data.mmeb``,
``rge.data.retrieval``). The sidecar (one line per row, keyed by the row key, with the image
paths as written in the parquet) carries what the ``scene`` rationale backend needs: the scene,
the task-specific fact asked about and the target; it is never part of the MMEB columns.

The rewrite tables mirror the RGE release repository's layout (``src/*.yaml``, read by
``rge.data.protocol``) with entries for the synthetic tasks, so the ``rge_release`` prompt
protocol runs end to end on this benchmark: queries get a task-specific instruction in the
release's style, candidates a "Summarize ... in one word" form (a ``value_map`` for colour
answers, substring rewrites for image targets, prefixes for labels and captions). The train
and eval query tables differ in one entry (as the release's do); SynShapeQA has no candidate
entry, so the no-entry path (trailing newline only) runs too.

Query texts end with an instruction or question; targets are plain labels/answers/captions or
an image with a short fixed representation text, as in MMEB. Eval candidates: ground truth
first, then the hardest distractor (the other object's label, the unmodified image, ...), then
random ones; all candidates of a row are distinct and none of them also fits the query.
"""

from __future__ import annotations

import copy
import hashlib
import io
import itertools
import json
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rge.data.mmeb import write_eval_parquet, write_readme, write_train_parquet, write_zip
from rge.data.protocol import RELEASE_DIR, TABLE_FILES, Rule, dump_table
from rge.data.records import IMAGE_TOKEN
from rge.data.retrieval import write_retrieval_repo
from rge.data.scenes import (
    COLORS,
    SHAPES,
    SIDES,
    object_name,
    other_side,
    render_object,
    render_scene,
    sample_scene,
    with_article,
)
from rge.io import read_jsonl, write_json, write_jsonl


@dataclass(frozen=True)
class SynTask:
    """One synthetic task: its MMEB meta-task, IND/OOD split and modalities."""

    name: str
    meta_task: str  # classification | vqa | retrieval | grounding
    split: str  # IND (MMEB-train and MMEB-eval) | OOD (MMEB-eval only)
    query_modality: str  # image | text | image+text
    target_modality: str  # text | image
    hard_negative: bool = False  # MMEB-train parquet carries neg_text / neg_image_path


SYNTHETIC_TASKS: dict[str, SynTask] = {
    t.name: t
    for t in (
        SynTask("SynObjects", "classification", "IND", "image", "text", True),
        SynTask("SynColorQA", "vqa", "IND", "image+text", "text", True),
        SynTask("SynCOCO_t2i", "retrieval", "IND", "text", "image"),
        SynTask("SynCOCO_i2t", "retrieval", "IND", "image", "text"),
        SynTask("SynNews_t2i", "retrieval", "IND", "text", "image"),
        SynTask("SynNews_i2t", "retrieval", "IND", "image", "text"),
        SynTask("SynGround", "grounding", "IND", "image+text", "image"),
        SynTask("SynObjectsRight", "classification", "OOD", "image", "text"),
        SynTask("SynShapeQA", "vqa", "OOD", "image+text", "text"),
        SynTask("SynCIRR", "retrieval", "OOD", "image+text", "image"),
        SynTask("SynRefGround", "grounding", "OOD", "image+text", "image"),
    )
}
RETRIEVAL_BENCHES: tuple[str, ...] = ("SynFlickr", "SynCOCO")
IMAGE_TARGET = f"{IMAGE_TOKEN}\nRepresent the given image.\n"
CROP_TARGET = f"{IMAGE_TOKEN}\nRepresent the given cropped image of the object.\n"

COLOR_WORDS: tuple[str, ...] = tuple(COLORS)
PROMPT_DIR = f"RGE/{RELEASE_DIR}"  # the rewrite tables, in the release repository's layout

_SUMMARIZE_IMAGE = Rule(
    original="Represent the given image", replacement="Summarize the given image in one word"
)
_SUMMARIZE_CROP = Rule(
    original="Represent the given cropped image of the object",
    replacement="Summarize the given cropped image of the object in one word",
)
_OBJECTS = Rule(
    original="Identify the object on the", replacement="Identify the category of the object on the"
)
_QUERY_TRAIN: dict[str, Rule] = {
    "SynObjects": _OBJECTS,
    "SynColorQA": Rule(
        original="Look at the image and answer:",
        replacement="Answer a colour question based on the given image:",
    ),
    "SynCOCO_t2i": Rule(
        original="Find an everyday image that fits this caption:",
        replacement="Describe and represent the following caption for everyday image retrieval:",
    ),
    "SynCOCO_i2t": Rule(
        original="Write an everyday caption for the image above.",
        replacement="Describe and represent the above everyday image for caption retrieval.",
    ),
    "SynNews_t2i": Rule(
        original="Retrieve the news photo for this headline:",
        replacement="Describe and represent the following headline for news photo retrieval:",
    ),
    "SynNews_i2t": Rule(
        original="Find the headline that goes with this news photo.",
        replacement="Describe and represent the above news photo for headline retrieval.",
    ),
    "SynGround": Rule(
        original="Select the region of the image holding the object labeled",
        replacement="Describe and focus on the object in the image labeled",
    ),
}
_QUERY_EVAL: dict[str, Rule] = {
    **_QUERY_TRAIN,
    "SynCOCO_t2i": Rule(
        original="Find an everyday image that fits this caption:",
        replacement="Describe and represent the following descriptive caption for everyday "
        "image retrieval:",
    ),
    "SynObjectsRight": _OBJECTS,
    "SynShapeQA": Rule(
        original="Look at the image and answer:",
        replacement="Answer a shape question based on the given image:",
    ),
    "SynCIRR": Rule(
        original="Find a similar image after this edit:",
        replacement="Describe and represent the above image and the following edit for "
        "composed image retrieval:",
    ),
    "SynRefGround": Rule(
        original="Select the region of the image that the phrase describes:",
        replacement="Describe and focus on the object in the image that the phrase describes:",
    ),
}
_CANDIDATE: dict[str, Rule] = {
    "SynObjects": Rule(prefix_add="Summarize the following object category in one word: "),
    "SynObjectsRight": Rule(prefix_add="Summarize the following object category in one word: "),
    "SynColorQA": Rule(
        value_map={c: f"Summarize the following colour in one word: {c}." for c in COLOR_WORDS}
    ),
    "SynCOCO_t2i": _SUMMARIZE_IMAGE,
    "SynNews_t2i": _SUMMARIZE_IMAGE,
    "SynCIRR": _SUMMARIZE_IMAGE,
    "SynCOCO_i2t": Rule(prefix_add="Summarize the following caption in one word: "),
    "SynNews_i2t": Rule(prefix_add="Summarize the following headline in one word: "),
    "SynGround": _SUMMARIZE_CROP,
    "SynRefGround": _SUMMARIZE_CROP,
}  # SynShapeQA: deliberately no entry


def write_prompt_tables(out: str | os.PathLike, tasks: list[str]) -> dict[str, list[str]]:
    """Write the synthetic rewrite tables for ``tasks`` into ``out`` (``TABLE_FILES`` names).

    Returns:
        {table role: the tasks it has entries for}; the train table holds IND tasks only.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ind = [t for t in tasks if SYNTHETIC_TASKS[t].split == "IND"]
    chosen = {
        "train": {t: _QUERY_TRAIN[t] for t in ind if t in _QUERY_TRAIN},
        "eval": {t: _QUERY_EVAL[t] for t in tasks if t in _QUERY_EVAL},
        "candidate": {t: _CANDIDATE[t] for t in tasks if t in _CANDIDATE},
    }
    for role, rules in chosen.items():
        (out / TABLE_FILES[role]).write_text(dump_table(rules), encoding="utf-8")
    return {role: list(rules) for role, rules in chosen.items()}


LABELS: tuple[str, ...] = tuple(f"{c} {s}" for c in COLOR_WORDS for s in SHAPES)
_EVERYDAY = (
    "{a_l} to the left of {a_r}",
    "{a_r} to the right of {a_l}",
    "{a_l} on the left and {a_r} on the right",
    "on the left there is {a_l}, on the right {a_r}",
    "a picture of {a_l} with {a_r} on its right",
    "two shapes side by side: {a_l} first, then {a_r}",
    "{a_r} placed right of {a_l}",
)
_HEADLINES = (
    "{L} seen left of {r}",
    "{R} pictured to the right of {l}",
    "Left: {l}. Right: {r}.",
    "{L} and {r} share the frame, {l} on the left",
)


def _caption(scene: dict, template: str) -> str:
    lab_l, lab_r = object_name(scene["left"]), object_name(scene["right"])
    return template.format(
        a_l=with_article(lab_l),
        a_r=with_article(lab_r),
        l=lab_l,
        r=lab_r,
        L=lab_l.capitalize(),
        R=lab_r.capitalize(),
    )


def _key(scene: dict) -> tuple[str, ...]:
    """What a scene shows (ignoring jitter): two scenes with the same key answer alike."""
    return tuple(scene[s][a] for s in SIDES for a in ("color", "shape"))


@dataclass
class Example:
    """One generated row before it is written: texts, image specs, distractors, facts."""

    query: str
    query_image: tuple | None
    pos: str
    pos_image: tuple | None
    distractors: list[tuple[str, tuple | None]]
    scene: dict
    fact: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- distractors


def _pick_texts(rng: random.Random, pos: str, first: list[str], pool: tuple[str, ...], n: int):
    """``n`` distinct texts != pos: the ``first`` ones, then random ones from ``pool``."""
    out: list[str] = []
    for t in first:
        if t != pos and t not in out and len(out) < n:
            out.append(t)
    rest = [t for t in pool if t != pos and t not in out]
    out += rng.sample(rest, min(n - len(out), len(rest)))
    return [(t, None) for t in out]


def _pick_scenes(rng: random.Random, gt: dict, first: list[dict], n: int) -> list[dict]:
    """``n`` scenes showing something else than ``gt`` and each other (``first`` ones first)."""
    seen, out = {_key(gt)}, []
    # Lazily drawn, so a row asks the generator for only as many scenes as it needs.
    randoms = (sample_scene(rng) for _ in range(50 * n + 50))
    for s in itertools.chain(first, randoms):
        if len(out) == n:
            break
        if _key(s) not in seen and s["left"]["color"] != s["right"]["color"]:
            seen.add(_key(s))
            out.append(s)
    return out


def _pick_crops(rng: random.Random, scene: dict, side: str, n: int) -> list[tuple]:
    """``n`` object crops with labels other than the target's: the other object first."""
    seen, out = {object_name(scene[side])}, []
    first = [("crop", scene, other_side(side))]
    randoms = (("crop", sample_scene(rng), rng.choice(SIDES)) for _ in range(50 * n + 50))
    for spec in itertools.chain(first, randoms):
        if len(out) == n:
            break
        if object_name(spec[1][spec[2]]) not in seen:
            seen.add(object_name(spec[1][spec[2]]))
            out.append(spec)
    return out


# ----------------------------------------------------------------------------- task builders


def _classify(side: str) -> Callable[[random.Random, int], Example]:
    def build(rng: random.Random, n: int) -> Example:
        s = sample_scene(rng)
        obj, oth = s[side], s[other_side(side)]
        pos = object_name(obj)
        first = [
            object_name(oth),
            f"{oth['color']} {obj['shape']}",
            f"{obj['color']} {oth['shape']}",
        ]
        q = f"{IMAGE_TOKEN}\nIdentify the object on the {side} of the image.\n"
        d = _pick_texts(rng, pos, first, LABELS, n)
        return Example(q, ("scene", s), pos, None, d, s, {"kind": "classify", "side": side})

    return build


def _color_qa(rng: random.Random, n: int) -> Example:
    s = sample_scene(rng)
    refs = ["left", "right", "next_to"] + (
        ["shape"] if s["left"]["shape"] != s["right"]["shape"] else []
    )
    ref, side = rng.choice(refs), rng.choice(SIDES)
    question = {
        "left": "What colour is the object on the left?",
        "right": "What colour is the object on the right?",
        "shape": f"What colour is the {s[side]['shape']}?",
        "next_to": f"What colour is the object next to the {s[other_side(side)]['color']} one?",
    }[ref]
    side = ref if ref in SIDES else side
    q = f"{IMAGE_TOKEN}\nLook at the image and answer: {question}\n"
    pos = s[side]["color"]
    d = _pick_texts(rng, pos, [s[other_side(side)]["color"]], COLOR_WORDS, n)
    return Example(q, ("scene", s), pos, None, d, s, {"kind": "color_of", "ref": ref, "side": side})


def _shape_qa(rng: random.Random, n: int) -> Example:
    s = sample_scene(rng)
    side = rng.choice(SIDES)
    q = f"{IMAGE_TOKEN}\nLook at the image and answer: What shape is the {s[side]['color']} object?\n"
    pos = s[side]["shape"]
    d = _pick_texts(rng, pos, [s[other_side(side)]["shape"]], SHAPES, n)
    return Example(q, ("scene", s), pos, None, d, s, {"kind": "shape_of", "side": side})


def _swap(s: dict) -> dict:
    return {"left": s["right"], "right": s["left"], "bg": s["bg"]}


def _t2i(templates: tuple[str, ...], instruction: str) -> Callable:
    def build(rng: random.Random, n: int) -> Example:
        s = sample_scene(rng)
        q = f"{instruction} {_caption(s, rng.choice(templates))}\n"
        d = [(IMAGE_TARGET, ("scene", x)) for x in _pick_scenes(rng, s, [_swap(s)], n)]
        return Example(q, None, IMAGE_TARGET, ("scene", s), d, s, {"kind": "describe"})

    return build


def _i2t(templates: tuple[str, ...], instruction: str) -> Callable:
    def build(rng: random.Random, n: int) -> Example:
        s = sample_scene(rng)
        q = f"{IMAGE_TOKEN}\n{instruction}\n"
        pos = _caption(s, rng.choice(templates))
        d = [
            (_caption(x, rng.choice(templates)), None) for x in _pick_scenes(rng, s, [_swap(s)], n)
        ]
        return Example(q, ("scene", s), pos, None, d, s, {"kind": "describe"})

    return build


def _ground(rng: random.Random, n: int) -> Example:
    s = sample_scene(rng)
    side = rng.choice(SIDES)
    q = f"{IMAGE_TOKEN}\nSelect the region of the image holding the object labeled {object_name(s[side])}.\n"
    d = [(CROP_TARGET, spec) for spec in _pick_crops(rng, s, side, n)]
    return Example(
        q, ("scene", s), CROP_TARGET, ("crop", s, side), d, s, {"kind": "locate", "side": side}
    )


def _ref_ground(rng: random.Random, n: int) -> Example:
    s = sample_scene(rng)
    form, side = rng.choice(("relative", "color")), rng.choice(SIDES)
    if form == "color":
        expr = f"the {s[side]['color']} object"
    else:
        where = "right" if side == "right" else "left"
        expr = f"the object to the {where} of the {object_name(s[other_side(side)])}"
    q = f"{IMAGE_TOKEN}\nSelect the region of the image that the phrase describes: {expr}.\n"
    d = [(CROP_TARGET, spec) for spec in _pick_crops(rng, s, side, n)]
    fact = {"kind": "refer", "form": form, "side": side, "expression": expr}
    return Example(q, ("scene", s), CROP_TARGET, ("crop", s, side), d, s, fact)


def _modify(s: dict, side: str, attr: str, value: str) -> dict | None:
    out = copy.deepcopy(s)
    out[side][attr] = value
    return out if out["left"]["color"] != out["right"]["color"] else None


def _cirr(rng: random.Random, n: int) -> Example:
    s = sample_scene(rng)
    side, attr = rng.choice(SIDES), rng.choice(("color", "shape"))
    if attr == "color":
        value = rng.choice(
            [c for c in COLOR_WORDS if c not in (s["left"]["color"], s["right"]["color"])]
        )
        change = f"change the {side} object to {value}"
    else:
        value = rng.choice([x for x in SHAPES if x != s[side]["shape"]])
        change = f"turn the {side} object into a {value}"
    target = _modify(s, side, attr, value)
    q = f"{IMAGE_TOKEN}\nFind a similar image after this edit: {change}.\n"
    first = [x for x in (s, _modify(s, other_side(side), attr, value)) if x is not None]
    d = [(IMAGE_TARGET, ("scene", x)) for x in _pick_scenes(rng, target, first, n)]
    fact = {
        "kind": "modify",
        "side": side,
        "attribute": attr,
        "value": value,
        "target_scene": target,
    }
    return Example(q, ("scene", s), IMAGE_TARGET, ("scene", target), d, s, fact)


BUILDERS: dict[str, Callable[[random.Random, int], Example]] = {
    "SynObjects": _classify("left"),
    "SynObjectsRight": _classify("right"),
    "SynColorQA": _color_qa,
    "SynShapeQA": _shape_qa,
    "SynCOCO_t2i": _t2i(_EVERYDAY[:4], "Find an everyday image that fits this caption:"),
    "SynCOCO_i2t": _i2t(_EVERYDAY[:4], "Write an everyday caption for the image above."),
    "SynNews_t2i": _t2i(_HEADLINES, "Retrieve the news photo for this headline:"),
    "SynNews_i2t": _i2t(_HEADLINES, "Find the headline that goes with this news photo."),
    "SynGround": _ground,
    "SynRefGround": _ref_ground,
    "SynCIRR": _cirr,
}


# ----------------------------------------------------------------------------- writing


class _ImageStore:
    """Rendered PNGs by zip member name; names hash the image spec, so a repeat is stored once."""

    def __init__(self, size: int):
        self.size, self.members = size, {}

    def add(self, folder: str, spec: tuple | None) -> str:
        if spec is None:
            return ""
        digest = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
        name = f"{folder}/{spec[0]}_{digest}.png"
        if name not in self.members:
            if spec[0] == "scene":
                img = render_scene(spec[1], self.size)
            else:
                img = render_object(spec[1], spec[2], self.size // 2)
            buf = io.BytesIO()
            img.save(buf, format="PNG")
            self.members[name] = buf.getvalue()
        return name


def _sidecar(task: SynTask, key: str, ex: Example, qry_path: str, pos_path: str) -> dict:
    target_image = None
    if ex.pos_image is not None:
        target_image = {"kind": ex.pos_image[0], "scene": ex.pos_image[1]}
        if ex.pos_image[0] == "crop":
            target_image["side"] = ex.pos_image[2]
    return {
        "key": key,
        "task": task.name,
        "meta_task": task.meta_task,
        "scene": ex.scene,
        "fact": ex.fact,
        "qry_image_path": qry_path,
        "pos_image_path": pos_path,
        "target_text": ex.pos,
        "target_image": target_image,
    }


def _write_train(task: SynTask, repo: Path, scenes_dir: Path, seed: int, n: int, size: int) -> int:
    rng = random.Random(f"{seed}:train:{task.name}")
    store, rows, side = _ImageStore(size), [], []
    folder = f"{task.name}/Train"
    for i in range(n):
        ex = BUILDERS[task.name](rng, 1 if task.hard_negative else 0)
        q, p = store.add(folder, ex.query_image), store.add(folder, ex.pos_image)
        neg_text, neg_spec = ex.distractors[0] if ex.distractors else ("", None)
        neg = store.add(folder, neg_spec)
        rows.append(
            {
                "qry": ex.query,
                "qry_image_path": f"images/{q}" if q else "",
                "pos_text": ex.pos,
                "pos_image_path": f"images/{p}" if p else "",
                "neg_text": neg_text,
                "neg_image_path": f"images/{neg}" if neg else "",
            }
        )
        side.append(
            _sidecar(
                task, f"{task.name}/{i}", ex, rows[-1]["qry_image_path"], rows[-1]["pos_image_path"]
            )
        )
    write_train_parquet(
        repo / task.name / "original-00000-of-00001.parquet", rows, task.hard_negative
    )
    write_zip(repo / "images_zip" / f"{task.name}.zip", store.members)
    write_jsonl(scenes_dir / f"{task.name}.jsonl", side)
    return n


def _eval_rows(task: SynTask, store: _ImageStore, seed: int, n: int, k: int):
    rng = random.Random(f"{seed}:eval:{task.name}")
    rows, side = [], []
    for i in range(n):
        ex = BUILDERS[task.name](rng, k - 1)
        cands = [(ex.pos, ex.pos_image)] + ex.distractors
        texts = [t for t, _ in cands]
        paths = [store.add(task.name, spec) for _, spec in cands]
        if len(set(zip(texts, paths, strict=True))) != len(cands):
            raise RuntimeError(f"{task.name} row {i}: duplicate candidates {cands}")
        q = store.add(task.name, ex.query_image)
        rows.append(
            {"qry_text": ex.query, "qry_img_path": q, "tgt_text": texts, "tgt_img_path": paths}
        )
        side.append(_sidecar(task, f"{task.name}/{i}", ex, q, paths[0]))
    return rows, side


def _write_retrieval(bench: str, out: Path, seed: int, n: int, size: int) -> int:
    """N distinct scenes x 5 captions (COCO-style sets give some images 6 or 7, as COCO does)."""
    rng = random.Random(f"{seed}:retrieval:{bench}")
    scenes = _pick_scenes(rng, sample_scene(rng), [], n)
    if len(scenes) < n:
        raise ValueError(f"{bench}: could not draw {n} distinct scenes")
    images, texts = [], []
    for i, s in enumerate(scenes):
        k = 5 + (rng.randint(1, 2) if bench.endswith("COCO") and rng.random() < 0.3 else 0)
        texts.append([_caption(s, t) for t in rng.sample(_EVERYDAY, k)])
        buf = io.BytesIO()
        render_scene(s, size).save(buf, format="PNG")
        images.append((f"{i}.png", buf.getvalue()))
    write_retrieval_repo(out / "retrieval" / bench, images, texts)
    write_jsonl(
        out / "scenes" / "retrieval" / f"{bench}.jsonl",
        [{"key": f"{bench}/{i}", "scene": s} for i, s in enumerate(scenes)],
    )
    return sum(len(t) for t in texts)


def write_benchmark(
    out: str | os.PathLike,
    *,
    seed: int,
    train_rows: int,
    eval_rows: int,
    num_candidates: int,
    retrieval_images: int,
    image_size: int = 112,
    tasks: list[str] | None = None,
) -> dict[str, Any]:
    """Write the whole synthetic benchmark under ``out`` (layout in the module docstring).

    Args:
        out: output directory (created; existing files are overwritten).
        seed: every row, image and caption is a function of it.
        train_rows: rows per MMEB-train subset (the IND tasks).
        eval_rows: queries per MMEB-eval task (IND and OOD tasks).
        num_candidates: candidates per eval query, ground truth included; a task whose answer
            vocabulary is smaller (colours: 8, shapes: 4) gets all of its vocabulary.
        retrieval_images: images per retrieval set (5+ captions each).
        image_size: scene side in pixels (object crops are half of it).
        tasks: task names to write (default all of ``SYNTHETIC_TASKS``).

    Returns:
        The manifest also written to ``out/manifest.json``.
    """
    names = list(SYNTHETIC_TASKS) if tasks is None else list(tasks)
    unknown = sorted(set(names) - set(SYNTHETIC_TASKS))
    if unknown:
        raise ValueError(f"unknown synthetic tasks {unknown}; known: {sorted(SYNTHETIC_TASKS)}")
    if num_candidates < 2:
        raise ValueError(f"num_candidates must be >= 2, got {num_candidates}")
    out = Path(out)
    manifest: dict[str, Any] = {
        "seed": seed,
        "sizes": {
            "train_rows": train_rows,
            "eval_rows": eval_rows,
            "num_candidates": num_candidates,
            "retrieval_images": retrieval_images,
            "image_size": image_size,
        },
        "tasks": {n: vars(SYNTHETIC_TASKS[n]) for n in names},
        "train": {},
        "eval": {},
        "retrieval": {},
    }
    store = _ImageStore(image_size)
    for name in names:
        task = SYNTHETIC_TASKS[name]
        if task.split == "IND":
            manifest["train"][name] = _write_train(
                task, out / "MMEB-train", out / "scenes" / "train", seed, train_rows, image_size
            )
        rows, side = _eval_rows(task, store, seed, eval_rows, num_candidates)
        write_eval_parquet(out / "MMEB-eval" / name / "test-00000-of-00001.parquet", rows)
        write_jsonl(out / "scenes" / "eval" / f"{name}.jsonl", side)
        manifest["eval"][name] = {
            "rows": eval_rows,
            "candidates": len(rows[0]["tgt_text"]) if rows else 0,
        }
    write_zip(out / "MMEB-eval" / "images.zip", store.members)
    write_readme(out / "MMEB-train", dict.fromkeys(manifest["train"], "original"))
    write_readme(out / "MMEB-eval", dict.fromkeys(manifest["eval"], "test"))
    for bench in RETRIEVAL_BENCHES:
        captions = _write_retrieval(bench, out, seed, retrieval_images, image_size)
        manifest["retrieval"][bench] = {"images": retrieval_images, "captions": captions}
    manifest["prompt_tables"] = {"dir": PROMPT_DIR, **write_prompt_tables(out / PROMPT_DIR, names)}
    write_json(out / "manifest.json", manifest)
    return manifest


def read_sidecar(path: str | os.PathLike) -> dict[str, dict]:
    """Read a scene sidecar JSONL as ``{row key: record}``."""
    return {r["key"]: r for r in read_jsonl(path)}
