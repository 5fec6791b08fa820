"""cold_start end to end: LM-only training on the selected rows; its model starts an rge run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rge.backbone.tiny import build_tiny
from rge.data.mmeb import write_train_records
from rge.io import write_json, write_jsonl
from rge.model.factory import save_pretrained
from rge.stages import cold_start, train_run
from tests.fixtures.rge_train_helpers import rationale_rows
from tests.fixtures.slices import stage_cfg
from tests.fixtures.train_fakes import scene_pairs

PIX = {"min_pixels": 56 * 56, "max_pixels": 56 * 56}
# over smoke's slices: no warm-up, checkpoints only at the end, the published texts (no
# fetched prompt tables here)
BASE = {"warmup_steps": 0, "checkpoint_every": 0, "prompt_protocol": "mmeb"}


pytestmark = pytest.mark.usefixtures("restore_threads")


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("cold_start")
    model, processor = build_tiny({}, seed=0, **PIX)
    save_pretrained(model, processor, root / "backbone")
    pairs = scene_pairs(root / "images", 16)
    files, rats = [], []
    for subset in ("left", "right"):
        rows = [p for p in pairs if p.subset == subset]
        files.append(root / f"{subset}.jsonl")
        write_train_records(files[-1], rows)
        rats.append(root / f"{subset}.rationales.jsonl")
        write_jsonl(rats[-1], rationale_rows(rows))
    keys = [p.key for p in pairs][:12]  # 6 per subset
    write_json(root / "selection.json", {"size": len(keys), "seed": 0, "keys": keys})
    return {"root": root, "files": files, "rats": rats, "keys": keys}


def _argv(setup: dict, out: Path, selection: Path | None = None, **cfg) -> list[str]:
    cfg = {**BASE, **PIX, "batch_size": 4, "max_steps": 4, "lr": 3e-3, "seed": 0, "threads": 1,
           "progress": False, "chunk_size": 2, **cfg}  # fmt: skip
    cfg = stage_cfg("cold_start", {}, **cfg)
    argv = ["--cfg", json.dumps(cfg), "--input", f"model={setup['root'] / 'backbone'}"]
    argv += [f"--input=records={f}" for f in setup["files"]]
    argv += [f"--input=rationales={f}" for f in setup["rats"]]
    argv.append(f"--input=selection={selection or setup['root'] / 'selection.json'}")
    for name, rel in (("model", "model"), ("train_log", "log.jsonl"), ("summary", "summary.json")):
        argv.append(f"--output={name}={out / rel}")
    return argv


def test_cold_start_trains_lm_only_on_the_selection_and_inits_an_rge_run(setup, tmp_path):
    summary = cold_start.main(_argv(setup, tmp_path / "cs", max_steps=6, objective="baseline"))
    rows = [json.loads(r) for r in (tmp_path / "cs" / "log.jsonl").read_text().splitlines()]
    assert summary["objective"] == "lm" and summary["selected"] == 12
    assert summary["pairs_per_subset"] == {"left": 6, "right": 6}
    assert all(r["con"] is None and r["loss"] == pytest.approx(r["lm"]) for r in rows)
    assert rows[-1]["lm"] < rows[0]["lm"]  # the format is being learned
    before = load_file(setup["root"] / "backbone" / "model.safetensors")
    after = load_file(tmp_path / "cs" / "model" / "model.safetensors")
    assert not torch.equal(before["lm_head.weight"], after["lm_head.weight"])

    # its model initialises an rge run (init: cold_start is wiring: the model input)
    cfg = {**BASE, **PIX, "objective": "rge", "pair": "q_self", "max_new_tokens": 4,
           "batch_size": 4, "max_steps": 2, "lr": 1e-4, "use_negatives": False, "threads": 1,
           "progress": False, "init": "cold_start"}  # fmt: skip
    cfg = stage_cfg("train_run", {"run": "rge"}, **cfg)
    rge_argv = ["--cfg", json.dumps(cfg), f"--input=model={tmp_path / 'cs' / 'model'}"]
    rge_argv += [f"--input=train={f}" for f in setup["files"]]
    rge_argv += [f"--input=rationales={f}" for f in setup["rats"]]
    rge_argv += [f"--output=model={tmp_path / 'rge' / 'model'}",
                 f"--output=train_log={tmp_path / 'rge' / 'log.jsonl'}",
                 f"--output=summary={tmp_path / 'rge' / 'summary.json'}"]  # fmt: skip
    rge = train_run.main(rge_argv)
    assert rge["init"] == "cold_start" and rge["steps"] == 2


def test_selection_naming_an_unknown_row_raises(setup, tmp_path):
    bad = tmp_path / "sel.json"
    write_json(bad, {"size": 2, "seed": 0, "keys": [setup["keys"][0], "left/999"]})
    with pytest.raises(KeyError, match="left/999"):
        cold_start.main(_argv(setup, tmp_path / "x", selection=bad))


def test_selected_row_without_rationale_is_named(setup, tmp_path):
    argv = [a for a in _argv(setup, tmp_path / "y") if "right.rationales" not in a]
    with pytest.raises(KeyError, match="no oracle rationale for key.*right/"):
        cold_start.main(argv)
