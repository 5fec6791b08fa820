"""embed_eval -> score_mmeb -> table2 / table15, and score_retrieval, end to end on tiny data.

The model is replaced by deterministic fake encoders (injected through ``main``); the eval task
is written in MMEB's parquet layout and read by the data layer's loader.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rge.data.mmeb import write_eval_parquet
from rge.data.protocol import TABLE_FILES, Rule, dump_table
from rge.data.records import RetrievalSet
from rge.io import read_json, read_jsonl, write_json
from rge.stages import embed_eval, score_mmeb, score_retrieval, table2, table15
from tests.fixtures.eval_fakes import COLOURS, WordEncoder
from tests.fixtures.slices import stage_cfg

PAPER = Path(__file__).resolve().parents[2] / "config" / "paper_numbers"


def write_task(root: Path, task: str) -> Path:
    """A fetched eval task: 4 rows, image queries, text candidates; WordEncoder acc = 0.75."""
    for c in COLOURS:
        (root / "eval_images" / task).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), c).save(root / "eval_images" / task / f"{c}.png")
    spec = [("red", "red green blue"), ("green", "green red yellow"),
            ("blue", "green blue red"), ("red", "red blue yellow")]  # fmt: skip
    rows = [
        {
            "qry_text": f"<|image_1|> what colour is {q} here",
            "qry_img_path": f"{task}/{q}.png",
            "tgt_text": [f"the colour {c}" for c in cands.split()],
            "tgt_img_path": ["", "", ""],
        }
        for q, cands in spec
    ]
    write_eval_parquet(root / task / "test-00000-of-00001.parquet", rows)
    return root


class FakeEncoders:
    """encoders(model_dir, cfg) -> encoder_for(mode, side); counts encoded items."""

    def __init__(self) -> None:
        self.enc = WordEncoder()
        self.seen: list[tuple[str, str]] = []

    def __call__(self, model_dir: Path, cfg: dict):
        assert model_dir.is_dir()

        def encoder_for(mode: str, side: str):
            self.seen.append((mode, side))
            return self.enc

        return encoder_for


def eval_args(tmp_path: Path, task: str, cfg: dict) -> list[str]:
    model = tmp_path / "model"
    if not model.is_dir():
        model.mkdir()
        (model / "config.json").write_text("{}")
    return [
        "--cfg", json.dumps(cfg),
        "--input", f"model={model}", "--input", f"data={write_task(tmp_path / task, task)}",
        "--output", f"out={tmp_path / 'out'}",
        "--log", str(tmp_path / "logs" / f"{task}.log"),
    ]  # fmt: skip


def cfg_for(task: str, **extra) -> dict:
    spec = {"meta_task": extra.pop("meta_task", "vqa"), "split": extra.pop("split", "IND")}
    return {"run": "r1", "mode": "direct", "tasks": {task: spec},
            "batch_size": 2, "min_pixels": 64, "max_pixels": 256, "seed": 0, **extra}  # fmt: skip


def eval_main(args: list[str], **kw) -> dict:
    """Run embed_eval on one task; return that task's score."""
    (score,) = embed_eval.main(args, **kw).values()
    return score


def test_embed_eval_writes_score_and_predictions(tmp_path):
    fake = FakeEncoders()
    score = eval_main(eval_args(tmp_path, "toy", cfg_for("toy")), encoders=fake)
    on_disk = read_json(tmp_path / "out" / "toy.json")
    assert on_disk == score == {"acc": 0.75, "num_correct": 3, "num_pred": 4,
                                "acc_strict": 0.75, "num_correct_strict": 3, "task": "toy",
                                "run": "r1", "mode": "direct", "meta_task": "vqa",
                                "split": "IND", "target_mode": "direct", "max_new_tokens": None,
                                "prompt_protocol": "mmeb", "dtype": "float32",
                                "attn_implementation": "sdpa", "decoding": None,
                                "num_rationales": 0, "mean_rationale_tokens": None,
                                "forced_emb_rate": None}  # fmt: skip
    assert read_jsonl(tmp_path / "out" / "toy.rationales.jsonl") == []
    preds = read_jsonl(tmp_path / "out" / "toy.predictions.jsonl")
    assert [p["key"] for p in preds] == ["toy/0", "toy/1", "toy/2", "toy/3"]
    assert [p["correct"] for p in preds] == [True, True, False, True]
    assert sorted(set(fake.seen)) == [("direct", "query"), ("direct", "target")]
    # images resolved by the loader to absolute paths and handed to the encoder
    assert all(Path(it.image).is_file() for it in fake.enc.encoded("query"))
    assert (tmp_path / "logs" / "toy.log").read_text()


