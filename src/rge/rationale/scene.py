"""The ``scene`` backend: oracle rationales for the synthetic benchmark, written from its metadata.

The synthetic benchmark keeps, per training row, the scene (two objects, left and right), the
task-specific fact the query asks about and the correct match in a sidecar file
(``rge.data.synthetic``). Here an "oracle" needs no model: it knows the scene.

Choice of form (facts-file style, about 15-25 words, lowercase, tokens split by spaces):

1. the scene description the tiny backbone is pretrained to write
   (``rge.data.scenes.describe_scene``: "left is blue circle , right is red cross ."), so a
   cold-started model can reuse what its pretraining taught it;
2. one clause that answers what *this query* asks about, e.g. for colour QA
   "red : left no , right yes , the one next to it is on the left and is blue ." or, for
   text-to-image retrieval, "the picture to find has the blue circle left of the red cross .".
   Where the answer depends on finding a named object, the clause repeats the name and checks
   each side against it (``_match``) before reading the answer off the side that matched.

It never is the correct match alone (the description always comes first) and it always names
what the query asks about. The clause is drawn from one or two phrasings per fact kind with a
per-row seed (``row_seed(seed, key)``), so phrasing varies a little, yet the same seed gives
the same text whatever the sharding. For answer-type tasks the answer derived from the scene
is checked against the sidecar's stored match; a mismatch raises (a corrupt sidecar).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rge.data.scenes import describe_scene, object_name, other_side, with_article
from rge.rationale.backend import OracleRequest, row_seed

Clause = Callable[[dict, dict, dict], list[str]]


def _match(scene: dict, attr: Callable[[dict], str], what: str) -> str:
    """'<what> : left no , right yes ,': the name the query gives, then each side of the
    description just written checked against it.

    WHY spelled out: the tiny backbone attends mostly by relative position (rope_theta 10), so
    it cannot find *which* side holds a named object by content in one step (cold-start answer
    correctness ~0.58 with "the pink square is on the right"). Comparing the name, copied at a
    fixed distance, with each side of the description just written is a step it can take; the
    side that says yes is then read off at a fixed distance too.
    """
    checks = " , ".join(
        f"{s} {'yes' if attr(scene[s]) == what else 'no'}" for s in ("left", "right")
    )
    return f"{what} : {checks} ,"


def _classify(scene: dict, fact: dict, rec: dict) -> list[str]:
    side = fact["side"]
    label = object_name(scene[side])
    _expect(rec, label)
    return [
        f"the object on the {side} is {with_article(label)} .",
        f"on the {side} is the {label} .",
    ]


def _color_of(scene: dict, fact: dict, rec: dict) -> list[str]:
    side, ref = fact["side"], fact["ref"]
    color = scene[side]["color"]
    _expect(rec, color)
    # Each step the answer needs is written out, in the order it is found: which side holds
    # the named object (``_match``), then (next_to) the side beside it, then its colour.
    if ref == "next_to":
        named = _match(scene, lambda o: o["color"], scene[other_side(side)]["color"])
        return [f"{named} the one next to it is on the {side} and is {color} ."]
    if ref == "shape":
        named = _match(scene, lambda o: o["shape"], scene[side]["shape"])
        return [f"{named} so it is on the {side} and is {color} ."]
    return [f"the {side} object is {color} .", f"the one on the {side} is {color} ."]


def _shape_of(scene: dict, fact: dict, rec: dict) -> list[str]:
    obj = scene[fact["side"]]
    _expect(rec, obj["shape"])
    return [
        f"the {obj['color']} object is {with_article(obj['shape'])} .",
        f"the {obj['color']} one is shaped like {with_article(obj['shape'])} .",
    ]


def _describe(scene: dict, fact: dict, rec: dict) -> list[str]:
    left, right = object_name(scene["left"]), object_name(scene["right"])
    if rec.get("target_image"):  # text -> image: say what the picture must show
        return [
            f"the picture to find has the {left} left of the {right} .",
            f"so the image shows {with_article(left)} first , then {with_article(right)} .",
        ]
    return [  # image -> text: say what the caption must name
        f"a fitting caption names the {left} on the left and the {right} on the right .",
        f"the caption should say the {left} is left of the {right} .",
    ]


def _locate(scene: dict, fact: dict, rec: dict) -> list[str]:
    side = fact["side"]
    label = object_name(scene[side])
    return [f"{_match(scene, object_name, label)} so the crop shows the {side} object ."]


def _refer(scene: dict, fact: dict, rec: dict) -> list[str]:
    side = fact["side"]
    label = object_name(scene[side])
    return [
        f"{fact['expression']} is the {label} on the {side} .",
        f"the phrase points to the {side} object , the {label} .",
    ]


def _modify(scene: dict, fact: dict, rec: dict) -> list[str]:
    after = describe_scene(fact["target_scene"])
    return [f"after the edit {after}", f"with the change made , {after}"]


CLAUSES: dict[str, Clause] = {
    "classify": _classify,
    "color_of": _color_of,
    "shape_of": _shape_of,
    "describe": _describe,
    "locate": _locate,
    "refer": _refer,
    "modify": _modify,
}


def _expect(rec: dict, answer: str) -> None:
    """Raise if the sidecar's stored match disagrees with the answer read from its scene."""
    if rec.get("target_text") != answer:
        raise ValueError(
            f"scene sidecar row {rec.get('key')!r}: the scene gives {answer!r} but the stored "
            f"match is {rec.get('target_text')!r}"
        )


