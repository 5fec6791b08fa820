"""The ``generation:`` config block and the token choice shared by both decode engines.

``GenerationSettings`` holds the block's keys (the release-protocol issue: how tokens are chosen
and what happens at the cap; the generation-speed issue: which engine runs the loop). Defaults
reproduce the loop the project had before the block existed: the ``dynamic`` engine, plain greedy
decoding, ``<emb>`` forced at the cap, float32, ``sdpa``.

``decoding: checkpoint`` follows the checkpoint's ``generation_config`` the way the RGE release's
bare ``model.generate(...)`` call does (MCG-NJU/RGE ``src/model.py``): Qwen2.5-VL-3B-Instruct ships
``repetition_penalty 1.05, do_sample true, temperature 1e-6``, i.e. greedy with a repetition
penalty. The penalty runs through transformers' own ``RepetitionPenaltyLogitsProcessor``; a
temperature at or below ``GREEDY_TEMPERATURE`` is greedy (logged); real sampling is refused unless
``allow_sampling``, and then drawn from a seeded generator (Gumbel-max, no host read).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported where it is used: config validation must not need it
    import torch

log = logging.getLogger(__name__)

ENGINES = ("dynamic", "static")
DECODINGS = ("greedy", "checkpoint")
CAPS = ("force_emb", "last_token")
DTYPES = ("float32", "bfloat16", "float16")
ATTN_IMPLEMENTATIONS = ("sdpa", "flash_attention_2", "eager")
# temperatures at or below this are greedy: 1e-6 (Qwen's shipped value) divides logits by 1e6,
# so sampling picks the argmax unless two logits are within ~1e-5 of each other
GREEDY_TEMPERATURE = 1e-5
# generation_config keys that change which token is chosen and that the loop cannot honour
_UNSUPPORTED = {
    "num_beams": 1,
    "no_repeat_ngram_size": 0,
    "bad_words_ids": None,
    "min_new_tokens": None,
    "min_length": 0,
    "encoder_repetition_penalty": 1.0,
    "sequence_bias": None,
    "force_words_ids": None,
    "min_p": None,
    "typical_p": 1.0,
    "epsilon_cutoff": 0.0,
    "eta_cutoff": 0.0,
}


def _choice(key: str, value: Any, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"generation.{key}: {value!r} is not one of {list(allowed)}")


@dataclass(frozen=True)
class GenerationSettings:
    """The ``generation:`` config block (every key optional; defaults = the pre-block behaviour).

    Attributes:
        engine: ``dynamic`` (KV cache that grows, finished rows leave the batch) or ``static``
            (preallocated cache, fixed-shape sync-free step, CUDA-graph captured on CUDA).
        decoding: ``greedy`` (argmax, vision placeholders suppressed) or ``checkpoint`` (the
            checkpoint's ``generation_config``: repetition penalty, temperature, top-k/top-p).
        cap: what a row still writing at ``max_new_tokens`` embeds: ``force_emb`` (feed
            ``<emb>``, its state is the embedding) or ``last_token`` (the state of the last
            rationale token, no ``<emb>``: the release).
        sync_every: static engine: steps between host reads of "every row finished" (>= 1).
        compile: static engine: ``torch.compile`` the decode step (minutes on the CPU).
        length_buckets: static engine, evaluation: queries sorted by prompt length into at most
            this many padded widths (>= 1; each width is one captured graph per batch size).
        dtype: evaluation weights' dtype (paper: bfloat16), applied where the model is loaded.
        attn_implementation: the text model's attention (paper: flash_attention_2), applied
            where the model is loaded; the static engine supports ``sdpa`` and ``eager``.
        allow_sampling: let ``decoding: checkpoint`` sample when the checkpoint asks for it
            (seeded); otherwise such a checkpoint is refused.
    """

    engine: str = "dynamic"
    decoding: str = "greedy"
    cap: str = "force_emb"
    sync_every: int = 8
    compile: bool = False
    length_buckets: int = 4
    dtype: str = "float32"
    attn_implementation: str = "sdpa"
    allow_sampling: bool = False

    def __post_init__(self) -> None:
        _choice("engine", self.engine, ENGINES)
        _choice("decoding", self.decoding, DECODINGS)
        _choice("cap", self.cap, CAPS)
        _choice("dtype", self.dtype, DTYPES)
        _choice("attn_implementation", self.attn_implementation, ATTN_IMPLEMENTATIONS)
        for key in ("sync_every", "length_buckets"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"generation.{key}: must be an integer >= 1, got {value!r}")
        for key in ("compile", "allow_sampling"):
            if not isinstance(getattr(self, key), bool):
                raise ValueError(f"generation.{key}: must be true or false")

    @classmethod
    def from_dict(cls, block: Mapping[str, Any] | None) -> GenerationSettings:
        """Settings from a config's ``generation:`` mapping (None or {} -> defaults).

        Raises:
            ValueError: naming any unknown key (with the known ones) or any invalid value.
        """
        block = dict(block or {})
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(block) - set(known))
        if unknown:
            raise ValueError(f"generation: unknown key(s) {unknown}; known: {known}")
        return cls(**block)

    @property
    def torch_dtype(self) -> torch.dtype:
        """``dtype`` as a ``torch.dtype``."""
        import torch

        return getattr(torch, self.dtype)


@dataclass(frozen=True)
class Decoding:
    """How the next token is chosen, resolved once per call from settings + generation config.

    ``processors`` (transformers logits processors, applied in order) see ``(context ids (B, T)
    long, scores (B, V) float32)``. ``temperature`` None means greedy.
    """

    processors: Any = ()
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None

    @property
    def needs_context(self) -> bool:
        """Whether the processors read the ids written so far (the repetition penalty does)."""
        return len(self.processors) > 0

    @property
    def samples(self) -> bool:
        return self.temperature is not None


GREEDY = Decoding()


def _unsupported_keys(gc: Any) -> list[str]:
    # transformers 5 leaves unset keys at None; the other value listed is the key's no-op
    return sorted(
        k for k, plain in _UNSUPPORTED.items() if getattr(gc, k, None) not in (None, plain)
    )


def resolve_decoding(settings: GenerationSettings, generation_config: Any) -> Decoding:
    """The ``Decoding`` of ``settings`` for a model whose ``generation_config`` is given.

    Raises:
        ValueError: the checkpoint asks for real sampling and ``allow_sampling`` is false, or
            sets a key (beam search, n-gram blocking, ...) this loop does not implement.
    """
    if settings.decoding == "greedy":
        return GREEDY
    from transformers import LogitsProcessorList, RepetitionPenaltyLogitsProcessor

    gc = generation_config
    bad = _unsupported_keys(gc)
    if bad:
        raise ValueError(
            f"decoding: checkpoint: the generation_config sets {bad}, which the reasoning decode "
            "loop does not implement (use decoding: greedy, or remove them from the checkpoint)"
        )
    procs = LogitsProcessorList()
    penalty = getattr(gc, "repetition_penalty", None)
    if penalty is not None and float(penalty) != 1.0:
        procs.append(RepetitionPenaltyLogitsProcessor(float(penalty)))
    temperature = getattr(gc, "temperature", None)
    if not getattr(gc, "do_sample", False):
        return Decoding(processors=procs)
    if temperature is not None and float(temperature) <= GREEDY_TEMPERATURE:
        log.warning(
            "decoding: checkpoint: do_sample with temperature %g <= %g is decoded greedily",
            float(temperature),
            GREEDY_TEMPERATURE,
        )
        return Decoding(processors=procs)
    if not settings.allow_sampling:
        raise ValueError(
            f"decoding: checkpoint: the generation_config samples (do_sample, temperature "
            f"{temperature}); set generation.allow_sampling: true to sample (seeded) or use "
            "decoding: greedy"
        )
    top_k = getattr(gc, "top_k", None)
    top_p = getattr(gc, "top_p", None)
    return Decoding(
        processors=procs,
        temperature=float(temperature if temperature is not None else 1.0),
        top_k=int(top_k) if top_k else None,
        top_p=float(top_p) if top_p is not None and float(top_p) < 1.0 else None,
    )


def choose_tokens(
    scores: torch.Tensor,
    decoding: Decoding,
    suppress: torch.Tensor,
    *,
    context: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Next token (B,) long of each row from LM scores (B, V) float32, all on the device.

    Processors first (they need ``context`` (B, T) long), then the ``suppress`` ids (1-D long
    tensor) are set to -inf, then argmax, or Gumbel-max sampling at ``decoding.temperature``
    after top-k/top-p filtering. No host synchronisation.
    """
    for processor in decoding.processors:
        scores = processor(context, scores)
    scores = scores.index_fill(1, suppress, float("-inf"))
    if not decoding.samples:
        return scores.argmax(dim=-1)
    import torch
    from transformers import TopKLogitsWarper, TopPLogitsWarper

    scores = scores / decoding.temperature
    if decoding.top_k:
        scores = TopKLogitsWarper(decoding.top_k)(context, scores)
    if decoding.top_p is not None:
        scores = TopPLogitsWarper(decoding.top_p)(context, scores)
    # Gumbel-max: argmax(s + g) with g ~ Gumbel(0, 1) draws from softmax(s), with no host read
    u = torch.rand(scores.shape, generator=generator, device=scores.device)
    gumbel = -torch.log(-torch.log(u.clamp_min(1e-20)))
    return (scores + gumbel).argmax(dim=-1)
