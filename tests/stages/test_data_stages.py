"""Data stages end to end: make_synthetic -> fetch_* (mirror = its output) -> prepare_train
-> select_cold_start, each through its ``main([...])`` CLI, plus bad-row handling."""

from __future__ import annotations

import huggingface_hub
import pytest

from rge.data.mmeb import DataError, load_eval_rows, load_train_pairs, read_train_records
from rge.data.retrieval import load_retrieval_set
from rge.io import read_json
from rge.stages import (
    data_report,
    fetch_mmeb_eval,
    fetch_mmeb_train,
    fetch_prompt_tables,
    fetch_retrieval,
    make_synthetic,
    prepare_train,
    select_cold_start,
)
from tests.fixtures.mirror_fixture import build_mirror
from tests.fixtures.slices import stage_argv as _args
from tests.fixtures.slices import stage_cfg

SYN_CFG = stage_cfg(
    "make_synthetic",
    seed=1, train_rows=10, eval_rows=4, num_candidates=5, retrieval_images=6, image_size=64,
)  # fmt: skip


def _train_cfg(subset: str, mirror: str, **over) -> dict:
    return stage_cfg("fetch_mmeb_train", {"subset": subset}, mirror=mirror, **over)


def _prep_cfg(subset: str, **over) -> dict:
    return stage_cfg("prepare_train", {"subset": subset}, **over)


@pytest.fixture(scope="module")
def syn(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "make_synthetic"
    make_synthetic.main(_args(SYN_CFG, outputs={"out": out}))
    return out


def test_make_synthetic(syn, tmp_path):
    manifest = read_json(syn / "manifest.json")
    assert manifest["sizes"]["image_size"] == 64 and manifest["seed"] == 1
    assert (syn / "MMEB-eval" / "images.zip").is_file()
    assert (syn / "scenes" / "train" / "SynObjects.jsonl").is_file()
    assert not list(syn.parent.glob(".make_synthetic.*"))  # no temp dir left behind


def _fetch_train(syn, tmp_path, subset, log=None):
    out = tmp_path / "fetch_mmeb_train" / subset
    cfg = _train_cfg(subset, str(syn / "MMEB-train"), revision="")
    fetch_mmeb_train.main(_args(cfg, outputs={"out": out}, log=log))
    return out


def test_fetch_train_and_prepare(syn, tmp_path):
    log = tmp_path / "logs" / "fetch.log"
    fetched = _fetch_train(syn, tmp_path, "SynColorQA", log)
    assert "SynColorQA" in log.read_text()
    records, report = tmp_path / "prep" / "SynColorQA.jsonl", tmp_path / "prep" / "SynColorQA.json"
    prepare_train.main(
        _args(_prep_cfg("SynColorQA"), {"fetched": fetched}, {"records": records, "report": report})
    )
    rep = read_json(report)
    assert (rep["rows_read"], rep["kept"], rep["skipped"], rep["written"]) == (10, 10, 0, 10)
    assert read_train_records(records) == load_train_pairs(fetched, "SynColorQA").records


def test_prepare_max_rows(syn, tmp_path):
    fetched = _fetch_train(syn, tmp_path, "SynGround")
    out = {"records": tmp_path / "r.jsonl", "report": tmp_path / "r.json"}
    prepare_train.main(_args(_prep_cfg("SynGround", max_rows=3), {"fetched": fetched}, out))
    assert [p.key for p in read_train_records(out["records"])] == [
        f"SynGround/{i}" for i in range(3)
    ]


def test_fetch_eval(syn, tmp_path):
    out = tmp_path / "fetch_mmeb_eval" / "SynCIRR"
    cfg = stage_cfg(
        "fetch_mmeb_eval", {"task": "SynCIRR"}, revision="", mirror=str(syn / "MMEB-eval")
    )
    fetch_mmeb_eval.main(_args(cfg, outputs={"out": out}))
    rows = load_eval_rows(out, "SynCIRR").records
    assert len(rows) == 4 and all(len(r.candidates) == 5 for r in rows)
    # Only this task's images were extracted.
    assert sorted(p.name for p in (out / "eval_images").iterdir()) == ["SynCIRR"]


@pytest.mark.parametrize("bench", ["SynFlickr", "SynCOCO"])
def test_fetch_retrieval(syn, tmp_path, bench):
    out = tmp_path / "fetch_retrieval" / bench
    cfg = stage_cfg(
        "fetch_retrieval", {"bench": bench},
        repo_id="royokong/flickr30k_test", revision="", mirror=str(syn / "retrieval" / bench),
    )  # fmt: skip
    fetch_retrieval.main(_args(cfg, outputs={"out": out}))
    rs = load_retrieval_set(out)
    assert (rs.name, len(rs.images), len(rs.captions)) == (bench, 6, 30)


def test_fetch_from_hub_uses_same_code(syn, tmp_path, monkeypatch):
    seen = {}

    def fake(repo_id, **kw):
        seen.update(repo_id=repo_id, **kw)
        return str(syn / "MMEB-train")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)
    out = tmp_path / "hub" / "SynObjects"
    cfg = _train_cfg("SynObjects", "", revision="v1")
    fetch_mmeb_train.main(_args(cfg, outputs={"out": out}))
    assert seen["revision"] == "v1" and seen["allow_patterns"][1] == "images_zip/SynObjects.zip"
    assert len(load_train_pairs(out, "SynObjects").records) == 10