def write_tables(folder: Path, eval_rules: dict, candidate_rules: dict) -> Path:
    """A fetch_prompt_tables folder in the release's schema (no train entries)."""
    folder.mkdir(parents=True)
    for role, rules in (("train", {}), ("eval", eval_rules), ("candidate", candidate_rules)):
        (folder / TABLE_FILES[role]).write_text(dump_table(rules), encoding="utf-8")
    return folder


def test_embed_eval_under_the_release_protocol_rewrites_and_records_it(tmp_path):
    tables = write_tables(
        tmp_path / "tables",
        {"toy": Rule(original="what colour is", replacement="name the colour of")},
        {"toy": Rule(prefix_add="Summarize: ")},
    )
    fake = FakeEncoders()
    args = eval_args(tmp_path, "toy", cfg_for("toy", prompt_protocol="rge_release"))
    score = eval_main([*args, "--input", f"prompt_tables={tables}"], encoders=fake)
    queries = {it.text for it in fake.enc.encoded("query")}
    assert "<|image_1|> name the colour of red here\n" in queries
    targets = {it.text for it in fake.enc.encoded("target")}
    assert "Summarize: the colour red\n" in targets and len(targets) == 4
    assert score["prompt_protocol"] == "rge_release" and score["acc"] == 0.75


def test_embed_eval_under_the_release_protocol_needs_the_tables(tmp_path):
    args = eval_args(tmp_path, "toy", cfg_for("toy", prompt_protocol="rge_release"))
    with pytest.raises(ValueError, match="fetch_prompt_tables"):
        eval_main(args, encoders=FakeEncoders())


def test_embed_eval_bad_cfg(tmp_path):
    with pytest.raises(ValueError, match="meta_task"):
        eval_main(eval_args(tmp_path, "toy", cfg_for("toy", meta_task="VQA")),
                        encoders=FakeEncoders())  # fmt: skip


def test_embed_eval_disk_cache_reused_by_rerun(tmp_path):
    cfg = cfg_for("toy", cache_dir=str(tmp_path / "cache"))
    eval_main(eval_args(tmp_path, "toy", cfg), encoders=FakeEncoders())
    again = FakeEncoders()
    score = eval_main(eval_args(tmp_path, "toy", cfg), encoders=again)
    assert again.enc.calls == [] and score["acc"] == 0.75
    (tmp_path / "model" / "config.json").write_text('{"changed": 1}')  # a retrained model
    changed = FakeEncoders()
    eval_main(eval_args(tmp_path, "toy", cfg), encoders=changed)
    assert len(changed.enc.encoded()) == 7


def test_embed_eval_with_injected_rows(tmp_path):
    from tests.fixtures.eval_fakes import colour_rows

    def loader(data_dir, task, cfg):
        return colour_rows(task)

    args = eval_args(tmp_path, "toy", cfg_for("toy"))
    assert eval_main(args, rows_loader=loader, encoders=FakeEncoders())["acc"] == 0.75


def write_scores(out: Path, accs: dict[str, tuple[float, str, str]], run="r1", mode="direct"):
    paths = []
    for task, (acc, meta, split) in accs.items():
        rec = {"acc": acc, "num_correct": int(acc * 4), "num_pred": 4, "task": task, "run": run,
               "mode": mode, "meta_task": meta, "split": split}  # fmt: skip
        paths.append(out / f"{task}.json")
        write_json(paths[-1], rec)
    return paths


TASKS = {"a": (0.5, "classification", "IND"), "b": (1.0, "classification", "OOD"),
         "c": (0.25, "retrieval", "IND")}  # fmt: skip


def mmeb_args(paths, out: Path, run="r1", registry=None) -> list[str]:
    registry = registry or {t: {"meta_task": m, "split": s} for t, (_, m, s) in TASKS.items()}
    args = ["--cfg", json.dumps({"run": run, "mode": "direct", "tasks": registry})]
    for p in paths:
        args += ["--input", f"scores={p}"]
    return args + ["--output", f"summary={out}"]


