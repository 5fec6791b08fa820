"""train_run end to end on a tiny Qwen2.5-VL and rendered scene pairs: learns, saves, resumes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rge.backbone.tiny import build_tiny
from rge.data.mmeb import write_train_records
from rge.model.factory import load_pretrained, save_pretrained
from rge.stages import train_run
from rge.train.objectives import BaselineObjective
from rge.train.run import work_dir_for
from tests.fixtures.slices import stage_cfg
from tests.fixtures.train_fakes import scene_pairs

PIX = {"min_pixels": 56 * 56, "max_pixels": 56 * 56}
# over smoke's baseline slice: no warm-up or checkpoint beyond what a test sets, no hard
# negatives unless asked, the published texts (no fetched prompt tables here)
BASE = {"warmup_steps": 0, "checkpoint_every": 0, "use_negatives": False, "prompt_protocol": "mmeb"}


pytestmark = pytest.mark.usefixtures("restore_threads")


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("train_run")
    model, processor = build_tiny({}, seed=0, **PIX)
    save_pretrained(model, processor, root / "backbone")
    pairs = scene_pairs(root / "images", 16, negs=True)
    files = []
    for subset in ("left", "right"):  # two prepared files, as two training subsets
        files.append(root / f"{subset}.jsonl")
        write_train_records(files[-1], [p for p in pairs if p.subset == subset])
    return {"root": root, "files": files}


def _argv(setup: dict, out: Path, **cfg) -> list[str]:
    cfg = {**BASE, **PIX, "batch_size": 4, "max_steps": 5, "lr": 2e-3, "warmup_steps": 2,
           "seed": 1, "checkpoint_every": 2, "threads": 1, "progress": False, **cfg}  # fmt: skip
    cfg = stage_cfg("train_run", {"run": "baseline"}, **cfg)
    argv = ["--cfg", json.dumps(cfg), "--input", f"model={setup['root'] / 'backbone'}"]
    argv += [f"--input=train={f}" for f in setup["files"]]
    for name, rel in (("model", "model"), ("train_log", "log.jsonl"), ("summary", "summary.json")):
        argv.append(f"--output={name}={out / rel}")
    return argv


def _weights(model_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(model_dir / "model.safetensors")


def test_trains_saves_and_reloads(setup, tmp_path):
    summary = train_run.main(_argv(setup, tmp_path, use_negatives=True))
    rows = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5]
    assert all(math.isfinite(r["loss"]) and r["con"] == r["loss"] for r in rows)
    assert all(r["candidates"] == 8 for r in rows)  # 4 positives + 4 hard negatives
    assert len({r["subset"] for r in rows}) == 2 and rows[0]["lr"] < rows[1]["lr"]  # warm-up
    assert summary["steps"] == 5 and summary["ln_batch"] == pytest.approx(math.log(4))
    assert summary["ln_candidates"] == pytest.approx(math.log(8))
    assert summary["pairs"] == 16 and summary["pairs_per_subset"] == {"left": 8, "right": 8}
    assert (
        json.loads((tmp_path / "summary.json").read_text())["final_loss"] == summary["final_loss"]
    )
    assert not work_dir_for(tmp_path / "model").exists()

    before, after = _weights(setup["root"] / "backbone"), _weights(tmp_path / "model")
    unchanged = sorted(k for k in before if torch.equal(before[k], after[k]))
    # the baseline never calls the LM head (no LM loss), everything else must have moved
    assert unchanged == ["lm_head.weight"]
    model, _ = load_pretrained(str(tmp_path / "model"), **PIX)
    assert torch.equal(model.state_dict()["lm_head.weight"], after["lm_head.weight"])


class _Killed(Exception):
    pass


def test_killed_run_resumes_to_the_same_weights(setup, tmp_path, monkeypatch):
    train_run.main(_argv(setup, tmp_path / "full"))

    real, calls = BaselineObjective.__call__, [0]

    def dying(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] == 4:  # dies during step 4: checkpoint at step 2, log rows 1-3 on disk
            raise _Killed
        return real(self, *args, **kwargs)

    # patch the method, not the object: the resume fingerprint names the objective's class
    monkeypatch.setattr(BaselineObjective, "__call__", dying)
    with pytest.raises(_Killed):
        train_run.main(_argv(setup, tmp_path / "cut"))
    work = work_dir_for(tmp_path / "cut" / "model")
    assert (work / "checkpoints" / "step-00000002").is_dir()
    assert not (tmp_path / "cut" / "model").exists()
    monkeypatch.setattr(BaselineObjective, "__call__", real)
    summary = train_run.main(_argv(setup, tmp_path / "cut"))

    assert summary["resumed_from_step"] == 2 and summary["steps"] == 5
    full, cut = _weights(tmp_path / "full" / "model"), _weights(tmp_path / "cut" / "model")
    assert all(torch.equal(full[k], cut[k]) for k in full)
    losses = [
        [json.loads(r)["loss"] for r in (tmp_path / d / "log.jsonl").read_text().splitlines()]
        for d in ("full", "cut")
    ]
    assert losses[0] == losses[1] and len(losses[0]) == 5


def test_missing_pixels_key_is_named(setup, tmp_path):
    argv = _argv(setup, tmp_path)
    cfg = json.loads(argv[1])
    del cfg["max_pixels"]
    argv[1] = json.dumps(cfg)
    with pytest.raises(KeyError, match="max_pixels"):
        train_run.main(argv)


@pytest.fixture(scope="module")
def rationale_files(setup) -> list[Path]:
    from rge.data.mmeb import read_train_records
    from rge.io import write_jsonl
    from tests.fixtures.rge_train_helpers import rationale_rows

    out = []
    for f in setup["files"]:
        out.append(f.with_suffix(".rationales.jsonl"))
        write_jsonl(out[-1], rationale_rows(read_train_records(f)))
    return out


def _rge_argv(setup, files, out: Path, **cfg) -> list[str]:
    cfg = {"objective": "rge", "pair": "q_self", "max_new_tokens": 4, "chunk_size": 2,
           "alpha_lm": 1, "alpha_con": 10, **cfg}  # fmt: skip
    return _argv(setup, out, **cfg) + [f"--input=rationales={f}" for f in files]


def test_rge_q_self_run_logs_its_parts_and_resumes_to_the_same_weights(
    setup, rationale_files, tmp_path, monkeypatch
):
    from rge.train.objectives import RgeObjective

    summary = train_run.main(_rge_argv(setup, rationale_files, tmp_path / "full"))
    rows = [json.loads(r) for r in (tmp_path / "full" / "log.jsonl").read_text().splitlines()]
    assert summary["objective"] == "rge" and summary["steps"] == 5
    for r in rows:
        assert r["loss"] == pytest.approx((r["lm"] + 10 * r["con"]) / 11, rel=1e-5)
        assert 0 < r["self_tokens"] <= 4 and 0 <= r["forced_emb"] <= 1
        # the step's self rationales, one per pair of its batch, for the training-row probe
        assert len(r["self_rationales"]) == 4  # batch_size
        assert all(k.startswith(r["subset"] + "/") for k, _ in r["self_rationales"])
    before, after = _weights(setup["root"] / "backbone"), _weights(tmp_path / "full" / "model")
    assert not torch.equal(before["lm_head.weight"], after["lm_head.weight"])  # LM loss trains it

    real, calls = RgeObjective.__call__, [0]

    def dying(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] == 3:
            raise _Killed
        return real(self, *args, **kwargs)

    monkeypatch.setattr(RgeObjective, "__call__", dying)
    with pytest.raises(_Killed):
        train_run.main(_rge_argv(setup, rationale_files, tmp_path / "cut"))
    monkeypatch.setattr(RgeObjective, "__call__", real)
    resumed = train_run.main(_rge_argv(setup, rationale_files, tmp_path / "cut"))
    assert resumed["resumed_from_step"] == 2
    full, cut = _weights(tmp_path / "full" / "model"), _weights(tmp_path / "cut" / "model")
    assert all(torch.equal(full[k], cut[k]) for k in full)
    cut_rows = [json.loads(r) for r in (tmp_path / "cut" / "log.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in cut_rows] == [r["loss"] for r in rows]


def test_rge_q_self_run_has_the_same_losses_under_either_engine(
    setup, rationale_files, tmp_path, monkeypatch
):
    """Generation hands training only token ids: the engines must give identical steps."""
    import rge.model.reasoning as reasoning

    real, seen = reasoning.generate_rationales, []

    def spy(*args, **kwargs):
        seen.append(kwargs["generation"].engine)
        return real(*args, **kwargs)

    monkeypatch.setattr(reasoning, "generate_rationales", spy)
    rows = {}
    for engine in ("dynamic", "static"):
        out = tmp_path / engine
        summary = train_run.main(
            _rge_argv(setup, rationale_files, out, max_steps=3, generation={"engine": engine})
        )
        assert summary["settings"]["generation"] == {"engine": engine}
        rows[engine] = [json.loads(r) for r in (out / "log.jsonl").read_text().splitlines()]
    keys = ("loss", "lm", "con", "self_tokens", "forced_emb", "grad_norm")
    assert [[r[k] for k in keys] for r in rows["static"]] == [
        [r[k] for k in keys] for r in rows["dynamic"]
    ]
    assert seen == ["dynamic"] * 3 + ["static"] * 3  # one generation call per step
    dyn, sta = _weights(tmp_path / "dynamic" / "model"), _weights(tmp_path / "static" / "model")
    assert all(torch.equal(dyn[k], sta[k]) for k in dyn)


def test_rge_run_without_a_rationale_for_a_row_names_it(setup, rationale_files, tmp_path):
    with pytest.raises(KeyError, match="no oracle rationale for key"):
        train_run.main(_rge_argv(setup, rationale_files[:1], tmp_path, pair="q"))


def test_data_cold_start_trains_on_the_selected_rows_only(setup, tmp_path):
    """Run key ``data: cold_start`` (issue 12): the rule adds the selection as an input."""
    keys = {
        f.stem: [json.loads(line)["key"] for line in f.read_text().splitlines()]
        for f in setup["files"]
    }
    chosen = keys["left"][:4] + keys["right"][2:6]
    selection = tmp_path / "selection.json"
    # the selection spans the study's subsets; "other" is not one this run trains on
    selection.write_text(json.dumps({"keys": [*chosen, "other/0"]}))
    argv = _argv(setup, tmp_path, max_steps=1, data="cold_start")
    summary = train_run.main([*argv, f"--input=selection={selection}"])
    assert summary["pairs"] == 8 and summary["pairs_per_subset"] == {"left": 4, "right": 4}
