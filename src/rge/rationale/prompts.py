"""Oracle-rationale prompt templates: load them from YAML, render one per training row.

The templates are data (``config/prompts/oracle.yaml``, see its header for the layout). For a
row, ``render_prompt`` fills the subset's template with the query (text and/or image) and the
row's correct match (shown to the oracle for checking only) and returns chat messages whose
content parts interleave text and image placeholders, the image paths in the order of those
placeholders, the template id and the template hash.

The hash (``prompt_hash``) is the sha256 of the *template text*: the assembled prompt with the
per-row fields still unfilled. It is the same for every row of a template and changes whenever
any wording that template uses changes, so a rationale file says exactly which prompt made it.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rge.data.records import IMAGE_TOKEN, TrainPair

QUERY_IMAGE = "[[query_image]]"
MATCH_IMAGE = "[[match_image]]"
PARTS = ("image", "text")
_IMAGE_MARKER = re.compile(r"(\[\[query_image\]\]|\[\[match_image\]\])")
_ROW_FIELD = re.compile(r"\{(query_text|match_text)\}")


@dataclass(frozen=True)
class Template:
    """One prompt template: which parts of query and match it shows, and its wording."""

    id: str
    meta_task: str
    query: tuple[str, ...]  # subset of ("image", "text")
    match: tuple[str, ...]
    text: str  # the assembled template text (row fields unfilled)

    @property
    def hash(self) -> str:
        """sha256 (hex) of the template text."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PromptBook:
    """All templates of one prompt file and the subset -> template mapping."""

    version: int
    max_words: int
    forbidden_phrases: tuple[str, ...]
    templates: dict[str, Template]
    subsets: dict[str, str]  # subset -> template id
    source: str  # the file it was read from

    def template_for(self, subset: str) -> Template:
        """The template of ``subset``; raises naming the subset and the file if there is none."""
        if subset not in self.subsets:
            raise KeyError(
                f"{self.source}: no oracle prompt template for subset {subset!r} "
                f"(known subsets: {sorted(self.subsets)})"
            )
        return self.templates[self.subsets[subset]]


@dataclass(frozen=True)
class RenderedPrompt:
    """One row's oracle prompt.

    ``messages`` is a one-turn chat (``[{"role": "user", "content": [parts]}]``) whose parts
    are ``{"type": "text", "text": ...}`` or ``{"type": "image"}``; ``images`` holds the image
    paths in the order of the image parts.
    """

    messages: list[dict[str, Any]]
    images: tuple[str, ...]
    prompt_id: str
    prompt_hash: str

    @property
    def text(self) -> str:
        """The prompt as one string, each image part written as ``<image>``."""
        return flatten(self.messages[0]["content"], "<image>")


def flatten(parts: list[dict[str, Any]], image_placeholder: str) -> str:
    """Join content parts into one string, each image part replaced by ``image_placeholder``."""
    return "".join(image_placeholder if p["type"] == "image" else p["text"] for p in parts)


def load_prompts(path: str | os.PathLike) -> PromptBook:
    """Read and validate a prompt file (the structure of paper §3.2 / appendix 8, our wording).

    Raises ValueError naming the file and the offending key: a missing top-level key or
    template key, a duplicate template id, a meta-task without a role, an unknown part, or a
    subset mapped to an unknown template. A missing file raises FileNotFoundError.
    """
    raw = yaml.safe_load(Path(path).read_text())
    src = str(path)
    if not isinstance(raw, dict):
        raise ValueError(f"{src}: expected a mapping at the top level")
    for key in ("version", "max_words", "forbidden_phrases", "rules", "layout", "slots", "roles"):
        if key not in raw:
            raise ValueError(f"{src}: missing top-level key {key!r}")
    forbidden = tuple(str(p) for p in raw["forbidden_phrases"])
    rules = _fill(
        raw["rules"],
        max_words=str(raw["max_words"]),
        forbidden=", ".join(f'"{p}"' for p in forbidden),
    )
    templates: dict[str, Template] = {}
    for i, spec in enumerate(raw.get("templates") or []):
        t = _template(spec, raw, rules, f"{src}: templates[{i}]")
        if t.id in templates:
            raise ValueError(f"{src}: duplicate template id {t.id!r}")
        templates[t.id] = t
    subsets = {str(k): str(v) for k, v in (raw.get("subsets") or {}).items()}
    unknown = {s: t for s, t in subsets.items() if t not in templates}
    if unknown:
        raise ValueError(f"{src}: subsets map to unknown template ids {unknown}")
    return PromptBook(
        int(raw["version"]), int(raw["max_words"]), forbidden, templates, subsets, src
    )