def test_score_mmeb_aggregates(tmp_path):
    paths = write_scores(tmp_path / "s", TASKS)
    s = score_mmeb.main(mmeb_args(paths, tmp_path / "summary.json"))
    assert s["meta_task"] == {"classification": 0.75, "retrieval": 0.25}
    assert (s["IND"], s["OOD"]) == (0.375, 1.0)
    assert s["overall"] == pytest.approx(1.75 / 3) and s["num_tasks"] == 3
    assert read_json(tmp_path / "summary.json")["tasks"]["c"]["acc"] == 0.25


def test_score_mmeb_checks_registry(tmp_path):
    paths = write_scores(tmp_path / "s", TASKS)
    with pytest.raises(ValueError, match="no score for tasks"):
        score_mmeb.main(mmeb_args(paths[:2], tmp_path / "x.json"))
    with pytest.raises(ValueError, match="run"):
        score_mmeb.main(mmeb_args(paths, tmp_path / "x.json", run="other"))
    bad = {t: {"meta_task": "vqa", "split": s} for t, (_, m, s) in TASKS.items()}
    with pytest.raises(ValueError, match="meta_task"):
        score_mmeb.main(mmeb_args(paths, tmp_path / "x.json", registry=bad))
    with pytest.raises(ValueError, match="twice"):
        score_mmeb.main(mmeb_args(paths + paths[:1], tmp_path / "x.json"))
    assert not (tmp_path / "x.json").exists()


def test_score_retrieval(tmp_path):
    rs = RetrievalSet("toy", ("/i/red.png", "/i/blue.png"),
                      ("red one", "also red", "blue one", "green?"))  # fmt: skip

    class Enc:
        def __call__(self, model_dir, cfg):
            def encoder_for(mode, side):
                def encode(items, side_):
                    words = [it.text.split() + [Path(it.image or "x").stem] for it in items]
                    return np.array([[float("red" in w), float("blue" in w), 0.1] for w in words])

                return encode

            return encoder_for

    (tmp_path / "model").mkdir()
    cfg = {"run": "r1", "bench": "toy", "query_mode": "direct", "target_mode": "direct",
           "batch_size": 2, "min_pixels": 64, "max_pixels": 256, "ks": [1, 2], "seed": 0}  # fmt: skip
    args = ["--cfg", json.dumps(cfg), "--input", f"model={tmp_path / 'model'}",
            "--input", f"data={tmp_path}", "--output", f"score={tmp_path / 's.json'}"]  # fmt: skip
    out = score_retrieval.main(args, set_loader=lambda d: rs, encoders=Enc())
    # "green?" (image blue) matches nothing: both images tie at 0.1 -> rank 1 -> 3/4 at R@1
    assert out["t2i"] == {"R@1": 0.75, "R@2": 1.0}
    assert out["i2t"] == {"R@1": 1.0, "R@2": 1.0}
    assert read_json(tmp_path / "s.json")["bench"] == "toy"
    assert out["num_rationales"] == 0 and out["max_new_tokens"] is None
    cfg["query_mode"] = "reasoning"
    with pytest.raises(KeyError, match="max_new_tokens"):
        score_retrieval.main(["--cfg", json.dumps(cfg)] + args[2:], set_loader=lambda d: rs,
                             encoders=Enc())  # fmt: skip


