"""The prompt protocol: which text the model sees for an MMEB query or target.

Two protocols (config ``evaluate.prompt_protocol``):

``mmeb``
    The MMEB text as published, unchanged (the image marker stays where MMEB puts it).
``rge_release``
    The RGE release's instruction rewrites (MCG-NJU/RGE @6074444, ``src/*.yaml``; paper §4.1
    says the instructions were rewritten, the release publishes the tables). Per subset or
    task, in this order: ``value_map`` (the whole text mapped exactly), ``original`` ->
    ``replacement`` (every occurrence of the substring), ``prefix_add``, ``suffix_add``; then
    the text is made to end in a newline. Three tables:

    ==========================================  ===============================================
    ``instruction_replacements.yaml``           training queries (keys: MMEB-train subsets)
    ``instruction_replacements-eval.yaml``      evaluation queries (keys: MMEB-eval tasks)
    ``candidate_replacements.yaml``             targets, at training and at evaluation
    ==========================================  ===============================================

    A subset or task without an entry is not rewritten, but still gets the trailing newline.

The newline rule follows the release's ``ensure_trailing_newline``: one ``\\n`` is appended
unless the text already ends with one (a text ending in two keeps both; MMEB has none).

Image placement, both protocols: at evaluation the image marker ``<|image_1|>`` stays in the
text and the chat formatting puts the image block in its place; at training the release puts
the image first and drops the marker, which :func:`train_pairs` does by removing the marker
(``rge.model.chat`` puts the image first when the text has no marker).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from rge.data.records import IMAGE_TOKEN, EvalRow, Item, TrainPair

PROTOCOLS = ("mmeb", "rge_release")
RELEASE_REPO = "MCG-NJU/RGE"
RELEASE_COMMIT = "60744447ffc0d51471a85757c4ea4be86650d8c5"
RELEASE_DIR = "src"  # folder of the three tables inside the release repository
RAW_BASE = "https://raw.githubusercontent.com"  # the release is a GitHub repository
TABLE_FILES = {
    "train": "instruction_replacements.yaml",
    "eval": "instruction_replacements-eval.yaml",
    "candidate": "candidate_replacements.yaml",
}
RULE_KEYS = ("value_map", "original", "replacement", "prefix_add", "suffix_add")
# Version of the token sequence ``rge.model.chat`` builds for a given item text. Bumped
# whenever the same text would give other token ids; part of the embedding cache's identity
# (``rge.evaluate.encoders.side_caches``). 2 (issue 11): no stripping, image block in the
# marker's place, data text never special tokens.
FORMAT_VERSION = 2


class ProtocolError(ValueError):
    """A rewrite table that cannot be used; the message names file, subset and key."""


@dataclass(frozen=True)
class Rule:
    """One subset's rewrite. Empty strings and an empty map change nothing."""

    value_map: Mapping[str, str] = field(default_factory=dict)
    original: str | None = None
    replacement: str = ""
    prefix_add: str = ""
    suffix_add: str = ""

    def apply(self, text: str) -> str:
        """The rewritten text, before the newline rule (the release's order of operations)."""
        text = self.value_map.get(text, text)
        if self.original is not None:
            text = text.replace(self.original, self.replacement)
        return f"{self.prefix_add}{text}{self.suffix_add}"


@dataclass(frozen=True)
class PromptTables:
    """The three rewrite tables: {subset or task name: Rule} each, plus where they came from."""

    train: Mapping[str, Rule]
    eval: Mapping[str, Rule]
    candidate: Mapping[str, Rule]
    source: str = ""