def scene_rationale(record: dict[str, Any], seed: int) -> str:
    """The rationale of one sidecar record (see the module docstring for its form)."""
    key = record.get("key")
    try:
        scene, fact = record["scene"], record["fact"]
        clause = CLAUSES[fact["kind"]]
    except KeyError as err:
        raise ValueError(f"scene sidecar row {key!r}: missing or unknown field {err}") from err
    options = clause(scene, fact, record)
    pick = random.Random(row_seed(seed, str(key))).choice(options)
    return f"{describe_scene(scene)} {pick}"


class SceneBackend:
    """Rationales from the synthetic benchmark's scene sidecar (no model).

    Stands in for the oracle MLLM of paper §3.2 in the embedded study: the facts come from the
    scene that drew the row, so the rationale is right by construction.
    """

    name = "scene"
    revision = None

    def __init__(self, sidecar: dict[str, dict], *, seed: int, source: str = "scene-sidecar"):
        self.sidecar, self.seed = sidecar, seed
        self.model = source  # recorded as the "model": where the facts came from
        self.sampling: dict[str, Any] = {"phrasing": "seeded choice of 2 per fact kind"}

    @classmethod
    def from_path(cls, path: str | os.PathLike, subset: str, *, seed: int) -> SceneBackend:
        """Read ``path``: a sidecar JSONL, a folder holding ``<subset>.jsonl``, or the synthetic
        benchmark's root (``make_synthetic`` output, holding ``scenes/train/<subset>.jsonl``).

        Raises FileNotFoundError naming the file when the subset's sidecar is absent.
        """
        from rge.data.synthetic import read_sidecar

        path = Path(path)
        if (path / "scenes" / "train").is_dir():
            path = path / "scenes" / "train"
        file = path / f"{subset}.jsonl" if path.is_dir() else path
        if not file.is_file():
            raise FileNotFoundError(f"scene sidecar for subset {subset!r} not found: {file}")
        return cls(read_sidecar(file), seed=seed, source=f"scene-sidecar:{file.name}")

    def generate(self, requests: Sequence[OracleRequest]) -> list[str]:
        """One rationale per request, in order.

        Raises KeyError naming a key missing from the sidecar, ValueError naming a sidecar row
        whose fields are missing or disagree with its scene.
        """
        out = []
        for req in requests:
            if req.key not in self.sidecar:
                raise KeyError(f"row {req.key!r} is not in the scene sidecar ({self.model})")
            out.append(scene_rationale(self.sidecar[req.key], self.seed))
        return out