def test_chain_embed_score_tables(tmp_path):
    paths = []
    for task, meta, split in (("syn_a", "vqa", "IND"), ("syn_b", "retrieval", "OOD")):
        args = eval_args(tmp_path, task, cfg_for(task, meta_task=meta, split=split))
        eval_main(args, encoders=FakeEncoders())
        # each call replaces the output folder (one job per run x mode): keep the score
        paths.append(tmp_path / "scores" / f"{task}.json")
        paths[-1].parent.mkdir(exist_ok=True)
        shutil.copyfile(tmp_path / "out" / f"{task}.json", paths[-1])
    registry = {"syn_a": {"meta_task": "vqa", "split": "IND"},
                "syn_b": {"meta_task": "retrieval", "split": "OOD"}}  # fmt: skip
    summary = tmp_path / "summary.json"
    score_mmeb.main(mmeb_args(paths, summary, registry=registry))
    outs = {k: tmp_path / "tables" / f"t2.{k}" for k in ("md", "csv", "tex")}
    table2.main([
        "--cfg", json.dumps(stage_cfg("table2", study="embedded",
                                      pairs={"r1 (direct)": "RGE (Qwen2.5VL-3B)"})),
        "--input", f"summary={summary}",
        "--input", f"paper={PAPER / 'table02_mmeb_main.csv'}",
        "--input", f"paper_tasks={PAPER / 'table15_mmeb_per_dataset.csv'}",
        *[a for k, p in outs.items() for a in ("--output", f"{k}={p}")],
    ])  # fmt: skip
    md = outs["md"].read_text()
    assert "`embedded`" in md and "r1 (direct)" in md and "NOT a reproduction" in md
    rows = list(csv.DictReader(outs["csv"].open()))
    assert rows[0]["model"] == "r1 (direct)" and rows[0]["overall"] == "75.0"
    assert rows[0]["vqa"] == "75.0" and rows[0]["classification"] == ""
    assert all(r["source"].startswith("paper (reference") for r in rows[1:])
    assert r"\begin{tabular}" in outs["tex"].read_text()

    outs15 = {k: tmp_path / "tables" / f"t15.{k}" for k in ("md", "csv", "tex")}
    table15.main([
        "--cfg", json.dumps(stage_cfg("table15", study="embedded",
                                      paper_columns=["RGE (Qwen2.5-VL-3B)"])),
        "--input", f"summary={summary}",
        "--input", f"paper_tasks={PAPER / 'table15_mmeb_per_dataset.csv'}",
        "--input", f"paper_summary={PAPER / 'table15_mmeb_summary.csv'}",
        *[a for k, p in outs15.items() for a in ("--output", f"{k}={p}")],
    ])  # fmt: skip
    rows = list(csv.DictReader(outs15["csv"].open()))
    assert [r["task"] for r in rows[:2]] == ["syn_a", "syn_b"]
    assert rows[0]["r1 (direct)"] == "75.0" and rows[0]["paper: RGE (Qwen2.5-VL-3B)"] == ""
    assert "NOT a reproduction" in outs15["md"].read_text()


def test_embed_eval_real_tiny_model(tmp_path):
    """The stage's default encoder path on a real tiny Qwen2.5-VL (random weights, ~7 s)."""
    from rge.backbone.tiny import build_tiny
    from rge.data.mmeb import load_eval_rows
    from rge.evaluate.mmeb import evaluate_task
    from rge.model.embed import embed_direct
    from rge.model.factory import save_pretrained

    pixels = {"min_pixels": 28 * 28 * 4, "max_pixels": 28 * 28 * 16}
    model, processor = build_tiny({}, seed=0, **pixels)
    save_pretrained(model, processor, tmp_path / "model")
    score = eval_main(eval_args(tmp_path, "toy", cfg_for("toy", **pixels)))
    assert score["num_pred"] == 4 and 0.0 <= score["acc"] <= 1.0
    # the same number straight from the model's embeddings, outside the stage
    rows = load_eval_rows(tmp_path / "toy", "toy").records
    direct = evaluate_task(rows, lambda items, side: embed_direct(model, processor, items).detach())
    assert score["acc"] == direct.acc
    preds = read_jsonl(tmp_path / "out" / "toy.predictions.jsonl")
    assert [p["pred"] for p in preds] == [p["pred"] for p in direct.predictions]


class FakeReasoningEncoders(FakeEncoders):
    """Direct mode: the WordEncoder; reasoning mode: a ReasoningEncoder that records its calls."""

    def __init__(self) -> None:
        from tests.fixtures.reasoning_helpers import reasoning_word_encoder

        super().__init__()
        self.reasoning_calls: list = []
        self.reasoning = reasoning_word_encoder(self.reasoning_calls)

    def __call__(self, model_dir: Path, cfg: dict):
        direct = super().__call__(model_dir, cfg)

        def encoder_for(mode: str, side: str):
            return self.reasoning if mode == "reasoning" else direct(mode, side)

        return encoder_for


