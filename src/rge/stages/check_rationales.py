"""Merge and check the oracle-rationale shards of one training subset.

The shards must hold exactly one row per prepared record of the subset (a missing, extra or
duplicated key stops the stage, naming the keys). Every rationale is checked for emptiness,
length (> max_words words), forbidden phrases (the prompt file's list) and garbled output;
bad ones are counted, listed in the report and kept in the merged file (never dropped
silently). With ``fail_on_bad`` the stage fails after writing the report if any is bad.

Config keys read (cfg slice, as ``rge.config.RationaleCheckView``):
    subset (str): the training subset.
    fail_on_bad (bool): fail when any rationale has an issue (schema default false).
    Not config keys (the view's defaults): max_words (the prompt file's max_words), the word
    limit; n_examples (20), bad rows listed in the report.

Inputs:
    records: the subset's ``prepare_train`` records JSONL.
    shards: the ``oracle_rationales`` shard files of the subset (one or more).
    prompts: the oracle prompt file (forbidden phrases, word limit).
Outputs:
    rationales: merged JSONL (``rge.rationale.store`` schema), one row per record, sorted by
        key (row number order: ``<subset>/2`` before ``<subset>/10``).
    report: JSON: count, empty, over_length, forbidden, garbled, bad, forbidden_phrase_hits,
        mean_words, max_words_seen, max_words, examples (bad rows), backends, prompt_ids.
"""

from __future__ import annotations

import logging
from collections import Counter

from rge.config import RationaleCheckView
from rge.io import write_json, write_jsonl
from rge.rationale.checks import summarize
from rge.rationale.merge import merge_shards
from rge.rationale.prompts import load_prompts
from rge.stages._cli import Paths, as_list, stage_main

log = logging.getLogger(__name__)


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Merge, check, write; return the report."""
    view = RationaleCheckView.from_slice(cfg)
    subset = view.subset
    book = load_prompts(inputs.prompts)
    max_words = book.max_words if view.max_words is None else view.max_words
    shards = as_list(inputs.shards)
    merged = merge_shards(shards, subset, inputs.records)
    report = {
        "subset": subset,
        **summarize(
            merged,
            max_words=max_words,
            phrases=book.forbidden_phrases,
            n_examples=view.n_examples,
        ),
        "backends": dict(Counter(r["backend"] for r in merged)),
        "prompt_ids": dict(Counter(r["prompt_id"] for r in merged)),
        "shards": len(shards),
        "fail_on_bad": view.fail_on_bad,
    }
    write_json(outputs.report, report)
    log.info(
        "%s: %d rationales, %d bad (empty %d, over length %d, forbidden %d, garbled %d), "
        "mean %.1f words",
        subset, report["count"], report["bad"], report["empty"], report["over_length"],
        report["forbidden"], report["garbled"], report["mean_words"],
    )  # fmt: skip
    if report["fail_on_bad"] and report["bad"]:
        raise ValueError(
            f"{subset}: {report['bad']} bad rationale(s) and fail_on_bad is set; "
            f"see {outputs.report}"
        )
    write_jsonl(outputs.rationales, merged)
    return report


def main(argv: list[str] | None = None) -> dict:
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
