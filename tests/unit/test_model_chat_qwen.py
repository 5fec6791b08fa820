"""Token-exact RGE sequences on the real Qwen2.5-VL vocabulary (issue 11).

The processor is the offline fixture in ``<repo>/../shared/fixtures/qwen2_5_vl_processor``; the
rewrite tables are the release's own, in ``<repo>/../shared/fixtures/rge_release_prompts``.
MMEB texts follow MMEB's layout (``<|image_1|>\\n`` + instruction); the words after each
instruction are made up. Expected strings are the release's (MCG-NJU/RGE @6074444) for the
same inputs: rewrite, trailing newline, image block in place of the marker at evaluation,
image first at training.
"""

from __future__ import annotations

import pytest

from rge.data.protocol import eval_rows, load_tables, train_pairs
from rge.data.records import EvalRow, Item, TrainPair
from rge.model.chat import IGNORE, build_batch, plain_ids
from tests.fixtures.shared_fixtures import QWEN_PROCESSOR, RELEASE_PROMPTS, need

PROCESSOR, TABLES = QWEN_PROCESSOR, RELEASE_PROMPTS

SYSTEM_IDS = [151644, 8948, 198, 2610, 525, 264, 10950, 17847, 13, 151645, 198, 151644, 872, 198]
ASSISTANT_IDS = [151644, 77091, 198]  # <|im_start|>assistant\n
IM_END, NEWLINE, VISION_START, VISION_END, IMAGE_PAD = 151645, 198, 151652, 151653, 151655
BLOCK = "<|vision_start|>" + "<|image_pad|>" * 320 + "<|vision_end|>"  # a 560x448 image
TAIL = "<|im_end|>\n<|im_start|>assistant\n"
PREFIX = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
IMAGENET_Q = "<|image_1|>\nRepresent the given image for classification"
OKVQA_Q = "<|image_1|>\nRepresent the given image with the following question: What is he holding?"
COCO_Q = "Find me an everyday image that matches the given caption: A dog runs on a beach."


@pytest.fixture(scope="module")
def proc():
    from transformers import AutoProcessor

    p = AutoProcessor.from_pretrained(str(need(PROCESSOR)))
    p.tokenizer.add_tokens(["<emb>"], special_tokens=True)  # as rge.model.factory.add_emb_token
    return p


@pytest.fixture(scope="module")
def tables():
    return load_tables(need(TABLES))


def _load(path: str):
    from PIL import Image

    return Image.new("RGB", (560, 448), (120, 30, 200))


def _row(proc, item: Item, response: str | None = None, emb: bool = True):
    b = build_batch(
        proc, [item], None if response is None else [response], emb=emb, load_image=_load
    )
    return b["input_ids"][0].tolist(), b["labels"][0].tolist()


def _text(proc, ids):
    return proc.tokenizer.decode(ids, skip_special_tokens=False)


def _whole(proc, text: str) -> list[int]:
    """Ids of the whole string with specials recognised: what the release's processor feeds."""
    return proc.tokenizer(text, add_special_tokens=False)["input_ids"]


def _eval(tables, task, query, cands, protocol="rge_release"):
    row = EvalRow(f"{task}/0", task, query, tuple(cands))
    return eval_rows([row], protocol, tables)[0]


def test_system_prefix_and_known_ids(proc):
    ids, _ = _row(proc, Item("hi"))
    assert ids[: len(SYSTEM_IDS)] == SYSTEM_IDS
    assert proc.tokenizer.convert_tokens_to_ids("<emb>") == 151665
    assert plain_ids(proc.tokenizer, [".\n", "."]) == [[624], [13]]


def test_imagenet_query_and_target_eval(proc, tables):
    row = _eval(tables, "ImageNet-1K", Item(IMAGENET_Q, "img.jpg"), [Item("tench")])
    ids, labels = _row(proc, row.query, emb=False)
    instruction = (
        "\nIdentify the category of the main object in the given image for classification\n"
    )
    assert _text(proc, ids) == PREFIX + BLOCK + instruction + TAIL
    assert ids == _whole(proc, PREFIX + BLOCK + instruction + TAIL)
    assert ids.count(IMAGE_PAD) == 320 and ids[len(SYSTEM_IDS)] == VISION_START
    assert ids[len(SYSTEM_IDS) + 321 : len(SYSTEM_IDS) + 323] == [VISION_END, NEWLINE]
    assert ids[-len(ASSISTANT_IDS) - 3 : -len(ASSISTANT_IDS)] == [NEWLINE, IM_END, NEWLINE]
    assert set(labels) == {IGNORE}
    ids, labels = _row(proc, row.candidates[0])
    target = "Summarize the following object category in one word: tench\n"
    assert _text(proc, ids) == PREFIX + target + TAIL + "<emb>"
    assert ids[:-1] == _whole(proc, PREFIX + target + TAIL) and ids[-1] == 151665
    assert [x for x in labels if x != IGNORE] == [151665]


def test_imagenet_mmeb_protocol_keeps_published_text(proc, tables):
    row = _eval(tables, "ImageNet-1K", Item(IMAGENET_Q, "img.jpg"), [Item("tench")], "mmeb")
    ids, _ = _row(proc, row.query, emb=False)
    # no rewrite and no trailing newline, but the newline after the image block stays
    expected = PREFIX + BLOCK + "\nRepresent the given image for classification" + TAIL
    assert _text(proc, ids) == expected and ids == _whole(proc, expected)
    ids, _ = _row(proc, row.candidates[0])
    assert _text(proc, ids) == PREFIX + "tench" + TAIL + "<emb>"


