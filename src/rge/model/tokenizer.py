"""A small byte-level BPE tokenizer for the tiny backbone, trained locally in well under a second.

Byte-level: every string (any language, any symbol) tokenizes through the 256 byte tokens, so the
tokenizer never fails on text outside its training corpus; the corpus only decides which words get
short encodings. The corpus is the caller's: this module knows no dataset (the embedded study's
corpus, with the synthetic scenes' words, is ``rge.backbone.tiny.tokenizer_corpus``). The special
tokens are the ones a Qwen2.5-VL processor and model expect.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

PAD = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
VISION_START = "<|vision_start|>"
VISION_END = "<|vision_end|>"
VISION_PAD = "<|vision_pad|>"
IMAGE_PAD = "<|image_pad|>"
VIDEO_PAD = "<|video_pad|>"
SPECIAL_TOKENS: tuple[str, ...] = (
    PAD,
    IM_START,
    IM_END,
    VISION_START,
    VISION_END,
    VISION_PAD,
    IMAGE_PAD,
    VIDEO_PAD,
)

# ChatML-style template written for this project: system, user and assistant turns; image
# and video parts become the vision placeholders the Qwen2.5-VL processor expands.
CHAT_TEMPLATE = (
    "{%- set nl = '\\n' -%}"
    "{%- set sys = 'You are a helpful assistant.' -%}"
    "{%- if messages and messages[0]['role'] == 'system' -%}"
    "{%- set sys = messages[0]['content'] if messages[0]['content'] is string "
    "else messages[0]['content'] | map(attribute='text') | join('') -%}"
    "{%- endif -%}"
    "{{ '<|im_start|>system' + nl + sys + '<|im_end|>' + nl }}"
    "{%- for m in messages if m['role'] != 'system' -%}"
    "{{ '<|im_start|>' + m['role'] + nl }}"
    "{%- if m['content'] is string -%}{{ m['content'] }}"
    "{%- else -%}{%- for part in m['content'] -%}"
    "{%- if part['type'] == 'image' -%}{{ '<|vision_start|><|image_pad|><|vision_end|>' }}"
    "{%- elif part['type'] == 'video' -%}{{ '<|vision_start|><|video_pad|><|vision_end|>' }}"
    "{%- else -%}{{ part['text'] }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{ '<|im_end|>' + nl }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant' + nl }}{%- endif -%}"
)

# Generic English of retrieval / VQA / grounding instructions (no dataset's labels): the corpus
# when the caller gives none, so instruction words get short encodings; any other text still
# encodes through the byte alphabet.
INSTRUCTION_WORDS = (
    "represent the given image for classification find describe and focus on object in that is "
    "answer a question based following caption retrieval select which what colour color shape "
    "left right next to not one of side there are two objects this picture photo scene with "
    "identify category main summarize above below an it its has have how many where who same "
    "different matching query target candidate text description region crop labeled as show "
    "shown everyday retrieve represent: question: answer: image: yes no because so then first "
    "second both neither either other another each per by from for to of at a an the"
)
INSTRUCTION_CORPUS: tuple[str, ...] = (INSTRUCTION_WORDS, INSTRUCTION_WORDS.capitalize())


def train_tokenizer(
    vocab_size: int, corpus: Iterable[str] | None = None
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on ``corpus`` and wrap it for transformers with our chat template.

    Args:
        vocab_size: total size including the 256 byte tokens and ``SPECIAL_TOKENS``; the trainer
            stops earlier when the corpus has no more pairs to merge.
        corpus: sentences whose frequent words get merges; ``None`` is ``INSTRUCTION_CORPUS``.
            Same corpus and size, same tokenizer (the BPE trainer is deterministic).

    Returns:
        A ``PreTrainedTokenizerFast`` with pad ``<|endoftext|>``, eos ``<|im_end|>``, no unk
        (byte-level), and ``CHAT_TEMPLATE``. No ``<emb>`` yet (``factory.add_emb_token``).

    Raises:
        ValueError: ``vocab_size`` below 256 bytes + the special tokens.
    """
    if vocab_size < 256 + len(SPECIAL_TOKENS):
        raise ValueError(f"vocab_size={vocab_size} is below the 256 bytes + special tokens")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    lines = INSTRUCTION_CORPUS if corpus is None else corpus
    tok.train_from_iterator(lines, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=PAD,
        eos_token=IM_END,
        unk_token=None,
        extra_special_tokens={},
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast
