"""Quality checks of oracle rationales: length, forbidden phrases, empty and garbled outputs.

Pure functions; ``check_rationales`` (the stage) runs them over a subset and reports counts.
A rationale is *bad* when it has at least one issue; bad rationales are counted and listed,
never dropped.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

ISSUES = ("empty", "over_length", "forbidden", "garbled")
# Markup that must never survive decoding into a rationale.
_MARKUP = ("<|", "|>", "<emb>", "<image>", "\ufffd")
_REPEAT = 5  # the same word this many times in a row reads as a decoding loop


def word_count(text: str) -> int:
    """Whitespace-separated words."""
    return len(text.split())


def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """Case-insensitive whole-word match of ``phrase`` (optionally plural, e.g. "targets")."""
    words = r"[\s_-]+".join(re.escape(w) for w in re.split(r"[\s_-]+", phrase.strip()))
    return re.compile(rf"(?<![\w-]){words}s?(?![\w-])", re.IGNORECASE)


def forbidden_hits(text: str, phrases: Sequence[str]) -> list[str]:
    """The phrases of ``phrases`` that occur in ``text``."""
    return [p for p in phrases if phrase_pattern(p).search(text)]


def is_garbled(text: str) -> bool:
    """Heuristic: leftover markup, mostly non-letters, or a word repeated in a loop."""
    if any(m in text for m in _MARKUP):
        return True
    chars = [c for c in text if not c.isspace()]
    if chars and sum(c.isalpha() for c in chars) / len(chars) < 0.5:
        return True
    words = text.lower().split()
    run = 1
    for a, b in zip(words, words[1:], strict=False):
        run = run + 1 if a == b else 1
        if run >= _REPEAT:
            return True
    return False


def issues(text: str, *, max_words: int, phrases: Sequence[str]) -> list[str]:
    """The issues of one rationale (subset of ``ISSUES``; empty list = fine)."""
    if not text.strip():
        return ["empty"]
    found = []
    if word_count(text) > max_words:
        found.append("over_length")
    if forbidden_hits(text, phrases):
        found.append("forbidden")
    if is_garbled(text):
        found.append("garbled")
    return found


def summarize(
    rows: Sequence[dict[str, Any]], *, max_words: int, phrases: Sequence[str], n_examples: int = 20
) -> dict[str, Any]:
    """Counts over rationale rows (store schema): issues, phrase hits, word statistics.

    The checks follow the formatting rules the oracle prompt states (paper §3.2 and appendix 8:
    a word limit, no mention of the positive sample). ``examples`` lists the first
    ``n_examples`` bad rows with their key, issues and text (cut to 300 characters). Raises
    KeyError when a row lacks ``rationale`` or ``key``.
    """
    counts: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    words: list[int] = []
    bad: list[dict[str, Any]] = []
    for row in rows:
        text = row["rationale"]
        found = issues(text, max_words=max_words, phrases=phrases)
        counts.update(found)
        hits.update(forbidden_hits(text, phrases))
        words.append(word_count(text))
        if found:
            bad.append({"key": row["key"], "issues": found, "rationale": text[:300]})
    return {
        "count": len(rows),
        **{issue: counts[issue] for issue in ISSUES},
        "bad": len(bad),
        "forbidden_phrase_hits": {p: hits[p] for p in phrases if hits[p]},
        "mean_words": sum(words) / len(words) if words else 0.0,
        "max_words_seen": max(words, default=0),
        "max_words": max_words,
        "examples": bad[:n_examples],
    }
