"""A small byte-level BPE tokenizer for the tiny backbone, trained locally in well under a second.

Byte-level: every string (any language, any symbol) tokenizes through the 256 byte tokens, so the
tokenizer never fails on text outside its training corpus; the corpus only decides which words get
short encodings. The special tokens are the ones a Qwen2.5-VL processor and model expect.
"""

from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from rge.data import scenes

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

# Generic words of retrieval / VQA / grounding instructions, so that the synthetic benchmark's
# prompts (written by the data layer) get short encodings; anything else still encodes via bytes.
_INSTRUCTION_WORDS = (
    "represent the given image for classification find describe and focus on object in that is "
    "answer a question based following caption retrieval select which what colour color shape "
    "left right next to not one of side there are two objects this picture photo scene with "
    "identify category main summarize above below an it its has have how many where who same "
    "different matching query target candidate text description region crop labeled as show "
    "shown everyday retrieve represent: question: answer: image: yes no because so then first "
    "second both neither either other another each per by from for to of at a an the"
)


def training_corpus() -> list[str]:
    """Sentences covering the scene vocabulary, the canonical descriptions and instruction words."""
    lines = [_INSTRUCTION_WORDS, _INSTRUCTION_WORDS.capitalize()]
    for color in scenes.COLORS:
        for shape in scenes.SHAPES:
            for side in scenes.SIDES:
                lines.append(f"{side} is {color} {shape} , the {color} {shape} is on the {side} .")
                lines.append(f"The {color} one on the {side} is a {shape}. Is it {color}? Yes.")
    for c1 in scenes.COLORS:
        for c2 in scenes.COLORS:
            if c1 != c2:
                lines.append(f"left is {c1} circle , right is {c2} square . not {c1} but {c2} .")
    return lines


def train_tokenizer(vocab_size: int) -> PreTrainedTokenizerFast:
    """Train the byte-level BPE on ``training_corpus`` and wrap it for transformers."""
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
    tok.train_from_iterator(training_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=PAD,
        eos_token=IM_END,
        unk_token=None,
        extra_special_tokens={},
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast
