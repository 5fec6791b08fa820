"""build_batch: the RGE sequence, labels, padding and mixed image / text-only rows."""

from __future__ import annotations

import pytest

from rge.data.records import Item
from rge.model.chat import IGNORE, build_batch, prompt_text
from rge.model.factory import emb_token_id
from tests.fixtures.tiny_model import scene_items, small_model


@pytest.fixture(scope="module")
def proc():
    return small_model()[1]


def _decode(proc, ids):
    return proc.tokenizer.decode(ids, skip_special_tokens=False)


def test_sequence_format_and_labels(proc):
    items, _, load = scene_items(1)
    b = build_batch(proc, items, ["left is red circle ."], load_image=load)
    ids, labels = b["input_ids"][0].tolist(), b["labels"][0].tolist()
    text = _decode(proc, ids)
    assert text.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n")
    # the image block in the marker's place, 112x112 -> 16 merged tokens; the text after the
    # marker kept as is (its leading space included: nothing is stripped)
    assert (
        "user\n<|vision_start|>" + "<|image_pad|>" * 16 + "<|vision_end|> What is on the left?"
        in text
    )
    assert "<|image_1|>" not in text
    assert text.endswith("<|im_start|>assistant\nleft is red circle .<emb>")  # nothing after <emb>
    supervised = [t for t, lab in zip(ids, labels, strict=True) if lab != IGNORE]
    assert _decode(proc, supervised) == "left is red circle .<emb>"
    assert [lab for lab in labels if lab != IGNORE] == supervised
    assert b["mm_token_type_ids"][0].sum().item() == 16
    assert tuple(b["image_grid_thw"][0].tolist()) == (1, 8, 8)


def test_target_side_labels_only_emb_and_no_emb_option(proc):
    b = build_batch(proc, [Item("a caption")])
    labels = [x for x in b["labels"][0].tolist() if x != IGNORE]
    assert labels == [emb_token_id(proc)]
    assert "pixel_values" not in b and "image_grid_thw" not in b
    b = build_batch(proc, [Item("a caption")], ["why"], emb=False)
    assert _decode(proc, [x for x in b["labels"][0].tolist() if x != IGNORE]) == "why"
    assert emb_token_id(proc) not in b["input_ids"][0].tolist()


def test_mixed_batch_padding_sides(proc):
    items, _, load = scene_items(2)
    mixed = [items[0], Item("only text here"), items[1]]
    for side in ("right", "left"):
        b = build_batch(
            proc, mixed, ["x", "longer response text", ""], padding_side=side, load_image=load
        )
        mask = b["attention_mask"]
        assert b["input_ids"].shape == mask.shape == b["labels"].shape
        assert b["image_grid_thw"].shape[0] == 2
        assert b["pixel_values"].shape[0] == 2 * 64
        assert b["mm_token_type_ids"].sum(1).tolist() == [16, 0, 16]
        lengths = mask.sum(1).tolist()
        shortest = lengths.index(min(lengths))
        row = mask[shortest].tolist()
        assert (row[0] == 1) == (side == "right") and (row[-1] == 1) == (side == "left")
        pad = proc.tokenizer.pad_token_id
        assert all(
            t == pad and lab == IGNORE
            for t, m, lab in zip(
                b["input_ids"][shortest].tolist(), row, b["labels"][shortest].tolist(), strict=True
            )
            if m == 0
        )


def test_prompt_text_without_image_keeps_whitespace():
    # the marker is dropped without an image; the spaces and newline around it stay
    assert prompt_text("<|image_1|> hi \n", 0).endswith(
        "user\n hi \n<|im_end|>\n<|im_start|>assistant\n"
    )


def test_image_placement_in_place_first_and_dropped():
    block = "<|vision_start|>" + "<|image_pad|>" * 2 + "<|vision_end|>"
    # marker in the middle: the block takes its place
    assert f"user\nsee {block} here\n<|im_end|>" in prompt_text("see <|image_1|> here\n", 2)
    # no marker but an image (training layout): image first
    assert f"user\n{block}caption\n<|im_end|>" in prompt_text("caption\n", 2)
    # a second marker is dropped (one image per item)
    assert f"user\n{block}a b<|im_end|>" in prompt_text("<|image_1|>a <|image_1|>b", 2)


def test_bad_arguments(proc):
    with pytest.raises(ValueError, match="padding_side"):
        build_batch(proc, [Item("a")], padding_side="middle")
    with pytest.raises(ValueError, match="2 items but 1 responses"):
        build_batch(proc, [Item("a"), Item("b")], ["x"])
    with pytest.raises(ValueError, match="at least one item"):
        build_batch(proc, [])


def test_emb_written_in_a_caption_is_plain_text(proc):
    # issue 11's example: two <emb> ids before, the embedding read at the wrong position
    b = build_batch(proc, [Item("a caption that mentions the <emb> tag in html")])
    ids = b["input_ids"][0].tolist()
    assert ids.count(emb_token_id(proc)) == 1 and ids[-1] == emb_token_id(proc)
    assert "mentions the <emb> tag" in _decode(proc, ids)
    # splitting specials for data text leaves the tokenizer's own behaviour unchanged
    end = proc.tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert proc.tokenizer("x<|im_end|>", add_special_tokens=False)["input_ids"][-1] == end
