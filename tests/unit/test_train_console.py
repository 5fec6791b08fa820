"""The training bar is labelled with its rule and run; the label is not part of the resume key."""

from __future__ import annotations

from rge.train.loop import LoopSettings, train
from tests.fixtures.train_fakes import FakeEncoder, fake_objective, text_pairs


def test_bar_names_rule_and_run_and_label_change_still_resumes(tmp_path, capsys):
    pairs = text_pairs(8)
    settings = LoopSettings(batch_size=2, max_steps=3, lr=1e-2, desc="train_run rge")
    stats = train(FakeEncoder(), None, pairs, fake_objective, settings, work_dir=tmp_path)
    err = capsys.readouterr().err
    assert "train_run rge: 100%" in err and "train:" not in err
    assert stats["steps"] == 3
    # Same run under another label resumes from its final checkpoint instead of refusing it.
    relabelled = LoopSettings(batch_size=2, max_steps=3, lr=1e-2, desc="cold_start")
    again = train(FakeEncoder(), None, pairs, fake_objective, relabelled, work_dir=tmp_path,
                  progress=False)  # fmt: skip
    assert again["resumed_from_step"] == 3


def test_default_label_is_train():
    assert LoopSettings(batch_size=2).desc == "train"
