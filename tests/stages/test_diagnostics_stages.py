"""leakage_curves (three variants on a tiny Qwen2.5-VL, 3 steps each) and figure4 end to end."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest

from rge.data.mmeb import write_train_records
from rge.data.records import Item
from rge.io import write_jsonl
from rge.model.factory import save_pretrained
from rge.stages import figure4, leakage_curves
from tests.fixtures.rge_train_helpers import rationale_rows
from tests.fixtures.slices import stage_cfg
from tests.fixtures.tiny_model import small_model
from tests.fixtures.train_fakes import scene_pairs

VARIANTS = ("consistent", "wrong_target", "wrong_query")
# the smoke config's slice, smaller and shorter (threads and the progress bar are the job's)
CFG = {"min_pixels": 56 * 56, "max_pixels": 56 * 56, "steps": 3, "batch_size": 4, "lr": 2e-3,
       "alpha_lm": 1, "alpha_con": 10, "temperature": 0.05, "seed": 3}  # fmt: skip


def _leakage_cfg(variant: str) -> dict:
    # the published texts: these tests write no rewrite tables
    return stage_cfg("leakage_curves", {"variant": variant}, prompt_protocol="mmeb", **CFG)


pytestmark = pytest.mark.usefixtures("restore_threads")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """The three variants trained from the same model on the same rows."""
    root = tmp_path_factory.mktemp("leakage")
    model, processor = small_model(seed=0)
    save_pretrained(model, processor, root / "cold_start")
    # distinct query and target texts: a replaced item always differs from the row's own
    pairs = [dataclasses.replace(p, query=Item(f"{p.query.text} {i}", p.query.image),
                                 pos=Item(f"{p.pos.text} {i}"))
             for i, p in enumerate(scene_pairs(root / "images", 16))]  # fmt: skip
    ins = ["--input", f"model={root / 'cold_start'}"]
    for subset in ("left", "right"):
        rows = [p for p in pairs if p.subset == subset]
        write_train_records(root / f"{subset}.jsonl", rows)
        write_jsonl(root / f"{subset}.rat.jsonl", rationale_rows(rows))
        ins += [f"--input=train={root / f'{subset}.jsonl'}",
                f"--input=rationales={root / f'{subset}.rat.jsonl'}"]  # fmt: skip
    out = {}
    for v in VARIANTS:
        d = root / "leakage_curves" / v
        argv = ["--cfg", json.dumps(_leakage_cfg(v)), *ins,
                f"--output=train_log={d / 'train_log.jsonl'}",
                f"--output=summary={d / 'summary.json'}"]  # fmt: skip
        summary = leakage_curves.main(argv)
        log = [json.loads(line) for line in (d / "train_log.jsonl").read_text().splitlines()]
        out[v] = {"dir": d, "summary": summary, "log": log}
    return {"root": root, "runs": out}


def test_each_variant_logs_both_losses_and_keeps_no_weights(runs):
    for v, r in runs["runs"].items():
        assert [row["step"] for row in r["log"]] == [1, 2, 3]
        assert all(row["lm"] > 0 and row["con"] > 0 for row in r["log"])
        assert all(row["candidates"] == 4 for row in r["log"])  # no hard negatives
        s = r["summary"]
        assert (s["variant"], s["pair"], s["objective"], s["steps"]) == (v, "q_oracle", "rge", 3)
        assert json.loads((r["dir"] / "summary.json").read_text())["variant"] == v
        assert sorted(p.name for p in r["dir"].iterdir()) == ["summary.json", "train_log.jsonl"]
        if v != "consistent":
            assert all(row["perturb_same"] == 0.0 for row in r["log"])


def test_perturbations_change_what_the_first_step_sees(runs):
    # same weights, same first batch: only the perturbation differs at step 1
    first = {v: r["log"][0] for v, r in runs["runs"].items()}
    assert {row["subset"] for row in first.values()} == {first["consistent"]["subset"]}
    # wrong_target: the query side (q + r_o) is unchanged and the targets are a permutation of
    # the same batch, so the LM loss is the same; the contrastive pairs are not
    lm, con = first["consistent"]["lm"], first["consistent"]["con"]
    assert abs(first["wrong_target"]["lm"] - lm) < 1e-6  # float noise only
    assert abs(first["wrong_target"]["con"] - con) > 1e-3
    # wrong_query: r_o now follows another row's query, so the LM loss changes too (a little:
    # the untrained model's LM loss is close to ln(vocabulary) whatever it conditions on)
    assert abs(first["wrong_query"]["lm"] - lm) > 1e-5
    assert abs(first["wrong_query"]["con"] - con) > 1e-3


def test_unknown_variant_is_refused(runs, tmp_path):
    argv = ["--cfg", json.dumps({**_leakage_cfg("consistent"), "variant": "shuffled"}),
            f"--input=model={runs['root'] / 'cold_start'}",
            f"--input=train={runs['root'] / 'left.jsonl'}",
            f"--input=rationales={runs['root'] / 'left.rat.jsonl'}",
            f"--output=train_log={tmp_path / 'log.jsonl'}",
            f"--output=summary={tmp_path / 's.json'}"]  # fmt: skip
    with pytest.raises(ValueError, match="unknown variant 'shuffled'"):
        leakage_curves.main(argv)


def _figure_argv(runs: dict, out: Path, order=VARIANTS, **cfg) -> list[str]:
    argv = ["--cfg", json.dumps(stage_cfg("figure4", study="embedded", window=2, smooth=2, **cfg))]
    for v in order:
        d = runs["runs"][v]["dir"]
        argv += [
            f"--input=train_log={d / 'train_log.jsonl'}",
            f"--input=summary={d / 'summary.json'}",
        ]
    return argv + [f"--output=png={out / 'f.png'}", f"--output=csv={out / 'f.csv'}",
                   f"--output=md={out / 'f.md'}"]  # fmt: skip


def test_figure4_writes_plot_csv_and_note(runs, tmp_path):
    # inputs in another order: the figure still lists the variants in the paper's order
    result = figure4.main(_figure_argv(runs, tmp_path, order=VARIANTS[::-1]))
    assert result["variants"] == list(VARIANTS)
    png = (tmp_path / "f.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    with open(tmp_path / "f.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["variant"], int(r["step"])) for r in rows] == [
        (v, s) for v in VARIANTS for s in (1, 2, 3)
    ]
    log = runs["runs"]["wrong_query"]["log"]
    got = [float(r["con"]) for r in rows if r["variant"] == "wrong_query"]
    assert got == pytest.approx([row["con"] for row in log])
    md = (tmp_path / "f.md").read_text()
    assert "Config (study): `embedded`; runs: leakage_curves/consistent (3 steps, batch 4)" in md
    assert "NOT a reproduction" in md and "ln(B) = 1.386" in md
    final_lm = sum(row["lm"] for row in log[-2:]) / 2
    assert f"| wrong_query | (q_w, r_o, t) | {sum(r['lm'] for r in log[:2]) / 2:.3f} | " \
        f"{final_lm:.3f} |" in md  # fmt: skip


def test_figure4_refuses_mismatched_inputs(runs, tmp_path):
    argv = _figure_argv(runs, tmp_path)
    argv.remove(next(a for a in argv if a.startswith("--input=summary=")))
    with pytest.raises(ValueError, match="3 train_log inputs but 2 summaries"):
        figure4.main(argv)