def _template(spec: dict, raw: dict, rules: str, where: str) -> Template:
    """Assemble one template's text from its spec and the shared sections."""
    for key in ("id", "meta_task", "query", "match", "task", "example"):
        if key not in spec:
            raise ValueError(f"{where}: missing key {key!r}")
    if spec["meta_task"] not in raw["roles"]:
        raise ValueError(f"{where} ({spec['id']}): no role for meta_task {spec['meta_task']!r}")
    query, match = tuple(spec["query"]), tuple(spec["match"])
    for side, parts in (("query", query), ("match", match)):
        if not parts or set(parts) - set(PARTS):
            raise ValueError(
                f"{where} ({spec['id']}): {side} must be a non-empty subset of {PARTS}"
            )
    slots = raw["slots"]
    ex = spec["example"]
    text = _fill(
        raw["layout"],
        role=raw["roles"][spec["meta_task"]].strip(),
        task=spec["task"].strip(),
        rules=rules.strip(),
        example_query=ex["query"].strip(),
        example_match=ex["match"].strip(),
        example_rationale=ex["rationale"].strip(),
        query_slots="\n".join(slots[f"query_{p}"] for p in PARTS if p in query),
        match_slots="\n".join(slots[f"match_{p}"] for p in PARTS if p in match),
    )
    return Template(str(spec["id"]), spec["meta_task"], query, match, text)


def _fill(text: str, **fields: str) -> str:
    """Replace ``{name}`` by its value for the given names only (other braces stay as they are)."""
    for name, value in fields.items():
        text = text.replace("{" + name + "}", value)
    return text


def strip_image_token(text: str) -> str:
    """MMEB text without its image marker, trimmed."""
    return text.replace(IMAGE_TOKEN, "").strip()


def render_prompt(book: PromptBook, subset: str, pair: TrainPair) -> RenderedPrompt:
    """The oracle prompt of one training row (see ``RenderedPrompt``).

    Raises:
        KeyError: ``subset`` has no template.
        ValueError: the template shows an image the row does not have (names the row key).
    """
    t = book.template_for(subset)
    images: dict[str, str | None] = {}
    for side, item, marker in (
        ("query", pair.query, QUERY_IMAGE),
        ("match", pair.pos, MATCH_IMAGE),
    ):
        if "image" in getattr(t, side):
            if not item.image:
                raise ValueError(
                    f"row {pair.key}: template {t.id} shows the {side} image, but the row's "
                    f"{'query' if side == 'query' else 'positive'} has no image"
                )
            images[marker] = item.image
    fields = {
        "query_text": strip_image_token(pair.query.text) or "(none)",
        "match_text": strip_image_token(pair.pos.text) or "(none)",
    }
    parts: list[dict[str, Any]] = []
    paths: list[str] = []
    # Split the template first and fill the text chunks in one pass each, so a row's own text
    # can never be mistaken for a marker or a field.
    for chunk in _IMAGE_MARKER.split(t.text):
        if chunk in (QUERY_IMAGE, MATCH_IMAGE):
            parts.append({"type": "image"})
            paths.append(images[chunk])
        elif chunk:
            text = _ROW_FIELD.sub(lambda m: fields[m.group(1)], chunk)
            parts.append({"type": "text", "text": text})
    messages = [{"role": "user", "content": parts}]
    return RenderedPrompt(messages, tuple(paths), t.id, t.hash)