def test_prepare_skip_and_raise_on_fixture_mirror(tmp_path):
    mirror = build_mirror(tmp_path / "mirror")
    fetched = tmp_path / "fetched"
    cfg = _train_cfg("TinyCls", str(mirror.train), repo_id="x", revision="")
    fetch_mmeb_train.main(_args(cfg, outputs={"out": fetched}))
    (fetched / "images/TinyCls/Train/gray.png").write_bytes(b"corrupt")
    out = {"records": tmp_path / "p.jsonl", "report": tmp_path / "p.json"}
    with pytest.raises(DataError, match="row 1, column 'qry_image_path'"):
        prepare_train.main(_args(_prep_cfg("TinyCls"), {"fetched": fetched}, out))
    assert not out["records"].exists()
    prepare_train.main(_args(_prep_cfg("TinyCls", on_bad_row="skip"), {"fetched": fetched}, out))
    rep = read_json(out["report"])
    assert (rep["rows_read"], rep["kept"], rep["skipped"]) == (4, 3, 1)
    assert rep["skipped_rows"][0]["row"] == 1 and "cannot read" in rep["skipped_rows"][0]["reason"]
    assert [p.key for p in read_train_records(out["records"])] == [
        "TinyCls/0",
        "TinyCls/2",
        "TinyCls/3",
    ]


def test_select_cold_start(syn, tmp_path):
    records = []
    for subset in ("SynObjects", "SynCOCO_t2i", "SynNews_i2t"):
        fetched = _fetch_train(syn, tmp_path, subset)
        rec = tmp_path / "prep" / f"{subset}.jsonl"
        prepare_train.main(
            _args(
                _prep_cfg(subset),
                {"fetched": fetched},
                {"records": rec, "report": tmp_path / "prep" / f"{subset}.json"},
            )
        )
        records.append(rec)
    sel_path = tmp_path / "cold_start.json"
    select_cold_start.main(
        _args(
            stage_cfg("select_cold_start", size=14, seed=0),
            {"records": records},
            {"selection": sel_path},
        )
    )
    sel = read_json(sel_path)
    assert sel["size"] == 14 and len(set(sel["keys"])) == 14
    # 14 of 30 rows over three subsets of 10: 4.67 each -> 5, 5, 4 (ties broken by name).
    assert sel["per_subset"] == {"SynCOCO_t2i": 5, "SynNews_i2t": 5, "SynObjects": 4}
    for subset, n in sel["per_subset"].items():
        assert sum(k.startswith(f"{subset}/") for k in sel["keys"]) == n
    again = tmp_path / "again.json"
    select_cold_start.main(
        _args(
            stage_cfg("select_cold_start", size=14, seed=0),
            {"records": records},
            {"selection": again},
        )
    )
    assert again.read_bytes() == sel_path.read_bytes()
    other = tmp_path / "other.json"
    select_cold_start.main(
        _args(
            stage_cfg("select_cold_start", size=14, seed=5),
            {"records": records},
            {"selection": other},
        )
    )
    assert read_json(other)["keys"] != sel["keys"]


def test_data_report_on_the_synthetic_benchmark(syn, tmp_path):
    tables = tmp_path / "fetch_prompt_tables"
    fetch_prompt_tables.main(_args({"mirror": str(syn / "RGE")}, outputs={"out": tables}))
    tasks = ["SynObjects", "SynShapeQA"]
    data = []
    for task in tasks:
        data.append(tmp_path / "fetch_mmeb_eval" / task)
        cfg = {"repo_id": "x", "revision": "", "mirror": str(syn / "MMEB-eval"), "task": task}
        fetch_mmeb_eval.main(_args(cfg, outputs={"out": data[-1]}))
    outputs = {"json": tmp_path / "r.json", "md": tmp_path / "r.md"}
    cfg = {"tasks": tasks, "train_subsets": ["SynObjects", "SynCOCO_i2t"],
           "prompt_protocol": "rge_release"}  # fmt: skip
    report = data_report.main(
        _args(cfg, inputs={"data": data, "prompt_tables": tables}, outputs=outputs)
    )
    assert read_json(outputs["json"]) == report
    assert report["tables_source"] == f"mirror {syn / 'RGE'}"
    counts = report["candidate_list_counts"]
    assert list(counts) == tasks and counts["SynObjects"]["published"]["num_rows"] == 4
    # SynShapeQA deliberately has no candidate entry in the synthetic tables
    assert report["coverage"]["eval_targets"] == ["SynShapeQA"]
    assert "| SynShapeQA | 4 |" in outputs["md"].read_text()