def test_embed_eval_reasoning_mode_writes_rationales(tmp_path):
    fake = FakeReasoningEncoders()
    cfg = cfg_for("toy", mode="reasoning", max_new_tokens=7)
    score = eval_main(eval_args(tmp_path, "toy", cfg), encoders=fake)
    # the fake reasons on queries only; the WordEncoder still gets 3 of 4 right
    assert score["acc"] == 0.75 and score["mode"] == "reasoning"
    assert score["target_mode"] == "direct" and score["max_new_tokens"] == 7
    # unique queries red (rows 0, 3), green, blue: 3, 5, 4 tokens; blue forced
    assert score["num_rationales"] == 3
    assert score["mean_rationale_tokens"] == 4.0
    assert score["forced_emb_rate"] == pytest.approx(1 / 3)
    recs = read_jsonl(tmp_path / "out" / "toy.rationales.jsonl")
    assert [(r["key"], r["side"], r["n_tokens"], r["forced"]) for r in recs] == [
        ("toy/0", "query", 3, False), ("toy/1", "query", 5, False), ("toy/2", "query", 4, True)
    ]  # fmt: skip
    assert recs[0]["rationale"] == "it is red" and Path(recs[0]["image"]).is_file()
    assert [len(c) for c in fake.reasoning_calls] == [3]
    assert {s for s, _ in fake.enc.calls} == {"target"}  # candidates stay direct


def test_embed_eval_reasoning_on_both_sides(tmp_path):
    fake = FakeReasoningEncoders()
    cfg = cfg_for("toy", mode="reasoning", target_mode="reasoning", max_new_tokens=7)
    score = eval_main(eval_args(tmp_path, "toy", cfg), encoders=fake)
    recs = read_jsonl(tmp_path / "out" / "toy.rationales.jsonl")
    targets = [r for r in recs if r["side"] == "target"]
    # 4 unique candidate texts; first seen as toy/0/0 red, toy/0/1 green, toy/0/2 blue, toy/1/2
    assert [r["key"] for r in targets] == ["toy/0/0", "toy/0/1", "toy/0/2", "toy/1/2"]
    assert score["num_rationales"] == 3 + 4 and fake.enc.calls == []
    assert score["mean_rationale_tokens"] == (3 + 5 + 4 + 3 + 5 + 4 + 6) / 7


def test_embed_eval_reasoning_reuses_direct_targets_not_rationales(tmp_path):
    cfg = cfg_for("toy", cache_dir=str(tmp_path / "cache"))
    eval_main(eval_args(tmp_path, "toy", cfg), encoders=FakeEncoders())
    reasoning_cfg = {**cfg, "mode": "reasoning", "max_new_tokens": 7}
    for _ in range(2):  # a rerun generates again: the rationales file is complete every time
        fake = FakeReasoningEncoders()
        score = eval_main(eval_args(tmp_path, "toy", reasoning_cfg), encoders=fake)
        assert fake.enc.calls == []  # direct candidates came from the direct run's cache
        assert [len(c) for c in fake.reasoning_calls] == [3] and score["num_rationales"] == 3
        assert len(read_jsonl(tmp_path / "out" / "toy.rationales.jsonl")) == 3


def test_embed_eval_reasoning_needs_budget_and_rationales(tmp_path):
    with pytest.raises(KeyError, match="max_new_tokens"):
        eval_main(eval_args(tmp_path, "toy", cfg_for("toy", mode="reasoning")),
                        encoders=FakeReasoningEncoders())  # fmt: skip
    # an encoder that cannot say what it reasoned must not pass as reasoning mode
    with pytest.raises(TypeError, match="keeps no rationales"):
        eval_main(eval_args(tmp_path, "toy", cfg_for("toy", mode="reasoning",
                                                           max_new_tokens=3)),
                        encoders=FakeEncoders())  # fmt: skip
    assert not (tmp_path / "out" / "toy.json").exists()


