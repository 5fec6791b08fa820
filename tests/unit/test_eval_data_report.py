"""The data report: candidate-list counts per task (published and as evaluated) and coverage."""

from __future__ import annotations

from rge.data.protocol import PromptTables, Rule
from rge.data.records import EvalRow, Item
from rge.evaluate.data_report import data_report, render_markdown


def row(task: str, i: int, *candidates: str) -> EvalRow:
    return EvalRow(f"{task}/{i}", task, Item("q"), tuple(Item(c) for c in candidates))


ROWS = {
    # row 0: the minimal case (ground truth repeated at index 2); row 1: a duplicate
    # distractor; row 2: clean
    "ImageNet-1K": [
        row("ImageNet-1K", 0, "crane", "goldfish", "crane", "tench"),
        row("ImageNet-1K", 1, "tench", "crane", "crane"),
        row("ImageNet-1K", 2, "tench", "crane"),
    ],
    # "Yes" and "yes" differ as published; the value_map makes both the same sentence
    "HatefulMemes": [row("HatefulMemes", 0, "Yes", "yes", "No")],
}
TABLES = PromptTables(
    train={"HatefulMemes": Rule()},
    eval={"ImageNet-1K": Rule(prefix_add="Identify: ")},
    candidate={"HatefulMemes": Rule(value_map={"Yes": "Hateful.", "yes": "Hateful."})},
)


def test_counts_published_and_as_evaluated():
    report = data_report(ROWS, TABLES, protocol="rge_release", train_subsets=["HatefulMemes", "A"])
    imagenet = report["candidate_list_counts"]["ImageNet-1K"]
    assert imagenet["published"] == {
        "num_rows": 3, "rows_gt_repeated": 1, "rows_with_duplicates": 2, "duplicate_candidates": 2,
    }  # fmt: skip
    assert imagenet["as_evaluated"] == imagenet["published"]  # the newline rule keeps them apart
    memes = report["candidate_list_counts"]["HatefulMemes"]
    assert memes["published"]["rows_gt_repeated"] == 0
    assert memes["as_evaluated"]["rows_gt_repeated"] == 1
    assert memes["as_evaluated"]["duplicate_candidates"] == 1


def test_coverage_counts_subsets_and_tasks_without_an_entry():
    report = data_report(ROWS, TABLES, protocol="mmeb", train_subsets=["HatefulMemes", "A"])
    assert report["coverage"] == {
        "train_queries": ["A"], "train_targets": ["A"],
        "eval_queries": ["HatefulMemes"], "eval_targets": ["ImageNet-1K"],
    }  # fmt: skip
    assert report["coverage_counts"] == {
        "train_queries": 1, "train_targets": 1, "eval_queries": 1, "eval_targets": 1,
    }  # fmt: skip
    # under mmeb nothing is rewritten: as evaluated = published
    memes = report["candidate_list_counts"]["HatefulMemes"]
    assert memes["as_evaluated"] == memes["published"]


def test_markdown_has_a_row_per_task_and_the_coverage():
    md = render_markdown(data_report(ROWS, TABLES, protocol="rge_release", train_subsets=["A"]))
    assert "| ImageNet-1K | 3 | 1 | 2 | 1 | 2 |" in md
    assert "| HatefulMemes | 1 | 0 | 0 | 1 | 1 |" in md
    assert "- eval_targets: 1 (ImageNet-1K)" in md
