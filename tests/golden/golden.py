"""What the golden files hold, computed from the library: one function per golden file.

- ``synthetic_hashes``: content hashes of the synthetic benchmark that
  ``rge.data.synthetic.write_benchmark`` writes at the smoke config's sizes. Parquet files are
  hashed as their schema and rows (not their bytes, which carry the pyarrow version), images
  inside zips as decoded pixels (not PNG bytes, which carry the zlib version), every other file
  as its bytes.
- ``embedding_scores``: stored small embedding matrices through the MMEB Precision@1 scorer
  (``rge.evaluate.mmeb.evaluate_task``) and the Recall@K scorer
  (``rge.evaluate.retrieval.evaluate_retrieval``). The inputs live in the golden file itself.
- ``tokenizer_digest``: the vocabulary of the embedded study's tiny tokenizer
  (``rge.backbone.tiny.tokenizer_corpus`` at the default vocabulary size).
- ``rendered_table``: stored per-task scores, aggregated (``rge.evaluate.metrics.aggregate``) and
  rendered as paper Table 2 (``rge.report.mmeb_tables.table2``) to markdown and CSV.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SMOKE_CONFIG = REPO / "config" / "smoke.yaml"
SYNTHETIC = HERE / "synthetic_smoke.json"
SCORES = HERE / "embedding_scores.json"
TABLE_INPUTS = HERE / "table2_inputs.json"
TABLE_MD = HERE / "table2.md"
TABLE_CSV = HERE / "table2.csv"
TOKENIZER = HERE / "tiny_tokenizer.json"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def smoke_sizes() -> dict[str, int]:
    """``benchmark.synthetic`` of config/smoke.yaml plus the global seed."""
    cfg = yaml.safe_load(SMOKE_CONFIG.read_text())
    return {
        "seed": int(cfg["seed"]),
        **{k: int(v) for k, v in cfg["benchmark"]["synthetic"].items()},
    }


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _pixels(data: bytes) -> bytes:
    """Mode, size and decoded pixels of an encoded image."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return f"{im.mode} {im.size}".encode() + b"\0" + im.tobytes()


def _cell(value: object) -> str:
    # Image bytes inside a parquet cell (the retrieval sets embed their images) hash as pixels.
    if isinstance(value, bytes):
        try:
            return "image:" + _sha(_pixels(value))
        except OSError:
            return "bytes:" + _sha(value)
    raise TypeError(f"unexpected parquet value {type(value).__name__}")


def _parquet_digest(path: Path) -> str:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    lines = [json.dumps([[f.name, str(f.type)] for f in table.schema])]
    lines += [
        json.dumps(row, sort_keys=True, ensure_ascii=False, default=_cell)
        for row in table.to_pylist()
    ]
    return _sha("\n".join(lines).encode())


def _zip_digest(path: Path) -> str:
    h = hashlib.sha256()
    with zipfile.ZipFile(path) as zf:
        for name in sorted(zf.namelist()):
            data = zf.read(name)
            h.update(name.encode() + b"\0")
            h.update(_pixels(data) if name.lower().endswith(IMAGE_SUFFIXES) else data)
    return h.hexdigest()


def file_digest(path: Path) -> str:
    """Content hash of one benchmark file, independent of library versions (see module doc)."""
    if path.suffix == ".parquet":
        return _parquet_digest(path)
    if path.suffix == ".zip":
        return _zip_digest(path)
    return _sha(path.read_bytes())