def test_score_retrieval_reasoning_writes_rationales(tmp_path):
    rs = RetrievalSet("toy", ("/i/red.png", "/i/blue.png"),
                      ("red one", "also red", "blue one", "green?"))  # fmt: skip
    fake = FakeReasoningEncoders()
    (tmp_path / "model").mkdir()
    cfg = {"run": "r1", "bench": "toy", "query_mode": "reasoning", "target_mode": "direct",
           "max_new_tokens": 5, "batch_size": 2, "min_pixels": 64, "max_pixels": 256, "seed": 0,
           "image_text": "<|image_1|> a picture", "ks": [1]}  # fmt: skip
    out = tmp_path / "r.jsonl"
    args = ["--cfg", json.dumps(cfg), "--input", f"model={tmp_path / 'model'}",
            "--input", f"data={tmp_path}", "--output", f"score={tmp_path / 's.json'}",
            "--output", f"rationales={out}"]  # fmt: skip
    score = score_retrieval.main(args, set_loader=lambda d: rs, encoders=fake)
    recs = read_jsonl(out)
    assert [(r["key"], r["side"]) for r in recs] == [
        ("caption/0", "query"), ("caption/1", "query"), ("caption/2", "query"),
        ("caption/3", "query"), ("image/0", "query"), ("image/1", "query")
    ]  # fmt: skip
    # "red one", "also red", "blue one" (forced), "green?" (no colour word), images: no colour
    assert [r["n_tokens"] for r in recs] == [3, 3, 4, 0, 0, 0]
    assert score["num_rationales"] == 6 and score["forced_emb_rate"] == pytest.approx(1 / 6)
    assert score["max_new_tokens"] == 5 and score["query_mode"] == "reasoning"
    # each item reasoned about once, though captions and images serve as queries of both
    # directions and the reasoning encoder is asked for twice
    assert sum(len(c) for c in fake.reasoning_calls) == 6
    cfg["target_mode"] = "reasoning"
    args[1] = json.dumps(cfg)
    fresh = FakeReasoningEncoders()
    both = score_retrieval.main(args, set_loader=lambda d: rs, encoders=fresh)
    # 6 items x 2 sides recorded, still generated once each; nothing embedded directly
    assert both["num_rationales"] == 12 and fresh.enc.calls == []
    assert sum(len(c) for c in fresh.reasoning_calls) == 6


def test_score_mmeb_carries_rationale_stats(tmp_path):
    paths = write_scores(tmp_path / "s", TASKS)
    stats = {"a": (10, 4.0, 0.5), "b": (0, None, None)}  # c: a score without the keys
    for path in paths[:2]:
        rec = read_json(path)
        n, mean, rate = stats[rec["task"]]
        write_json(path, {**rec, "num_rationales": n, "mean_rationale_tokens": mean,
                          "forced_emb_rate": rate})  # fmt: skip
    s = score_mmeb.main(mmeb_args(paths, tmp_path / "summary.json"))
    assert (s["num_rationales"], s["mean_rationale_tokens"], s["forced_emb_rate"]) == (10, 4.0, 0.5)
    assert s["tasks"]["a"]["mean_rationale_tokens"] == 4.0
    assert s["tasks"]["c"]["num_rationales"] is None
    direct = score_mmeb.main(mmeb_args(write_scores(tmp_path / "d", TASKS), tmp_path / "d.json"))
    assert direct["num_rationales"] == 0 and direct["mean_rationale_tokens"] is None


def test_embed_eval_real_tiny_model_reasoning(tmp_path):
    """Reasoning mode through the stage's default encoder path on a real tiny model (~8 s)."""
    from rge.backbone.tiny import build_tiny
    from rge.data.mmeb import load_eval_rows
    from rge.evaluate.mmeb import evaluate_task
    from rge.model.embed import embed_direct
    from rge.model.factory import save_pretrained
    from rge.model.reasoning import embed_reasoning

    pixels = {"min_pixels": 28 * 28 * 4, "max_pixels": 28 * 28 * 16}
    model, processor = build_tiny({}, seed=0, **pixels)
    save_pretrained(model, processor, tmp_path / "model")
    cfg = cfg_for("toy", mode="reasoning", max_new_tokens=4, **pixels)
    score = eval_main(eval_args(tmp_path, "toy", cfg))
    rows = load_eval_rows(tmp_path / "toy", "toy").records

    def encode(items, side):
        if side == "target":
            return embed_direct(model, processor, items)
        return embed_reasoning(model, processor, items, max_new_tokens=4)[0]

    ref = evaluate_task(rows, encode)
    assert score["acc"] == ref.acc and score["num_rationales"] == 3
    preds = read_jsonl(tmp_path / "out" / "toy.predictions.jsonl")
    assert [p["gt_score"] for p in preds] == pytest.approx([p["gt_score"] for p in ref.predictions],
                                                           abs=1e-5)  # fmt: skip
    recs = read_jsonl(tmp_path / "out" / "toy.rationales.jsonl")
    _, rats = embed_reasoning(model, processor, [rows[i].query for i in range(3)], max_new_tokens=4)
    assert [(r["n_tokens"], r["forced"], r["rationale"]) for r in recs] == [
        (r.n_tokens, r.forced, r.text) for r in rats
    ]


