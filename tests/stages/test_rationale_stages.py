"""oracle_rationales (sharded, resumable) and check_rationales, end to end on tiny data."""

import json
from pathlib import Path

import pytest

from rge.data.mmeb import fetch_train_subset, load_train_pairs, write_train_records
from rge.data.synthetic import write_benchmark
from rge.io import read_json, read_jsonl, write_jsonl
from rge.model.factory import save_pretrained
from rge.rationale.prompts import load_prompts
from rge.rationale.scene import SceneBackend
from rge.rationale.store import FIELDS, read_rationales
from rge.stages import check_rationales, oracle_rationales
from tests.fixtures.slices import stage_argv as _args
from tests.fixtures.slices import stage_cfg
from tests.fixtures.tiny_model import MAX_PIXELS, MIN_PIXELS, small_model

PROMPTS = Path(__file__).resolve().parents[2] / "config" / "prompts" / "oracle.yaml"
SUBSETS = ["SynColorQA", "SynGround"]
ROWS = 23


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A synthetic mirror, prepared records per subset, the scene sidecar folder."""
    root = tmp_path_factory.mktemp("rationales")
    mirror = root / "mirror"
    write_benchmark(
        mirror,
        seed=2,
        train_rows=ROWS,
        eval_rows=2,
        num_candidates=2,
        retrieval_images=2,
        image_size=56,
        tasks=SUBSETS,
    )
    records = {}
    for subset in SUBSETS:
        fetched = root / "fetch" / subset
        fetch_train_subset(mirror / "MMEB-train", subset, fetched)
        records[subset] = root / "prepare" / f"{subset}.jsonl"
        write_train_records(records[subset], load_train_pairs(fetched, subset).records)
    return {"records": records, "scenes": mirror / "scenes" / "train"}


def _oracle(data, out, subset="SynColorQA", shard=0, num_shards=1, **cfg):
    wildcards = {"subset": subset, "shard": str(shard)}
    cfg = stage_cfg(
        "oracle_rationales", wildcards, **{"num_shards": num_shards, "backend": "scene", **cfg}
    )
    inputs = {"records": data["records"][subset], "prompts": PROMPTS, "scenes": data["scenes"]}
    return oracle_rationales.main(_args(cfg, inputs, {"rationales": out}))


def _check(data, shards, tmp_path, subset="SynColorQA", **cfg):
    inputs = {"records": data["records"][subset], "shards": shards, "prompts": PROMPTS}
    outputs = {"rationales": tmp_path / "merged.jsonl", "report": tmp_path / "report.json"}
    cfg = stage_cfg("check_rationales", {"subset": subset}, **cfg)
    return check_rationales.main(_args(cfg, inputs, outputs))


def test_sharded_scene_rationales_merge_into_one_row_per_record(data, tmp_path):
    shards = [tmp_path / f"shard{i}.jsonl" for i in range(3)]
    for i, out in enumerate(shards):
        summary = _oracle(data, out, shard=i, num_shards=3, seed=4, batch_size=5)
        assert summary["rows"] == len(range(i, ROWS, 3)) and summary["resumed"] == 0
        assert not Path(f"{out}.partial").exists()
    rows0 = read_jsonl(shards[0])
    assert [r["key"] for r in rows0] == [f"SynColorQA/{i}" for i in range(0, ROWS, 3)]
    assert all(tuple(sorted(r)) == tuple(sorted(FIELDS)) for r in rows0)
    book = load_prompts(PROMPTS)
    t = book.template_for("SynColorQA")
    assert {(r["backend"], r["prompt_id"], r["prompt_hash"], r["seed"]) for r in rows0} == {
        ("scene", t.id, t.hash, 4)
    }
    report = _check(data, shards, tmp_path)
    merged = read_jsonl(tmp_path / "merged.jsonl")
    assert [r["key"] for r in merged] == [f"SynColorQA/{i}" for i in range(ROWS)]  # 2 before 10
    assert report == read_json(tmp_path / "report.json")
    assert (report["count"], report["bad"], report["shards"]) == (ROWS, 0, 3)
    assert report["prompt_ids"] == {t.id: ROWS} and report["backends"] == {"scene": ROWS}
    assert 12 <= report["mean_words"] <= 25
    assert len(read_rationales([tmp_path / "merged.jsonl"])) == ROWS


def test_sharding_does_not_change_the_rationales(data, tmp_path):
    one = tmp_path / "one.jsonl"
    _oracle(data, one, subset="SynGround", seed=1)
    parts = [tmp_path / f"p{i}.jsonl" for i in range(2)]
    for i, out in enumerate(parts):
        _oracle(data, out, subset="SynGround", shard=i, num_shards=2, seed=1, batch_size=3)
    assert read_rationales([one]) == read_rationales(parts)


def test_a_killed_shard_resumes_without_duplicates(data, tmp_path, monkeypatch):
    ref = tmp_path / "ref.jsonl"
    _oracle(data, ref, batch_size=4)
    out = tmp_path / "killed.jsonl"
    partial = Path(f"{out}.partial")
    real = SceneBackend.generate
    seen = []

    def dies_on_third_batch(self, requests):
        seen.append([r.key for r in requests])
        if len(seen) == 3:
            raise KeyboardInterrupt("killed")
        return real(self, requests)

    monkeypatch.setattr(SceneBackend, "generate", dies_on_third_batch)
    # the stage turns Ctrl-C into one line and exit status 130
    with pytest.raises(SystemExit) as stop:
        _oracle(data, out, batch_size=4)
    assert stop.value.code == 130
    assert not out.exists()
    assert len(read_jsonl(partial)) == 8
    # an earlier interrupted resume may have repeated rows; a kill mid-write cuts a line
    with open(partial, "a") as fh:
        fh.write(json.dumps(read_jsonl(partial)[0], sort_keys=True) + "\n")
        fh.write('{"key": "SynColorQA/9", "rati')
    seen.clear()
    monkeypatch.setattr(
        SceneBackend, "generate", lambda self, r: seen.append([q.key for q in r]) or real(self, r)
    )
    summary = _oracle(data, out, batch_size=4)
    assert (summary["resumed"], summary["generated"]) == (8, ROWS - 8)
    assert sum(len(b) for b in seen) == ROWS - 8 and "SynColorQA/0" not in seen[0]
    assert read_jsonl(out) == read_jsonl(ref)
    assert not partial.exists()


def test_partial_rows_from_other_settings_are_regenerated(data, tmp_path):
    out = tmp_path / "s.jsonl"
    _oracle(data, out, seed=1)
    stale = [{**r, "rationale": "old"} for r in read_jsonl(out)[:5]]
    write_jsonl(Path(f"{out}.partial"), stale)  # written with seed 1
    summary = _oracle(data, out, seed=2)
    assert summary["resumed"] == 0
    assert all(r["seed"] == 2 and r["rationale"] != "old" for r in read_jsonl(out))


def test_check_names_missing_and_duplicate_keys(data, tmp_path):
    shards = [tmp_path / f"s{i}.jsonl" for i in range(2)]
    for i, out in enumerate(shards):
        _oracle(data, out, shard=i, num_shards=2)
    with pytest.raises(ValueError, match=r"12 record\(s\) without a rationale \['SynColorQA/0'"):
        _check(data, shards[1:], tmp_path)
    with pytest.raises(ValueError, match="duplicate key 'SynColorQA/1'"):
        _check(data, [shards[0], shards[1], shards[1]], tmp_path)
    with pytest.raises(ValueError, match="not 'SynGround'"):
        _check(data, shards, tmp_path, subset="SynGround")


def test_bad_rationales_are_counted_kept_and_optionally_fatal(data, tmp_path):
    out = tmp_path / "s.jsonl"
    _oracle(data, out)
    rows = read_jsonl(out)
    rows[2]["rationale"] = ""
    rows[5]["rationale"] = "the target is blue ."
    rows[6]["rationale"] = " ".join(["blue"] * 60)
    write_jsonl(out, rows)
    report = _check(data, [out], tmp_path)
    assert (report["empty"], report["forbidden"], report["over_length"], report["garbled"]) == (
        1,
        1,
        1,
        1,
    )
    assert report["bad"] == 3 and report["forbidden_phrase_hits"] == {"target": 1}
    assert [e["key"] for e in report["examples"]] == [
        "SynColorQA/2",
        "SynColorQA/5",
        "SynColorQA/6",
    ]
    assert len(read_jsonl(tmp_path / "merged.jsonl")) == ROWS  # bad rows kept
    (tmp_path / "merged.jsonl").unlink()
    with pytest.raises(ValueError, match="3 bad rationale"):
        _check(data, [out], tmp_path, fail_on_bad=True)
    assert read_json(tmp_path / "report.json")["bad"] == 3
    assert not (tmp_path / "merged.jsonl").exists()
    assert _check(data, [out], tmp_path, max_words=100)["over_length"] == 0


def test_hf_backend_through_the_stage(data, tmp_path):
    model, processor = small_model(seed=1)
    save_pretrained(model, processor, tmp_path / "model")
    cfg = stage_cfg(
        "oracle_rationales",
        {"subset": "SynGround", "shard": "1"},
        backend="hf",
        num_shards=4,
        batch_size=3,
        settings={
            "min_pixels": MIN_PIXELS,
            "max_pixels": MAX_PIXELS,
            "max_new_tokens": 4,
            "gen_batch_size": 2,
            "model_id": "tiny-oracle",
        },
    )
    inputs = {
        "records": data["records"]["SynGround"],
        "prompts": PROMPTS,
        "model": tmp_path / "model",
    }
    out = tmp_path / "hf.jsonl"
    summary = oracle_rationales.main(_args(cfg, inputs, {"rationales": out}))
    rows = read_jsonl(out)
    assert summary["rows"] == len(rows) == len(range(1, ROWS, 4))
    assert {(r["backend"], r["model"], r["prompt_id"]) for r in rows} == {
        ("hf", "tiny-oracle", "ground-crop.v1")
    }
    assert rows[0]["sampling"]["max_new_tokens"] == 4


def test_config_errors(data, tmp_path):
    with pytest.raises(ValueError, match="shard must be"):
        _oracle(data, tmp_path / "x.jsonl", shard=3, num_shards=3)
    with pytest.raises(ValueError, match="unknown backend 'gpt'"):
        _oracle(data, tmp_path / "x.jsonl", backend="gpt")
    with pytest.raises(ValueError, match="needs the input 'model'"):
        _oracle(data, tmp_path / "x.jsonl", backend="hf", settings={"min_pixels": 1})
    with pytest.raises(ValueError, match="settings.model"):
        _oracle(data, tmp_path / "x.jsonl", backend="vllm")