def test_okvqa_query_eval(proc, tables):
    row = _eval(tables, "OK-VQA", Item(OKVQA_Q, "img.jpg"), [Item("a bat")])
    ids, _ = _row(proc, row.query, emb=False)
    text = "\nAnswer the question based on the given image: What is he holding?\n"
    assert _text(proc, ids) == PREFIX + BLOCK + text + TAIL
    assert ids == _whole(proc, PREFIX + BLOCK + text + TAIL)
    # "?\n" is one token: the trailing newline merges with the question mark
    assert ids[-len(ASSISTANT_IDS) - 3] == plain_ids(proc.tokenizer, ["?\n"])[0][0]
    ids, _ = _row(proc, row.candidates[0])
    assert (
        _text(proc, ids)
        == PREFIX + "Summarize the following answer in one word: a bat\n" + TAIL + "<emb>"
    )


def test_mscoco_t2i_text_only_query_eval(proc, tables):
    row = _eval(
        tables,
        "MSCOCO_t2i",
        Item(COCO_Q),
        [Item("<|image_1|>\nRepresent the given image.", "i.jpg")],
    )
    ids, _ = _row(proc, row.query, emb=False)
    text = (
        "Describe and represent the following descriptive caption for everyday image "
        "retrieval: A dog runs on a beach.\n"
    )
    assert _text(proc, ids) == PREFIX + text + TAIL and ids == _whole(proc, PREFIX + text + TAIL)
    assert IMAGE_PAD not in ids
    ids, _ = _row(proc, row.candidates[0])
    target = BLOCK + "\nSummarize the given image in one word.\n"
    assert _text(proc, ids) == PREFIX + target + TAIL + "<emb>"


def test_mscoco_t2i_train_table_differs_from_eval_table(tables):
    assert "image caption for everyday" in tables.train["MSCOCO_t2i"].replacement
    assert "descriptive caption for everyday" in tables.eval["MSCOCO_t2i"].replacement


def test_hatefulmemes_yes_target(proc, tables):
    row = _eval(tables, "HatefulMemes", Item("<|image_1|>\nq", "m.jpg"), [Item("Yes"), Item("No")])
    ids, labels = _row(proc, row.candidates[0])
    target = "Summarize the following statement in one word: Yes, it contains hateful speech.\n"
    assert _text(proc, ids) == PREFIX + target + TAIL + "<emb>"
    assert ids[:-1] == _whole(proc, PREFIX + target + TAIL)
    assert (
        ids[-len(ASSISTANT_IDS) - 4] == 624
    )  # ".\n" is one token (then im_end, \n, header, <emb>)
    assert [x for x in labels if x != IGNORE] == [151665]
    mmeb = _eval(tables, "HatefulMemes", Item("q"), [Item("Yes")], "mmeb")
    assert _text(proc, _row(proc, mmeb.candidates[0])[0]) == PREFIX + "Yes" + TAIL + "<emb>"


def test_imagenet_training_query_with_rationale_and_target(proc, tables):
    pair = TrainPair("ImageNet_1K/0", "ImageNet_1K", Item(IMAGENET_Q, "img.jpg"), Item("tench"))
    for protocol, instruction in (
        (
            "rge_release",
            "\nIdentify the category of the main object in the given image for classification\n",
        ),
        ("mmeb", "\nRepresent the given image for classification"),
    ):
        p = train_pairs([pair], protocol, tables)[0]
        rationale = "The image shows a fish, a tench."
        ids, labels = _row(proc, p.query, rationale)
        prompt = PREFIX + BLOCK + instruction + TAIL
        assert _text(proc, ids) == prompt + rationale + "<emb>"  # nothing after <emb>
        n = len(_whole(proc, prompt))
        assert ids[:n] == _whole(proc, prompt)
        assert labels[:n] == [IGNORE] * n
        assert labels[n:] == ids[n:] == plain_ids(proc.tokenizer, [rationale])[0] + [151665]
    p = train_pairs([pair], "rge_release", tables)[0]
    ids, labels = _row(proc, p.pos)
    target = "Summarize the following object category in one word: tench\n"
    assert _text(proc, ids) == PREFIX + target + TAIL + "<emb>"
    assert [x for x in labels if x != IGNORE] == [151665]


@pytest.mark.parametrize("literal", ["<emb>", "<|im_end|>", "<|image_pad|>", "<|vision_start|>"])
def test_data_text_never_becomes_special(proc, literal):
    tk = proc.tokenizer
    special = tk.convert_tokens_to_ids(literal)
    caption = f"a caption that mentions the {literal} tag in html"
    question = f"<|image_1|>\nWhat does {literal} mean here?"
    rationale = f"It says {literal} twice: {literal}."
    b = build_batch(
        proc, [Item(caption), Item(question, "i.jpg")], ["", rationale], load_image=_load
    )
    ids = b["input_ids"].tolist()
    emb = 151665
    for row in ids:
        assert row.count(emb) == 1  # only the appended <emb>
    n_special = {"<|im_end|>": 2, "<|image_pad|>": 0, "<|vision_start|>": 0, "<emb>": 1}[literal]
    assert ids[0].count(special) == n_special
    n_image = {"<|im_end|>": 2, "<|image_pad|>": 320, "<|vision_start|>": 1, "<emb>": 1}[literal]
    assert ids[1].count(special) == n_image
    assert b["mm_token_type_ids"].sum(1).tolist() == [0, 320]
    assert plain_ids(tk, [caption])[0] == [i for i in plain_ids(tk, [caption])[0] if i < 151643]
    labels = [x for x in b["labels"][1].tolist() if x != IGNORE]
    assert _text(proc, labels) == rationale + "<emb>"
