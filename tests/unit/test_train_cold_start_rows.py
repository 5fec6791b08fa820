"""train_run's `data: cold_start`: only the cold-start selection's rows of the run's subsets."""

from __future__ import annotations

import pytest

from rge.data.records import Item, TrainPair
from rge.io import write_json
from rge.stages.train_run import cold_start_rows


def pairs(subset: str, n: int) -> list[TrainPair]:
    return [TrainPair(f"{subset}/{i}", subset, Item(f"q{i}"), Item(f"t{i}")) for i in range(n)]


def test_selected_rows_of_the_runs_subsets_only(tmp_path):
    selection = tmp_path / "selection.json"
    # the selection spans every study subset; this run trains on A and B only
    write_json(selection, {"keys": ["A/1", "A/3", "B/0", "C/2"]})
    got = cold_start_rows(pairs("A", 4) + pairs("B", 2), selection)
    assert [p.key for p in got] == ["A/1", "A/3", "B/0"]


def test_a_selected_row_missing_from_the_records_is_named(tmp_path):
    selection = tmp_path / "selection.json"
    write_json(selection, {"keys": ["A/1", "A/9"]})
    with pytest.raises(KeyError, match=r"selection.json: 1 selected key\(s\).*A/9"):
        cold_start_rows(pairs("A", 4), selection)
    write_json(selection, {"size": 2})
    with pytest.raises(KeyError, match="no 'keys' list"):
        cold_start_rows(pairs("A", 4), selection)
    write_json(selection, {"keys": ["C/0"]})
    with pytest.raises(ValueError, match="the selection is empty"):
        cold_start_rows(pairs("A", 4), selection)