def tree_digests(root: Path) -> dict[str, str]:
    """{path relative to root: file_digest} of every file under root, sorted by path."""
    return {
        p.relative_to(root).as_posix(): file_digest(p)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def synthetic_hashes() -> dict[str, Any]:
    """Write the benchmark at the smoke sizes into a temporary folder and hash it."""
    from rge.data.synthetic import write_benchmark

    sizes = smoke_sizes()
    with tempfile.TemporaryDirectory() as tmp:
        write_benchmark(Path(tmp) / "bench", **sizes)
        files = tree_digests(Path(tmp) / "bench")
    return {"sizes": sizes, "files": files}


# ----------------------------------------------------------------------------- embedding scores


def make_score_inputs(seed: int = 0) -> dict[str, Any]:
    """Small embedding matrices with small-integer entries, and the rows/sets that use them.

    Integer entries keep every similarity far from a near-tie unless two vectors are equal; some
    candidates repeat the ground truth's vector on purpose (an exact tie, which the tie rule of
    the scorer decides). Only used to create the stored inputs; the test reads them back.
    """
    rng = np.random.default_rng(seed)
    dim, n_rows, n_cand = 6, 8, 5

    def vec() -> list[int]:
        return rng.integers(-3, 4, size=dim).tolist()

    vectors: dict[str, list[int]] = {}
    rows = []
    for i in range(n_rows):
        vectors[f"q{i}"] = vec()
        cands = [f"r{i}c{j}" for j in range(n_cand)]
        for c in cands:
            vectors[c] = vec()
        if i % 4 == 3:
            # The query equals its ground truth and a wrong candidate repeats that vector: an
            # exact tie at the top, which only the scorer's tie rule decides.
            vectors[f"q{i}"] = list(vectors[cands[0]])
            vectors[cands[2]] = list(vectors[cands[0]])
        rows.append({"key": f"Golden/{i}", "query": f"q{i}", "candidates": cands})
    _check_no_near_ties(vectors, rows)
    n_img, per = 4, 3
    images = [f"img{i}.png" for i in range(n_img)]
    captions = [f"caption {i}-{k}" for i in range(n_img) for k in range(per)]
    for name in [*images, *captions]:
        vectors[name] = vec()
    vectors[captions[4]] = list(
        vectors[captions[0]]
    )  # one caption of image 1 equals one of image 0
    return {
        "vectors": vectors,
        "mmeb": {"task": "Golden", "rows": rows},
        "retrieval": {"images": images, "captions": captions, "per_image": per, "ks": [1, 2, 3]},
    }


def _check_no_near_ties(vectors: dict[str, list[int]], rows: list[dict]) -> None:
    """Refuse inputs where two cosine scores of a row differ by less than 1e-4 without being
    equal: float32 summation order (BLAS, machine) could flip such a pair."""
    for r in rows:
        q = np.asarray(vectors[r["query"]], dtype=np.float64)
        c = np.asarray([vectors[k] for k in r["candidates"]], dtype=np.float64)
        s = c @ q / np.maximum(np.linalg.norm(c, axis=1) * np.linalg.norm(q), 1e-12)
        gaps = np.abs(s[:, None] - s[None, :])
        if np.any((gaps > 0) & (gaps < 1e-4)):
            raise ValueError(f"{r['key']}: near-tied scores {s}; pick another seed")


def _lookup_encoder(vectors: dict[str, list[int]]):
    """An encoder that returns the stored vector of each item (by its text, else its image)."""

    def encode(items, side):
        return np.array([vectors[it.image or it.text] for it in items], dtype=np.float32)

    return encode


def embedding_scores(inputs: dict[str, Any]) -> dict[str, Any]:
    """Run the stored inputs through the MMEB and retrieval scorers; return what they report."""
    from rge.data.records import EvalRow, Item, RetrievalSet
    from rge.evaluate.mmeb import evaluate_task
    from rge.evaluate.retrieval import evaluate_retrieval

    encode = _lookup_encoder(inputs["vectors"])
    task = inputs["mmeb"]["task"]
    rows = [
        EvalRow(r["key"], task, Item(r["query"]), tuple(Item(c) for c in r["candidates"]))
        for r in inputs["mmeb"]["rows"]
    ]
    result = evaluate_task(rows, encode)
    mmeb = {**result.summary(), "preds": [p["pred"] for p in result.predictions]}
    ret = inputs["retrieval"]
    rs = RetrievalSet("Golden", tuple(ret["images"]), tuple(ret["captions"]))
    recall = evaluate_retrieval(
        rs, lambda mode, side: encode, "direct", "direct", image_text="<|image_1|>", ks=ret["ks"]
    )
    return {"mmeb": mmeb, "retrieval": {"t2i": recall["t2i"], "i2t": recall["i2t"]}}


# ----------------------------------------------------------------------------- rendered table


def make_table_inputs() -> dict[str, Any]:
    """Per-task scores of two runs over a few tasks (fractions k/16, exact in binary)."""
    tasks = {
        "SynObjects": ("classification", "IND"),
        "SynColorQA": ("vqa", "IND"),
        "SynCOCO_t2i": ("retrieval", "IND"),
        "SynGround": ("grounding", "IND"),
        "SynObjectsRight": ("classification", "OOD"),
        "SynShapeQA": ("vqa", "OOD"),
    }
    correct = {"baseline": [9, 5, 12, 7, 4, 6], "rge": [11, 6, 13, 7, 6, 8]}
    runs = []
    for run, ks in correct.items():
        scores = {
            t: {"num_correct": k, "num_pred": 16, "meta_task": mt, "split": sp}
            for (t, (mt, sp)), k in zip(tasks.items(), ks, strict=True)
        }
        runs.append({"run": run, "mode": "direct", "tasks": scores})
    return {"study": "golden", "runs": runs}


def rendered_table(inputs: dict[str, Any]) -> tuple[str, str]:
    """(markdown, csv) of paper Table 2 from the stored scores and the paper's CSVs in config/."""
    from rge.evaluate.metrics import aggregate
    from rge.report.mmeb_tables import T2_COLUMNS, read_csv, table2
    from rge.report.tables import to_csv, to_markdown

    summaries = []
    for r in inputs["runs"]:
        tasks = {t: {**s, "acc": s["num_correct"] / s["num_pred"]} for t, s in r["tasks"].items()}
        agg = aggregate(
            {t: s["acc"] for t, s in tasks.items()},
            {t: s["meta_task"] for t, s in tasks.items()},
            {t: s["split"] for t, s in tasks.items()},
        )
        summaries.append({"run": r["run"], "mode": r["mode"], "tasks": tasks, **agg})
    papers = REPO / "config" / "paper_numbers"
    paper_rows = read_csv(papers / "table02_mmeb_main.csv", ["model", "backbone", *T2_COLUMNS])
    paper_tasks = {
        r["dataset"] for r in read_csv(papers / "table15_mmeb_per_dataset.csv", ["dataset"])
    }
    table = table2(inputs["study"], summaries, paper_rows, paper_tasks)
    return to_markdown(table), to_csv(table)


# ----------------------------------------------------------------------------- tiny tokenizer


def tokenizer_digest() -> dict[str, Any]:
    """Size and sha256 of the sorted (token, id) vocabulary of the embedded study's tokenizer."""
    from rge.backbone.tiny import tokenizer_corpus
    from rge.model.factory import TINY_DEFAULTS
    from rge.model.tokenizer import train_tokenizer

    size = int(TINY_DEFAULTS["vocab_size"])
    vocab = sorted(
        train_tokenizer(size, tokenizer_corpus()).get_vocab().items(), key=lambda t: t[1]
    )
    return {"vocab_size": size, "len": len(vocab), "sha256": _sha(json.dumps(vocab).encode())}
