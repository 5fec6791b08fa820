"""The training loop and objectives: determinism, step counts, the objective registry, errors."""

from __future__ import annotations

import json
import math

import pytest

from rge.backbone.tiny import build_tiny
from rge.train.loop import LoopSettings, total_steps, train
from rge.train.objectives import BaselineObjective, StepOutput, make_objective
from tests.fixtures.train_fakes import FakeEncoder, fake_objective, scene_pairs, text_pairs

PIX = {"min_pixels": 56 * 56, "max_pixels": 56 * 56}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    return scene_pairs(tmp_path_factory.mktemp("scenes"), 12, negs=True)


def _losses(work_dir) -> list[float]:
    return [json.loads(r)["loss"] for r in (work_dir / "log.jsonl").read_text().splitlines()]


def _tiny_run(pairs, work_dir, seed: int, **objective) -> dict:
    model, processor = build_tiny({}, seed=0, **PIX)
    settings = LoopSettings(batch_size=4, max_steps=3, lr=2e-3, seed=seed)
    obj = make_objective("baseline", {"temperature": 0.05, **objective})
    return train(model, processor, pairs, obj, settings, work_dir=work_dir, progress=False)


def test_same_seed_same_losses_other_seed_other_losses(pairs, tmp_path):
    a = _tiny_run(pairs, tmp_path / "a", seed=3)
    _tiny_run(pairs, tmp_path / "b", seed=3)
    c = _tiny_run(pairs, tmp_path / "c", seed=4)
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")
    assert _losses(tmp_path / "a") != _losses(tmp_path / "c")
    assert all(math.isfinite(x) for x in _losses(tmp_path / "a"))
    assert a["ln_candidates"] == a["ln_batch"] == pytest.approx(math.log(4))
    assert a["final_window"] == 3 and a["final_con"] == pytest.approx(
        sum(_losses(tmp_path / "a")) / 3
    )
    assert c["steps"] == 3


def test_hard_negatives_widen_the_candidate_pool(pairs, tmp_path):
    stats = _tiny_run(pairs, tmp_path, seed=0, use_negatives=True, negatives_per_pair=1)
    assert stats["ln_candidates"] == pytest.approx(math.log(8))


def test_make_objective_picks_its_own_keys():
    obj = make_objective("baseline", {"temperature": 0.1, "use_negatives": True, "lr": 1.0})
    assert obj == BaselineObjective(temperature=0.1, use_negatives=True)
    with pytest.raises(ValueError, match="unknown objective 'nope'"):
        make_objective("nope", {})


def test_epochs_mode_and_total_steps(tmp_path):
    pairs = text_pairs(10)  # 5 rows per subset, batch 2 -> 2 + 2 batches per epoch
    settings = LoopSettings(batch_size=2, epochs=2, lr=1e-2)
    assert total_steps(settings, 4) == 8
    assert total_steps(LoopSettings(batch_size=2, max_steps=3, epochs=9), 4) == 3
    stats = train(FakeEncoder(), None, pairs, fake_objective, settings, work_dir=tmp_path,
                  progress=False)  # fmt: skip
    assert stats["steps"] == 8 and stats["resumed_from_step"] == 0
    rows = [json.loads(r) for r in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 9))
    assert rows[-1]["lr"] < rows[0]["lr"]  # cosine decay, no warm-up
    assert set(rows[0]) >= {"step", "loss", "con", "lm", "lr", "seconds", "grad_norm", "subset"}


def test_non_finite_loss_stops_with_the_batch_keys(tmp_path):
    def bad(model, processor, batch):
        return StepOutput(loss=model([p.query for p in batch]).sum() * math.nan)

    with pytest.raises(FloatingPointError, match="non-finite loss"):
        train(FakeEncoder(), None, text_pairs(4), bad, LoopSettings(batch_size=2, max_steps=1),
              work_dir=tmp_path, progress=False)  # fmt: skip