def test_embed_eval_real_tiny_model_reasoning_same_scores_under_either_engine(
    tmp_path, monkeypatch
):
    """The generation block reaches reasoning mode; both engines give the same scores (~10 s)."""
    import rge.model.reasoning as reasoning
    from rge.backbone.tiny import build_tiny
    from rge.model.factory import save_pretrained
    from rge.model.vision_attention import VISION_ATTENTION

    real, seen = reasoning.embed_reasoning, []

    def spy(model, *args, **kwargs):
        vision = model.config.vision_config._attn_implementation
        seen.append(
            (kwargs["generation"].engine, vision, model.config.text_config._attn_implementation)
        )
        return real(model, *args, **kwargs)

    monkeypatch.setattr(reasoning, "embed_reasoning", spy)

    pixels = {"min_pixels": 28 * 28 * 4, "max_pixels": 28 * 28 * 16}
    model, processor = build_tiny({}, seed=0, **pixels)
    save_pretrained(model, processor, tmp_path / "model")
    runs = {}
    for engine in ("dynamic", "static"):
        cfg = cfg_for(
            "toy",
            mode="reasoning",
            max_new_tokens=4,
            **pixels,
            generation={"engine": engine, "cap": "last_token", "length_buckets": 2},
        )
        score = eval_main(eval_args(tmp_path, "toy", cfg))  # fmt: skip
        out = tmp_path / "out"
        runs[engine] = (score, read_jsonl(out / "toy.predictions.jsonl"),
                        read_jsonl(out / "toy.rationales.jsonl"))  # fmt: skip
        assert score["decoding"] == {"engine": engine, "decoding": "greedy", "cap": "last_token"}
    # the block's engine ran, the vision tower with one attention call per layer, text on sdpa
    assert seen == [(e, VISION_ATTENTION, "sdpa") for e in ("dynamic", "static")]
    (dyn, dyn_preds, dyn_recs), (sta, sta_preds, sta_recs) = runs["dynamic"], runs["static"]
    assert {k: v for k, v in sta.items() if k != "decoding"} == {
        k: v for k, v in dyn.items() if k != "decoding"
    }
    assert sta_recs == dyn_recs and [p["pred"] for p in sta_preds] == [p["pred"] for p in dyn_preds]
    assert [p["gt_score"] for p in sta_preds] == pytest.approx(
        [p["gt_score"] for p in dyn_preds], abs=1e-5
    )


def test_embed_eval_scores_every_task_of_a_run_in_one_job(tmp_path):
    cfg = cfg_for("syn_a")
    cfg["tasks"]["syn_b"] = {"meta_task": "retrieval", "split": "OOD"}
    args = eval_args(tmp_path, "syn_a", cfg)
    args += ["--input", f"data={write_task(tmp_path / 'syn_b', 'syn_b')}"]
    fake = FakeEncoders()
    scores = embed_eval.main(args, encoders=fake)
    assert list(scores) == ["syn_a", "syn_b"]
    for task in scores:
        assert read_json(tmp_path / "out" / f"{task}.json") == scores[task]
        assert (tmp_path / "out" / f"{task}.predictions.jsonl").exists()
    assert scores["syn_b"]["split"] == "OOD" and scores["syn_b"]["meta_task"] == "retrieval"


def test_embed_eval_needs_one_data_input_per_task(tmp_path):
    cfg = cfg_for("syn_a")
    cfg["tasks"]["syn_b"] = {"meta_task": "vqa", "split": "IND"}
    with pytest.raises(ValueError, match="missing \\['syn_b'\\]"):
        embed_eval.main(eval_args(tmp_path, "syn_a", cfg), encoders=FakeEncoders())