def check_protocol(protocol: str) -> None:
    """Raise ValueError unless ``protocol`` is one of ``PROTOCOLS``."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown prompt protocol {protocol!r}; expected one of {PROTOCOLS}")


def ensure_newline(text: str) -> str:
    """``text`` ending in ``\\n`` (one is appended unless it already ends with one)."""
    return text if text.endswith("\n") else text + "\n"


def rewrite(text: str, rule: Rule | None) -> str:
    """The ``rge_release`` text: ``rule`` applied (None = no entry), then the newline rule."""
    return ensure_newline(rule.apply(text) if rule is not None else text)


# ----------------------------------------------------------------------------- loading


def load_tables(folder: str | os.PathLike) -> PromptTables:
    """Read the three YAML tables from ``folder`` (the release's file names, ``TABLE_FILES``).

    Raises:
        FileNotFoundError: a table file is missing.
        ProtocolError: a file is not a mapping of subset -> mapping, a key is not one of
            ``RULE_KEYS``, a value has the wrong type, or ``replacement`` comes without
            ``original``; the message names the file, the subset and the key.
    """
    folder = Path(folder)
    tables = {role: load_table(folder / name) for role, name in TABLE_FILES.items()}
    return PromptTables(**tables, source=str(folder))


def load_table(path: str | os.PathLike) -> dict[str, Rule]:
    """One rewrite table as {subset: Rule}; see :func:`load_tables` for the errors."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"rewrite table {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ProtocolError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"{path}: top level must map subset names to rules")
    return {str(name): _rule(path, str(name), entry) for name, entry in data.items()}


def _rule(path: Path, name: str, entry: object) -> Rule:
    where = f"{path}: subset {name!r}"
    if not isinstance(entry, dict):
        raise ProtocolError(f"{where}: expected a mapping of {RULE_KEYS}, got {entry!r:.60}")
    unknown = sorted(set(map(str, entry)) - set(RULE_KEYS))
    if unknown:
        raise ProtocolError(f"{where}: unknown key(s) {unknown}; allowed {RULE_KEYS}")
    for key in RULE_KEYS[1:]:
        if key in entry and not isinstance(entry[key], str):
            raise ProtocolError(f"{where}, key {key!r}: expected a string, got {entry[key]!r:.60}")
    if "replacement" in entry and "original" not in entry:
        raise ProtocolError(f"{where}, key 'replacement': given without 'original'")
    value_map = entry.get("value_map", {})
    if not isinstance(value_map, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value_map.items()
    ):
        raise ProtocolError(f"{where}, key 'value_map': expected a string -> string mapping")
    return Rule(
        value_map=dict(value_map),
        original=entry.get("original"),
        replacement=entry.get("replacement", ""),
        prefix_add=entry.get("prefix_add", ""),
        suffix_add=entry.get("suffix_add", ""),
    )


def dump_table(rules: Mapping[str, Rule]) -> str:
    """YAML text of a table in the release's schema (keys left out where they change nothing)."""
    out: dict[str, dict] = {}
    for name, rule in rules.items():
        entry: dict = {}
        if rule.value_map:
            entry["value_map"] = dict(rule.value_map)
        if rule.original is not None:
            entry.update(original=rule.original, replacement=rule.replacement)
        entry.update(
            {k: getattr(rule, k) for k in ("prefix_add", "suffix_add") if getattr(rule, k)}
        )
        out[name] = entry
    return yaml.safe_dump(out, sort_keys=False, allow_unicode=True)


def fetch_tables(
    out: str | os.PathLike,
    *,
    repo: str = RELEASE_REPO,
    commit: str = RELEASE_COMMIT,
    mirror: str | os.PathLike | None = None,
    base_url: str = RAW_BASE,
) -> dict:
    """Copy the three tables into ``out`` (flat, ``TABLE_FILES`` names) and check they load.

    Args:
        out: an existing, empty directory.
        repo: the GitHub repository of the release (``owner/name``).
        commit: the full 40-hex commit to read (a branch or tag would not pin the text).
        mirror: a local directory laid out like the repository (``src/<file>``, e.g. the
            synthetic benchmark's ``RGE`` folder); taken as it is, ``commit`` unused.
        base_url: raw-file server; ``<base_url>/<repo>/<commit>/src/<file>`` is read.

    Returns:
        The provenance record: repo, commit (None for a mirror), mirror, and the SHA-256 of
        every file.

    Raises:
        ValueError: ``commit`` is not a 40-hex SHA; ProtocolError / FileNotFoundError from
        :func:`load_tables` (a fetched table that does not load is refused at fetch time).
    """
    from rge.data.hub import resolve_repo

    out = Path(out)
    names = list(TABLE_FILES.values())
    if mirror:
        patterns = [f"{RELEASE_DIR}/{n}" for n in names]
        src = resolve_repo(repo, mirror=mirror, allow_patterns=patterns) / RELEASE_DIR
        for name in names:
            shutil.copyfile(src / name, out / name)
    else:
        if not re.fullmatch(r"[0-9a-f]{40}", commit or ""):
            raise ValueError(f"commit must be a full 40-hex SHA to pin the tables, got {commit!r}")
        for name in names:
            _download(f"{base_url}/{repo}/{commit}/{RELEASE_DIR}/{name}", out / name)
    load_tables(out)
    return {
        "repo": repo,
        "commit": None if mirror else commit,
        "mirror": str(mirror) if mirror else None,
        "sha256": {n: hashlib.sha256((out / n).read_bytes()).hexdigest() for n in names},
    }


def _download(url: str, dest: Path) -> None:
    from urllib.request import urlopen

    with urlopen(url, timeout=60) as resp:  # noqa: S310 (fixed https/file URL from the config)
        dest.write_bytes(resp.read())


# ----------------------------------------------------------------------------- applying


def eval_rows(rows: Sequence[EvalRow], protocol: str, tables: PromptTables | None) -> list[EvalRow]:
    """MMEB-eval rows as the model sees them under ``protocol`` (keyed by ``row.task``).

    Queries take the eval table, candidates the candidate table. The image marker stays (it is
    replaced in place by the image block). ``tables`` is required for ``rge_release``.
    Candidates that become the same text stay separate entries (scoring treats identical
    items as one item).
    """
    check_protocol(protocol)
    if protocol == "mmeb":
        return list(rows)
    tables = _need(tables)
    out = []
    for r in rows:
        query = _rewrite_item(r.query, tables.eval.get(r.task))
        cand = tables.candidate.get(r.task)
        out.append(
            replace(r, query=query, candidates=tuple(_rewrite_item(c, cand) for c in r.candidates))
        )
    return out


def train_pairs(
    pairs: Sequence[TrainPair], protocol: str, tables: PromptTables | None
) -> list[TrainPair]:
    """MMEB-train pairs as the model sees them under ``protocol`` (keyed by ``pair.subset``).

    Queries take the train table; positives and negatives the candidate table. In both
    protocols the image marker is then removed, so the chat formatting puts the image first
    (the release's training layout; for MMEB's ``<|image_1|>\\n...`` texts this is the same
    token sequence as replacing the marker in place).
    """
    check_protocol(protocol)
    if protocol == "rge_release":
        tables = _need(tables)
    out = []
    for p in pairs:
        q_rule = c_rule = None
        if tables is not None and protocol == "rge_release":
            q_rule, c_rule = tables.train.get(p.subset), tables.candidate.get(p.subset)
        out.append(
            replace(
                p,
                query=_train_item(p.query, q_rule, protocol),
                pos=_train_item(p.pos, c_rule, protocol),
                negs=tuple(_train_item(n, c_rule, protocol) for n in p.negs),
            )
        )
    return out


def missing_entries(names: Iterable[str], rules: Mapping[str, Rule]) -> list[str]:
    """The names (subsets or tasks) without an entry in ``rules``, sorted (for the data report)."""
    return sorted(set(names) - set(rules))


def coverage(
    tables: PromptTables, *, train: Iterable[str] = (), eval: Iterable[str] = ()
) -> dict[str, list[str]]:
    """Which MMEB-train subsets and MMEB-eval tasks get no rewrite (newline rule only).

    Returns:
        {"train_queries", "train_targets", "eval_queries", "eval_targets"}: each the sorted
        names without an entry in the table that side uses.
    """
    train, eval = list(train), list(eval)
    return {
        "train_queries": missing_entries(train, tables.train),
        "train_targets": missing_entries(train, tables.candidate),
        "eval_queries": missing_entries(eval, tables.eval),
        "eval_targets": missing_entries(eval, tables.candidate),
    }


def tables_for(protocol: str, folder: str | os.PathLike | None) -> PromptTables | None:
    """The tables a protocol needs: None for ``mmeb``; :func:`load_tables` for ``rge_release``.

    Raises:
        ValueError: unknown protocol, or ``rge_release`` without a folder.
    """
    check_protocol(protocol)
    if protocol == "mmeb":
        return None
    if not folder:
        raise ValueError(
            "prompt protocol 'rge_release' needs the fetched tables (fetch_prompt_tables)"
        )
    return load_tables(folder)


def _rewrite_item(item: Item, rule: Rule | None) -> Item:
    return replace(item, text=rewrite(item.text, rule))


def _train_item(item: Item, rule: Rule | None, protocol: str) -> Item:
    if protocol == "rge_release":
        item = _rewrite_item(item, rule)
    return _drop_marker(item)


def _drop_marker(item: Item) -> Item:
    if item.image and IMAGE_TOKEN in item.text:
        return replace(item, text=item.text.replace(IMAGE_TOKEN, ""))
    return item


def _need(tables: PromptTables | None) -> PromptTables:
    if tables is None:
        raise ValueError("prompt protocol 'rge_release' needs the rewrite tables (load_tables)")
    return tables
