"""rge.data.synthetic: written in MMEB's layout, read back by the real loaders, deterministic."""

from __future__ import annotations

import os
import re

import pytest

from rge.data.images import load_image
from rge.data.mmeb import fetch_eval_task, fetch_train_subset, load_eval_rows, load_train_pairs
from rge.data.records import IMAGE_TOKEN
from rge.data.retrieval import fetch_retrieval, load_retrieval_set
from rge.data.scenes import COLORS, SHAPES
from rge.data.synthetic import (
    CROP_TARGET,
    IMAGE_TARGET,
    RETRIEVAL_BENCHES,
    SYNTHETIC_TASKS,
    read_sidecar,
    write_benchmark,
)

SIZES = {"seed": 3, "train_rows": 12, "eval_rows": 10, "num_candidates": 6, "retrieval_images": 8}
IND = [n for n, t in SYNTHETIC_TASKS.items() if t.split == "IND"]


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("syn") / "bench"
    return out, write_benchmark(out, **SIZES)


@pytest.fixture(scope="module")
def eval_data(bench, tmp_path_factory):
    out, _ = bench
    fetched = tmp_path_factory.mktemp("fetched_eval")
    data = {}
    for name in SYNTHETIC_TASKS:
        fetch_eval_task(out / "MMEB-eval", name, fetched / name)
        rows = load_eval_rows(fetched / name, name).records
        data[name] = (rows, read_sidecar(out / "scenes" / "eval" / f"{name}.jsonl"))
    return data


def _label(obj: dict) -> str:
    return f"{obj['color']} {obj['shape']}"


def test_registry_covers_meta_tasks_and_splits():
    metas = {t.meta_task for t in SYNTHETIC_TASKS.values()}
    assert metas == {"classification", "vqa", "retrieval", "grounding"}
    for split in ("IND", "OOD"):
        assert {t.meta_task for t in SYNTHETIC_TASKS.values() if t.split == split} == metas
    assert all(
        t.query_modality in {"image", "text", "image+text"} for t in SYNTHETIC_TASKS.values()
    )
    assert all(t.target_modality in {"image", "text"} for t in SYNTHETIC_TASKS.values())


def test_manifest_lists_ind_train_and_all_eval(bench):
    out, manifest = bench
    assert sorted(manifest["train"]) == sorted(IND)
    assert sorted(manifest["eval"]) == sorted(SYNTHETIC_TASKS)
    assert sorted(p.name for p in (out / "MMEB-train").iterdir() if p.is_dir()) == sorted(
        IND + ["images_zip"]
    )


@pytest.mark.parametrize("name", IND)
def test_train_subset_reads_back(bench, tmp_path, name):
    out, _ = bench
    fetch_train_subset(out / "MMEB-train", name, tmp_path / "f")
    loaded = load_train_pairs(tmp_path / "f", name)
    assert loaded.n_rows == SIZES["train_rows"] and not loaded.skipped
    side = read_sidecar(out / "scenes" / "train" / f"{name}.jsonl")
    assert sorted(side) == sorted(p.key for p in loaded.records)
    task = SYNTHETIC_TASKS[name]
    for pair in loaded.records:
        assert (pair.query.image is not None) == ("image" in task.query_modality)
        assert (pair.pos.image is not None) == (task.target_modality == "image")
        assert len(pair.negs) == (1 if task.hard_negative else 0)
        rec = side[pair.key]
        if pair.query.image:
            assert pair.query.image == os.path.abspath(tmp_path / "f" / rec["qry_image_path"])
        assert rec["target_text"] == pair.pos.text
    img = next(p for p in loaded.records if p.query.image or p.pos.image)
    assert load_image(img.query.image or img.pos.image).size in {(112, 112), (56, 56)}


def test_query_and_target_styles_differ(eval_data):
    for rows, _ in eval_data.values():
        for row in rows:
            assert (
                row.query.text.endswith((".\n", "?\n"))
                or "caption:" in row.query.text
                or "headline:" in row.query.text
            ), row.query.text
            for cand in row.candidates:
                assert cand.text in (IMAGE_TARGET, CROP_TARGET) or IMAGE_TOKEN not in cand.text
                assert not cand.text.endswith("?\n")


def test_candidates_distinct_and_counted(bench, eval_data):
    vocab = {"SynColorQA": len(COLORS), "SynShapeQA": len(SHAPES)}
    for name, (rows, _) in eval_data.items():
        want = min(SIZES["num_candidates"], vocab.get(name, 99))
        assert len(rows) == SIZES["eval_rows"]
        for row in rows:
            assert len(row.candidates) == want, name
            assert len({c.key for c in row.candidates}) == want, name
            for c in row.candidates:
                assert c.image is None or os.path.isfile(c.image)
    assert bench[1]["eval"]["SynShapeQA"]["candidates"] == len(SHAPES)


def _answer_text(name: str, query: str, scene: dict) -> str:
    """The right answer recomputed from the query text and the scene (not the builder)."""
    left, right = scene["left"], scene["right"]
    if name == "SynObjects":
        return _label(left)
    if name == "SynObjectsRight":
        return _label(right)
    if name == "SynShapeQA":
        colour = re.search(r"the (\w+) object\?", query).group(1)
        return next(o for o in (left, right) if o["color"] == colour)["shape"]
    assert name == "SynColorQA"
    if "on the left" in query:
        return left["color"]
    if "on the right" in query:
        return right["color"]
    if m := re.search(r"next to the (\w+) one", query):
        return next(o for o in (left, right) if o["color"] != m.group(1))["color"]
    shape = re.search(r"colour is the (\w+)\?", query).group(1)
    (obj,) = [o for o in (left, right) if o["shape"] == shape]
    return obj["color"]


@pytest.mark.parametrize("name", ["SynObjects", "SynObjectsRight", "SynColorQA", "SynShapeQA"])
def test_text_ground_truth_matches_scene(eval_data, name):
    rows, side = eval_data[name]
    for row in rows:
        scene = side[row.key]["scene"]
        assert row.candidates[0].text == _answer_text(name, row.query.text, scene)
    # The hardest distractor comes first: the other object's label / attribute.
    if name in ("SynObjects", "SynObjectsRight"):
        other = "right" if name == "SynObjects" else "left"
        assert all(r.candidates[1].text == _label(side[r.key]["scene"][other]) for r in rows)


def test_grounding_targets_are_the_named_object(eval_data):
    for name in ("SynGround", "SynRefGround"):
        rows, side = eval_data[name]
        for row in rows:
            rec = side[row.key]
            target = rec["target_image"]
            obj = target["scene"][target["side"]]
            if name == "SynGround":
                assert row.query.text.rstrip(".\n").endswith(_label(obj))
            elif "to the" in row.query.text:
                other = rec["scene"]["left" if target["side"] == "right" else "right"]
                assert f"to the {target['side']} of the {_label(other)}" in row.query.text
            else:
                assert f"the {obj['color']} object" in row.query.text
            assert load_image(row.candidates[0].image).size == (56, 56)


def test_cirr_target_applies_the_edit(eval_data):
    rows, side = eval_data["SynCIRR"]
    for row in rows:
        rec = side[row.key]
        edit = re.search(
            r"(change|turn) the (left|right) object (?:to|into a) (\w+)", row.query.text
        )
        _, where, value = edit.groups()
        target = rec["target_image"]["scene"]
        attr = "color" if value in COLORS else "shape"
        assert target[where][attr] == value
        expect = {**rec["scene"], where: {**rec["scene"][where], attr: value}}
        assert target == expect
        # The unmodified query image is the hardest distractor.
        assert row.candidates[1].image == row.query.image


def test_t2i_and_i2t_captions_name_both_objects(eval_data):
    for name in ("SynCOCO_t2i", "SynNews_t2i", "SynCOCO_i2t", "SynNews_i2t"):
        rows, side = eval_data[name]
        for row in rows:
            scene = side[row.key]["scene"]
            text = row.query.text if name.endswith("t2i") else row.candidates[0].text
            for obj in (scene["left"], scene["right"]):
                assert _label(obj) in text.lower()


