"""Reasoning-mode embeddings: rationale generation with a KV cache, then ``<emb>``.

One decode loop serves generation (rationales for training, the perception probe) and the
reasoning-mode embedding, configured by ``rge.model.generation.GenerationSettings`` (the
``generation:`` config block; None = the defaults below). The batch is left-padded so every
row's next token sits in the last column. Each step feeds one token per row with explicit M-RoPE
position ids (the cached step cannot infer them, ml-stack-facts trap 2). A row that chooses
``<emb>`` is fed it in that same step (its last-layer hidden state, L2-normalised, is the
embedding). Two engines run that loop:

- ``dynamic`` (default): a growing ``DynamicCache``; a finished row leaves the batch and its rows
  of the cache are dropped, so later steps cost only the rows still writing;
- ``static`` (``rge.model.static_decode``): a preallocated cache and a fixed-shape step with no
  host read (finished rows stay, masked), captured as a CUDA graph on CUDA; evaluation batches
  are sorted by prompt length into at most ``length_buckets`` padded widths.

Both write the same tokens and embeddings (tests/unit/test_static_decode.py). Tokens are chosen
greedily (``decoding: greedy``) or as the checkpoint's generation config says (``checkpoint``:
repetition penalty etc., ``rge.model.generation``). At the cap, rows still writing get
``<emb>`` in one last cached step (``cap: force_emb``) or are embedded by the state of their
last rationale token (``cap: last_token``, the RGE release). Each embedding equals a full forward
over prompt + rationale + ``<emb>`` (``rationale_batch``; for ``last_token`` rows the position
before ``<emb>``) to float tolerance (tests/unit/test_reasoning*.py).

A row stops when it emits ``<emb>``. ``max_new_tokens`` counts generated tokens including
``<emb>`` (as ``generate`` does): a row that never emits it keeps ``max_new_tokens`` rationale
tokens and is ``forced``. Vision placeholders and the padding token are never generated (a
generated ``<|image_pad|>`` breaks any later forward, trap 4).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from rge.data.records import Item
from rge.model.chat import IMAGE_PAD, _pad, build_batch, prompt_text
from rge.model.embed import move_batch
from rge.model.factory import emb_token_id
from rge.model.generation import Decoding, GenerationSettings, choose_tokens, resolve_decoding

log = logging.getLogger(__name__)

SUPPRESSED_TOKENS = (
    "<|image_pad|>",
    "<|video_pad|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
)
_PREFILL_KEYS = ("input_ids", "attention_mask", "pixel_values", "image_grid_thw")


@dataclass(frozen=True)
class Rationale:
    """A generated rationale (everything the model wrote before ``<emb>``)."""

    text: str  # decoded rationale, without <emb> (special tokens kept, so it re-tokenizes)
    token_ids: tuple[int, ...]  # generated ids before <emb> (excludes <emb>)
    n_tokens: int  # len(token_ids)
    forced: bool  # True when <emb> never came within max_new_tokens (it was appended)


def suppressed_ids(processor: Any) -> list[int]:
    """Ids greedy decoding must never pick: vision placeholders and the padding token."""
    tk = processor.tokenizer
    vocab = tk.get_vocab()
    ids = {vocab[t] for t in SUPPRESSED_TOKENS if t in vocab}
    if tk.pad_token_id is not None:
        ids.add(tk.pad_token_id)
    return sorted(ids)


class _Decoder:
    """Cached decoding state for one left-padded batch (prefill done in ``__init__``).

    ``context`` (rows, T) holds each live row's prompt + generated ids when the token choice
    reads them (the repetition penalty of ``decoding: checkpoint``), else None.
    """

    def __init__(self, model: Any, batch: dict[str, torch.Tensor], context: bool) -> None:
        self.model = model
        self.mask = batch["attention_mask"]
        pos, deltas = model.model.get_rope_index(
            batch["input_ids"],
            mm_token_type_ids=batch["mm_token_type_ids"],
            image_grid_thw=batch.get("image_grid_thw"),
            attention_mask=self.mask,
        )
        # text positions continue from each row's largest position: pos = n_real - 1 + delta
        self.deltas = deltas.to(self.mask.device).view(-1)
        self.context = batch["input_ids"] if context else None
        inputs = {k: batch[k] for k in _PREFILL_KEYS if k in batch}
        out = model.model(**inputs, position_ids=pos, use_cache=True)
        self.cache = out.cache
        self.last = out.last_hidden_state[:, -1]

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Feed one token per row; return the rows' last hidden states."""
        self.mask = F.pad(self.mask, (0, 1), value=1)
        pos = self.mask.sum(dim=1) - 1 + self.deltas
        out = self.model.model(
            input_ids=tokens[:, None],
            attention_mask=self.mask,
            position_ids=pos.view(1, -1, 1).expand(3, -1, 1),
            cache=self.cache,
            use_cache=True,
        )
        self.cache = out.cache
        self.last = out.last_hidden_state[:, -1]
        return self.last

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only ``rows`` (indices into the current batch) in the cache and the state."""
        self.cache.batch_select_indices(rows)
        self.mask, self.deltas, self.last = self.mask[rows], self.deltas[rows], self.last[rows]
        if self.context is not None:
            self.context = self.context[rows]

    def next_tokens(self, choice: _Choice) -> torch.Tensor:
        """The next token of every row from the last hidden state (``choice``'s rule)."""
        logits = self.model.lm_head(self.last).float()
        tokens = choose_tokens(
            logits,
            choice.decoding,
            choice.suppress,
            context=self.context,
            generator=choice.generator,
        )
        if self.context is not None:
            self.context = torch.cat([self.context, tokens[:, None]], dim=1)
        return tokens


@dataclass(frozen=True)
class _Choice:
    """Everything one call's token choice needs (resolved once per call)."""

    settings: GenerationSettings
    decoding: Decoding
    suppress: torch.Tensor  # 1-D long on the model's device
    emb_id: int
    generator: torch.Generator | None


def _choice(model: Any, processor: Any, settings: GenerationSettings, seed: int) -> _Choice:
    device = next(model.parameters()).device
    decoding = resolve_decoding(settings, model.generation_config)
    generator = None
    if decoding.samples:
        generator = torch.Generator(device=device).manual_seed(seed)
        log.info("reasoning decode samples at temperature %g, seed %d", decoding.temperature, seed)
    suppress = torch.tensor(suppressed_ids(processor), dtype=torch.long, device=device)
    return _Choice(settings, decoding, suppress, emb_token_id(processor), generator)


def _left_batch(
    processor: Any, items: list[Item], load_image: Callable[[str], Any] | None, width: int = 0
) -> dict[str, torch.Tensor]:
    """The items' prompts, left-padded to at least ``width`` columns (no labels)."""
    batch = build_batch(processor, items, emb=False, padding_side="left", load_image=load_image)
    batch.pop("labels")
    extra = width - batch["input_ids"].shape[1]
    if extra > 0:
        pad_id = processor.tokenizer.pad_token_id
        for key, value in (("input_ids", pad_id), ("attention_mask", 0), ("mm_token_type_ids", 0)):
            batch[key] = F.pad(batch[key], (extra, 0), value=value)
    return batch


def _decode(
    model: Any,
    processor: Any,
    items: list[Item],
    *,
    max_new_tokens: int,
    load_image: Callable[[str], Any] | None,
    embed: bool,
    choice: _Choice,
    width: int = 0,
) -> tuple[list[Rationale], torch.Tensor | None]:
    """Generate rationales for one batch; with ``embed``, also the embeddings (N, D) float32."""
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    device = next(model.parameters()).device
    batch = move_batch(_left_batch(processor, items, load_image, width), device)
    if choice.settings.engine == "static":
        ids, hidden = _decode_static(model, batch, max_new_tokens, embed, choice)
    else:
        ids, hidden = _decode_dynamic(model, batch, max_new_tokens, embed, choice)
    tk = processor.tokenizer
    rationales = [
        Rationale(
            tk.decode(r, skip_special_tokens=False), tuple(r), len(r), len(r) == max_new_tokens
        )
        for r in ids
    ]
    return rationales, (F.normalize(hidden.float(), dim=-1) if embed else None)


def _decode_dynamic(
    model: Any, batch: dict, max_new_tokens: int, embed: bool, choice: _Choice
) -> tuple[list[list[int]], torch.Tensor]:
    """The dynamic engine: a growing cache; finished rows leave the batch and the cache."""
    emb_id, device = choice.emb_id, batch["input_ids"].device
    dec = _Decoder(model, batch, choice.decoding.needs_context)
    n = batch["input_ids"].shape[0]
    live = torch.arange(n, device=device)  # original row of each row still decoding
    stopped = [False] * n
    generated: list[list[int]] = [[] for _ in range(n)]
    hidden = torch.empty((n, dec.last.shape[-1]), dtype=dec.last.dtype, device=device)
    for step in range(max_new_tokens):
        tokens = dec.next_tokens(choice)
        stop = tokens == emb_id
        for row, tok, s in zip(live.tolist(), tokens.tolist(), stop.tolist(), strict=True):
            stopped[row] = s
            if not s:
                generated[row].append(tok)
        if embed:
            # a row that just chose <emb> is fed it now: that step's hidden state is its embedding
            last = dec.step(tokens)
            hidden[live[stop]] = last[stop]
        if step == max_new_tokens - 1:
            break
        keep = (~stop).nonzero().view(-1)
        if keep.numel() == 0:
            break
        live = live[keep]
        if keep.numel() < stop.numel():
            dec.keep(keep)  # finished rows leave the batch: later steps cost only the live ones
        if not embed:
            dec.step(tokens[keep])
    rows = torch.tensor([i for i in range(n) if not stopped[i]], dtype=torch.long, device=device)
    if embed and rows.numel():
        if max_new_tokens:
            dec.keep((~stop).nonzero().view(-1))
        if choice.settings.cap == "last_token":
            hidden[rows] = dec.last  # the state of the last rationale token, no <emb> (release)
        else:  # rows that never chose <emb> get it appended after their last rationale token
            hidden[rows] = dec.step(torch.full((rows.numel(),), emb_id, device=device))
    return generated, hidden


def _decode_static(
    model: Any, batch: dict, max_new_tokens: int, embed: bool, choice: _Choice
) -> tuple[list[list[int]], torch.Tensor]:
    """The static engine (``rge.model.static_decode``): fixed shapes, masked rows, no syncs."""
    from rge.model import static_decode as sd

    settings = choice.settings
    device = batch["input_ids"].device
    use_graph = device.type == "cuda" and sd.CUDA_GRAPHS and not choice.decoding.samples
    if use_graph and sd.zero3_params(model):
        log.warning("static decode: ZeRO-3 parameters move between forwards; no CUDA graph")
        use_graph = False
    shape = (*batch["input_ids"].shape, max_new_tokens)
    dec = sd.engine_for(model, keep=settings.length_buckets + 1).decoder(
        model,
        shape,
        decoding=choice.decoding,
        suppress=choice.suppress,
        emb_id=choice.emb_id,
        use_graph=use_graph,
        compiled=settings.compile,
        generator=choice.generator,
    )
    dec.load(batch)
    dec.run(max_new_tokens, embed=embed, cap_mode=settings.cap, sync_every=settings.sync_every)
    ids, hidden = dec.results(max_new_tokens)
    return ids, hidden.clone()


def prompt_lengths(
    processor: Any, items: list[Item], load_image: Callable[[str], Any] | None
) -> list[int]:
    """Token count of each item's prompt (as ``build_batch`` makes it), without processing pixels.

    Image tokens come from the image size by the image processor's own resize rule
    (``get_number_of_image_patches`` / merge_size**2); used only to group similar lengths.
    """
    if load_image is None:
        from rge.data.images import load_image
    ip = processor.image_processor
    counts = []
    for it in items:
        if not it.image:
            counts.append(0)
            continue
        width, height = load_image(it.image).size
        counts.append(ip.get_number_of_image_patches(height, width) // ip.merge_size**2)
    prompts = [prompt_text(it.text, n) for it, n in zip(items, counts, strict=True)]
    return [len(ids) for ids in processor.tokenizer(prompts, add_special_tokens=False)["input_ids"]]


def length_batches(
    lengths: Sequence[int], batch_size: int, n_buckets: int
) -> list[tuple[list[int], int]]:
    """Batches of indices sorted by length, each with its bucket's padded width.

    Consecutive batches of the length-sorted order are grouped into at most ``n_buckets``
    buckets of whole batches; every batch of a bucket is padded to the bucket's longest prompt,
    so a bucket is one (batch size, width) shape (plus the last, shorter batch).
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    per_bucket = -(-len(batches) // n_buckets) if batches else 1
    out = []
    for start in range(0, len(batches), per_bucket):
        group = batches[start : start + per_bucket]
        width = max(lengths[i] for b in group for i in b)
        out += [(b, width) for b in group]
    return out


def _batched(
    model: Any,
    processor: Any,
    items: list[Item],
    *,
    max_new_tokens: int,
    batch_size: int,
    load_image: Callable[[str], Any] | None,
    embed: bool,
    settings: GenerationSettings | None,
    seed: int,
    sort: bool = False,
) -> tuple[list[Rationale], torch.Tensor | None]:
    """Run ``_decode`` over ``items`` in chunks, in eval mode, restoring the training flag.

    With ``sort`` and the static engine, chunks follow ``length_batches``; results come back in
    input order either way.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    settings = settings or GenerationSettings()
    choice = _choice(model, processor, settings, seed)
    if sort and settings.engine == "static":
        lengths = prompt_lengths(processor, items, load_image)
        plan = length_batches(lengths, batch_size, settings.length_buckets)
    else:
        plan = [
            (list(range(i, min(i + batch_size, len(items)))), 0)
            for i in range(0, len(items), batch_size)
        ]
    was_training = model.training
    model.eval()
    rationales: list[Rationale | None] = [None] * len(items)
    vecs: list[torch.Tensor | None] = [None] * len(items)
    try:
        for rows, width in plan:
            # the rope offsets stored on the model belong to some other call: never reuse them
            model.model.rope_deltas = None
            r, v = _decode(
                model,
                processor,
                [items[i] for i in rows],
                max_new_tokens=max_new_tokens,
                load_image=load_image,
                embed=embed,
                choice=choice,
                width=width,
            )
            for j, i in enumerate(rows):
                rationales[i] = r[j]
                if v is not None:
                    vecs[i] = v[j].cpu()
    finally:
        model.model.rope_deltas = None
        model.train(was_training)
    return rationales, (torch.stack(vecs) if embed and items else None)


@torch.no_grad()
def generate_rationales(
    model: Any,
    processor: Any,
    items: list[Item],
    *,
    max_new_tokens: int,
    load_image: Callable[[str], Any] | None = None,
    batch_size: int | None = None,
    generation: GenerationSettings | None = None,
    seed: int = 0,
) -> list[Rationale]:
    """Rationales of ``items`` (input order), stopping per row at ``<emb>``.

    No grad, eval mode (the training flag is restored), batched with left padding and a KV
    cache; ``batch_size`` None runs all items as one batch. ``generation`` chooses the engine and
    the decoding (None: dynamic, greedy); ``seed`` seeds sampling when the settings allow it.
    """
    if not items:
        return []
    size = batch_size or len(items)
    return _batched(
        model,
        processor,
        items,
        max_new_tokens=max_new_tokens,
        batch_size=size,
        load_image=load_image,
        embed=False,
        settings=generation,
        seed=seed,
    )[0]


@torch.no_grad()
def embed_reasoning(
    model: Any,
    processor: Any,
    items: list[Item],
    *,
    max_new_tokens: int,
    batch_size: int = 32,
    load_image: Callable[[str], Any] | None = None,
    generation: GenerationSettings | None = None,
    seed: int = 0,
) -> tuple[torch.Tensor, list[Rationale]]:
    """Reasoning-mode embeddings (N, D) float32 on the CPU, unit norm, with their rationales.

    Generate (``generation``: engine, decoding, cap; None = dynamic, greedy, ``force_emb``);
    a row that chose ``<emb>`` is embedded by the last-layer state of its ``<emb>`` step (as a
    full forward over ``rationale_batch``). A row still writing at the cap gets ``<emb>`` fed
    (``force_emb``) or is embedded by the state of its last rationale token (``last_token``,
    the release). With the static engine, batches are sorted by prompt length.
    """
    if not items:
        return torch.zeros((0, model.config.text_config.hidden_size)), []
    rationales, vecs = _batched(
        model,
        processor,
        items,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        load_image=load_image,
        embed=True,
        settings=generation,
        seed=seed,
        sort=True,
    )
    return vecs, rationales


def rationale_batch(
    processor: Any,
    items: list[Item],
    token_ids: Sequence[Sequence[int]],
    *,
    load_image: Callable[[str], Any] | None = None,
) -> dict[str, torch.Tensor]:
    """``build_batch`` with each response given as token ids (right-padded, ``<emb>`` appended).

    The exact generated ids, not a decode -> re-tokenize round trip (which may merge bytes
    differently): the batch ``forward`` needs to reproduce ``embed_reasoning`` and to put the LM
    loss on what the model actually wrote. Labels cover the ids and ``<emb>``.
    """
    if len(token_ids) != len(items):
        raise ValueError(f"{len(items)} items but {len(token_ids)} token id lists")
    prompts = build_batch(processor, items, emb=False, load_image=load_image)
    tail = [emb_token_id(processor)]
    rows = [
        (ids[mask.bool()].tolist(), [int(t) for t in resp] + tail)
        for ids, mask, resp in zip(
            prompts["input_ids"], prompts["attention_mask"], token_ids, strict=True
        )
    ]
    tk = processor.tokenizer
    batch = _pad(rows, tk.pad_token_id, "right")
    batch["mm_token_type_ids"] = (batch["input_ids"] == tk.convert_tokens_to_ids(IMAGE_PAD)).long()
    vision = {k: prompts[k] for k in ("pixel_values", "image_grid_thw") if k in prompts}
    return {**batch, **vision}
