"""The rge_release protocol end to end on the synthetic benchmark: its own tables, fetched from
its mirror, rewrite a task's rows; a tiny model embeds them; both P@1 rules come out."""

from __future__ import annotations

import torch

from rge.data.mmeb import fetch_eval_task, load_eval_rows
from rge.data.protocol import eval_rows, fetch_tables, load_tables
from rge.data.synthetic import PROMPT_DIR, write_benchmark
from rge.evaluate.mmeb import evaluate_task
from rge.model.chat import build_batch
from rge.model.embed import embed_direct
from tests.fixtures.tiny_model import small_model


def test_synthetic_rows_rewritten_embedded_and_scored(tmp_path):
    bench = tmp_path / "bench"
    write_benchmark(bench, seed=1, train_rows=2, eval_rows=3, num_candidates=3,
                    retrieval_images=2, tasks=["SynObjects", "SynColorQA"])  # fmt: skip
    tables_dir = tmp_path / "tables"
    tables_dir.mkdir()
    source = fetch_tables(tables_dir, mirror=bench / PROMPT_DIR.split("/")[0])
    assert source["commit"] is None and source["mirror"].endswith("RGE")
    tables = load_tables(tables_dir)
    fetch_eval_task(bench / "MMEB-eval", "SynColorQA", tmp_path / "SynColorQA")
    rows = eval_rows(
        load_eval_rows(tmp_path / "SynColorQA", "SynColorQA").records, "rge_release", tables
    )
    model, proc = small_model()
    seen = []

    def encode(items, side):
        seen.extend(items)
        with torch.no_grad():
            return embed_direct(model, proc, list(items)).numpy()

    result = evaluate_task(rows, encode)
    assert result.num_pred == 3 and 0.0 <= result.acc_strict <= result.acc <= 1.0
    assert all(it.text.endswith("\n") for it in seen)
    queries = [it for it in seen if "Answer a colour question based on the given image:" in it.text]
    assert len(queries) == len({r.query.key for r in rows})
    assert any(it.text.startswith("Summarize the following colour in one word: ") for it in seen)
    # the rewritten query as the model sees it: image block in the marker's place, the text's
    # newlines kept
    text = proc.tokenizer.decode(build_batch(proc, [queries[0]], load_image=_blank)["input_ids"][0])
    assert "<|vision_end|>\nAnswer a colour question based on the given image: " in text
    assert text.endswith("?\n<|im_end|>\n<|im_start|>assistant\n<emb>")


def _blank(path):
    from PIL import Image

    return Image.new("RGB", (56, 56))