@pytest.mark.parametrize("bench_name", RETRIEVAL_BENCHES)
def test_retrieval_sets_read_back(bench, tmp_path, bench_name):
    out, manifest = bench
    fetch_retrieval(out / "retrieval" / bench_name, tmp_path / "r", name=bench_name)
    rs = load_retrieval_set(tmp_path / "r")
    n = SIZES["retrieval_images"]
    assert len(rs.images) == n and len(rs.captions) == 5 * n
    assert rs.caption_image == tuple(j // 5 for j in range(5 * n))
    assert len(set(rs.captions)) == 5 * n
    side = read_sidecar(out / "scenes" / "retrieval" / f"{bench_name}.jsonl")
    for j, cap in enumerate(rs.captions):
        scene = side[f"{bench_name}/{j // 5}"]["scene"]
        assert _label(scene["left"]) in cap and _label(scene["right"]) in cap
    if bench_name == "SynCOCO":  # like COCO, some images carry more than 5 captions
        assert manifest["retrieval"]["SynCOCO"]["captions"] > 5 * n


def _tree(root) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_same_seed_same_bytes(bench, tmp_path):
    out, _ = bench
    write_benchmark(tmp_path / "again", **SIZES)
    a, b = _tree(out), _tree(tmp_path / "again")
    assert sorted(a) == sorted(b)
    assert [k for k in a if a[k] != b[k]] == []
    write_benchmark(tmp_path / "other", **{**SIZES, "seed": 4})
    c = _tree(tmp_path / "other")
    key = "MMEB-train/SynObjects/original-00000-of-00001.parquet"
    assert c[key] != a[key]


def test_two_candidates_and_task_subset(tmp_path):
    m = write_benchmark(
        tmp_path / "b",
        seed=0,
        train_rows=2,
        eval_rows=3,
        num_candidates=2,
        retrieval_images=2,
        tasks=["SynColorQA", "SynCIRR"],
    )
    assert sorted(m["train"]) == ["SynColorQA"] and sorted(m["eval"]) == ["SynCIRR", "SynColorQA"]
    fetch_eval_task(tmp_path / "b" / "MMEB-eval", "SynCIRR", tmp_path / "f")
    rows = load_eval_rows(tmp_path / "f", "SynCIRR").records
    assert all(len(r.candidates) == 2 for r in rows)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"tasks": ["Nope"]}, "unknown synthetic"), ({"num_candidates": 1}, "num_candidates")],
)
def test_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        write_benchmark(tmp_path, **{**SIZES, **kwargs})


def test_prompt_tables_rewrite_every_task_in_the_release_schema(bench, eval_data, tmp_path):
    from rge.data.protocol import eval_rows, load_tables, missing_entries, train_pairs

    out, manifest = bench
    tables = load_tables(out / manifest["prompt_tables"]["dir"])
    assert sorted(tables.train) == sorted(IND) and sorted(tables.eval) == sorted(SYNTHETIC_TASKS)
    assert missing_entries(SYNTHETIC_TASKS, tables.candidate) == ["SynShapeQA"]
    assert [t for t in tables.train if tables.train[t] != tables.eval[t]] == ["SynCOCO_t2i"]
    for name, (rows, _) in eval_data.items():
        new = eval_rows(rows, "rge_release", tables)
        for old, row in zip(rows, new, strict=True):
            # every query instruction is really rewritten (the table's original is found)
            assert row.query.text != old.query.text and row.query.text.endswith("\n")
            assert row.query.image == old.query.image
            for c_old, c_new in zip(old.candidates, row.candidates, strict=True):
                if name == "SynShapeQA":
                    assert c_new.text == c_old.text + "\n"  # no entry: newline only
                else:
                    assert c_new.text != c_old.text and "in one word" in c_new.text
    colour = eval_rows(eval_data["SynColorQA"][0][:1], "rge_release", tables)[0]
    gt = eval_data["SynColorQA"][0][0].candidates[0].text
    assert colour.candidates[0].text == f"Summarize the following colour in one word: {gt}.\n"
    for name in IND:
        fetch_train_subset(out / "MMEB-train", name, tmp_path / name)
        pairs = load_train_pairs(tmp_path / name, name).records
        for old, new in zip(pairs, train_pairs(pairs, "rge_release", tables), strict=True):
            assert new.query.text != old.query.text and IMAGE_TOKEN not in new.query.text
            assert "in one word" in new.pos.text
