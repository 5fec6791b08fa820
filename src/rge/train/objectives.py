"""Training objectives: one small class per objective, picked by name from the run's config.

An objective turns a batch of ``TrainPair`` into a ``StepOutput``. Without a gradient cache its
``loss`` carries the gradient and the loop calls ``backward`` on it. With a gradient cache
(``chunk_size`` > 0, see ``rge.train.gradcache``) the objective back-propagates chunk by chunk
itself, through the ``backward`` callable the loop hands it (plain autograd or a DeepSpeed
engine), and returns ``backward_done=True`` with a detached loss.

Objectives:

- ``baseline``: InfoNCE (paper eq. 2) between direct-mode query and target embeddings.
- ``rge``: L = a_lm * L_LM-bar + a_con * L_con (paper eq. 10), the config's ``alpha_lm`` and
  ``alpha_con`` normalised to sum to 1. L_LM-bar (eq. 8) is read as the token-weighted mean
  negative log-likelihood over *all* supervised tokens of the step, both sides together (query:
  oracle rationale + ``<emb>``; target: ``<emb>``), each token weighing the same. L_con is
  InfoNCE between the query embedding and the direct-mode target embedding; ``pair`` picks the
  query embedding: ``q`` (direct, no rationale), ``q_oracle`` (the ``<emb>`` state of the same
  forward that carries the LM loss over the oracle rationale: the leaky variant of paper §3.5),
  ``q_self`` (a rationale generated greedily without grad every step, then a grad forward over
  query + that rationale + ``<emb>``).
- ``lm``: the cold start (paper §4.1): L_LM-bar alone, no embedding forward.

Perturbations (paper Fig. 4 diagnostics, ``rge`` only): ``perturb`` replaces, before anything
else, each row's target (``wrong_target``: (q, r_o, t_w)) or query (``wrong_query``:
(q_w, r_o, t)) with another row's of the same batch (a seeded derangement, see
``perturb_pairs``); the oracle rationale stays the row's own, because it is looked up by key.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import torch

from rge.data.records import Item, TrainPair
from rge.model.generation import GenerationSettings
from rge.train.gradcache import Encoded, cached_backward
from rge.train.losses import GatherFn, info_nce, local_gather

if TYPE_CHECKING:
    from transformers import PreTrainedModel, ProcessorMixin

PAIRS = ("q", "q_oracle", "q_self")
PERTURBATIONS = ("none", "wrong_target", "wrong_query")
Backward = Callable[[torch.Tensor], None]


@dataclass
class StepOutput:
    """What one objective step produced: the loss to back-propagate and numbers to log."""

    loss: torch.Tensor
    con: float | None = None  # contrastive (InfoNCE) part, if any
    lm: float | None = None  # token-weighted LM part, if any
    stats: dict[str, float] = field(default_factory=dict)  # extra per-step numbers for the log
    backward_done: bool = False  # the objective already back-propagated (gradient cache)
    # [(pair key, rationale text)] of the step's self-generated rationales (q_self), logged so
    # training-row rationale correctness can be measured on the training split (issue 12 item 6)
    rationales: list[tuple[str, str]] | None = None


class Objective(Protocol):
    """What the training loop and the train stages need of an objective.

    ``objective(model, processor, pairs, backward=...) -> StepOutput`` for one batch. The model
    is the backbone (parameters on any one device; the objective moves each batch there), the
    processor its Qwen2.5-VL processor, ``pairs`` one batch (the loop draws it from one subset).

    Members:
        takes_backward: True when ``__call__`` accepts ``backward=`` (how to back-propagate a
            scalar: autograd or a DeepSpeed engine) and may back-propagate itself (gradient
            cache), returning ``StepOutput.backward_done=True`` and a detached loss. The loop
            reads it with a False default, so a plain function also serves as an objective.
        check_rationales(pairs): raise KeyError naming the keys whose oracle rationale is
            missing, when the objective needs one; called once on the whole training set
            before step 1, so a gap fails the run at start and not at the step that meets it.

    ``StepOutput.loss`` is a float32 scalar on the model's device; a non-finite loss makes the
    loop raise FloatingPointError.
    """

    takes_backward: ClassVar[bool]

    def __call__(
        self,
        model: PreTrainedModel,
        processor: ProcessorMixin,
        pairs: Sequence[TrainPair],
        *,
        backward: Backward | None = None,
    ) -> StepOutput: ...

    def check_rationales(self, pairs: Sequence[TrainPair]) -> None: ...


def _negatives(pairs: Sequence[TrainPair], per_pair: int) -> list[Item]:
    """Up to ``per_pair`` hard negatives of each pair, flattened in pair order."""
    return [n for p in pairs for n in p.negs[:per_pair]]


@dataclass
class _Chunk:
    """The inputs of one chunk: pairs with their oracle and self-generated rationales."""

    pairs: Sequence[TrainPair]
    oracle: list[str] | None = None
    self_ids: list[tuple[int, ...]] | None = None
    self_text: list[str] | None = None  # decoded self rationales (for the log only)

    def rationale_log(self) -> list[tuple[str, str]] | None:
        """[(pair key, self rationale)] or None without self rationales."""
        if self.self_text is None:
            return None
        return [(p.key, t) for p, t in zip(self.pairs, self.self_text, strict=True)]

    def split(self, size: int) -> list[_Chunk]:
        def part(xs: list | None, i: int) -> list | None:
            return None if xs is None else xs[i : i + size]

        return [
            _Chunk(self.pairs[i : i + size], part(self.oracle, i), part(self.self_ids, i))
            for i in range(0, len(self.pairs), size)
        ]


@dataclass(frozen=True)
class _Plan:
    """Which forwards a step needs (derived from the objective's settings)."""

    query: str | None  # "direct" | "oracle" | "self" | None (no query embedding)
    contrastive: bool
    lm: bool  # any LM loss at all (query oracle rationale + target <emb>)
    negatives_per_pair: int  # 0: no hard negatives


def _forward(
    model: PreTrainedModel, batch: dict, *, lm: bool
) -> tuple[torch.Tensor, torch.Tensor, int]:
    from rge.model.embed import forward, move_batch

    emb, loss_sum, n = forward(model, move_batch(batch, next(model.parameters()).device), lm=lm)
    return emb, loss_sum, int(n)


def _encode(
    model: PreTrainedModel,
    processor: ProcessorMixin,
    chunk: _Chunk,
    plan: _Plan,
    with_lm: bool,
    lm_scale: float,
) -> Encoded:
    """Embeddings (and, with ``with_lm``, the weighted LM sum) of one chunk.

    Embedding forwards run first (query, then targets), LM-only forwards last, so a no-LM
    pass 1 of the gradient cache consumes the RNG exactly as pass 2 does up to its last
    embedding.
    """
    from rge.model.chat import IGNORE, build_batch
    from rge.model.reasoning import rationale_batch

    queries = [p.query for p in chunk.pairs]
    lm = plan.lm and with_lm
    embs: dict[str, torch.Tensor] = {}
    sums: list[torch.Tensor] = []
    count = 0
    if plan.query == "direct":
        embs["q"] = _forward(model, build_batch(processor, queries), lm=False)[0]
    elif plan.query == "oracle":
        q, s, n = _forward(model, build_batch(processor, queries, chunk.oracle), lm=lm)
        embs["q"], sums, count = q, [s], n
    elif plan.query == "self":
        embs["q"] = _forward(model, rationale_batch(processor, queries, chunk.self_ids), lm=False)[
            0
        ]
    if plan.contrastive or lm:
        negs = _negatives(chunk.pairs, plan.negatives_per_pair) if plan.contrastive else []
        batch = build_batch(processor, [p.pos for p in chunk.pairs] + negs)
        batch["labels"][len(chunk.pairs) :] = IGNORE  # LM only on the positives' <emb>
        t_all, s, n = _forward(model, batch, lm=lm)
        if plan.contrastive:
            embs["t"], embs["n"] = t_all[: len(chunk.pairs)], t_all[len(chunk.pairs) :]
        sums, count = sums + [s], count + n
    if lm and plan.query != "oracle":
        _, s, n = _forward(model, build_batch(processor, queries, chunk.oracle), lm=True)
        sums, count = sums + [s], count + n
    extra = lm_scale * sum(sums[1:], sums[0]) if sums else None
    lm_sum = float(sum(float(s.detach()) for s in sums))
    return Encoded(embs=embs, extra=extra, stats={"lm_sum": lm_sum, "lm_tokens": count})


@dataclass
class _Core:
    """Shared machinery of the objectives below (not registered itself)."""

    takes_backward: ClassVar[bool] = True

    def _plan(self) -> _Plan:
        raise NotImplementedError

    def _weights(self) -> tuple[float, float]:
        """(a_lm, a_con), summing to 1."""
        raise NotImplementedError

    def _temperature(self) -> float:
        return float(getattr(self, "temperature", 0.03))

    def _gather(self) -> GatherFn:
        return getattr(self, "gather_fn", local_gather)

    def _prepare(
        self, model: PreTrainedModel, processor: ProcessorMixin, pairs: Sequence[TrainPair]
    ) -> tuple:
        """No-grad preparation: oracle rationales, self rationales, LM token count, stats."""
        return _Chunk(pairs), 0, {}

    def check_rationales(self, pairs: Sequence[TrainPair]) -> None:
        """Raise KeyError (naming keys) unless every pair has the oracle rationale it needs."""

    def __call__(
        self,
        model: PreTrainedModel,
        processor: ProcessorMixin,
        pairs: Sequence[TrainPair],
        *,
        backward: Backward | None = None,
    ) -> StepOutput:
        """One step's loss (see ``Objective``); back-propagates itself when ``chunk_size`` > 0."""
        plan = self._plan()
        a_lm, a_con = self._weights()
        whole, n_tokens, stats = self._prepare(model, processor, pairs)
        # Eq. 8 read as one mean over every supervised token of the step: each forward returns
        # a *sum* of token losses and the mean's denominator N is counted from the oracle text
        # before any forward. Scaling each sum by a_lm / N (rather than averaging per forward
        # or per chunk) keeps every token's weight equal however the batch is split into
        # chunks, so the gradient cache and one big forward give the same loss.
        lm_scale = a_lm / n_tokens if plan.lm and n_tokens else 0.0
        n_negs = len(_negatives(pairs, plan.negatives_per_pair)) if plan.contrastive else 0
        stats = {**stats, "candidates": float(len(pairs) + n_negs)} if plan.contrastive else stats
        # The unweighted InfoNCE value, for the log; in a cached step loss_fn runs once, on the
        # full batch of detached embeddings (pass 1), so raw_con[0] is the batch's value.
        raw_con: list[torch.Tensor] = []

        def loss_fn(embs: dict[str, torch.Tensor]) -> torch.Tensor:
            # An empty negative block means "in-batch negatives only" (info_nce takes None).
            n = embs["n"] if embs["n"].shape[0] else None
            con = info_nce(
                embs["q"], embs["t"], temperature=self._temperature(), negs=n,
                gather_fn=self._gather(),
            )  # fmt: skip
            raw_con.append(con.detach())
            return a_con * con

        def encode(chunk: _Chunk, with_lm: bool) -> Encoded:
            return _encode(model, processor, chunk, plan, with_lm, lm_scale)

        size = int(getattr(self, "chunk_size", 0) or 0)
        if size <= 0:
            # One forward per side; the loop calls backward on the returned loss.
            enc = encode(whole, True)
            loss = loss_fn(enc.embs) if plan.contrastive else None
            # a_con * InfoNCE + (a_lm / N) * sum of LM token losses; either part may be absent.
            loss = enc.extra if loss is None else loss if enc.extra is None else loss + enc.extra
            _check_tokens(enc.stats["lm_tokens"], n_tokens, plan)
            return StepOutput(
                loss=loss,
                con=float(raw_con[0]) if raw_con else None,
                lm=enc.stats["lm_sum"] / n_tokens if plan.lm else None,
                stats=stats,
                rationales=whole.rationale_log(),
            )
        # Gradient cache: the coupled InfoNCE on the whole batch, the LM sums as per-chunk
        # extras (already scaled by a_lm / N, so they add up to the no-cache loss).
        result = cached_backward(
            whole.split(size),
            encode,
            loss_fn if plan.contrastive else None,
            backward=backward or torch.Tensor.backward,
        )
        _check_tokens(int(result.stats.get("lm_tokens", 0)), n_tokens, plan)
        return StepOutput(
            loss=torch.tensor(result.loss),
            con=float(raw_con[0]) if raw_con else None,
            lm=result.stats.get("lm_sum", 0.0) / n_tokens if plan.lm else None,
            stats=stats,
            backward_done=True,
            rationales=whole.rationale_log(),
        )


def _check_tokens(seen: int, expected: int, plan: _Plan) -> None:
    # the LM weight a_lm / N was fixed before the forwards; a mismatch would silently rescale it
    if plan.lm and seen != expected:
        raise RuntimeError(f"LM token count {seen} differs from the precomputed {expected}")


def _oracle(rationales: dict[str, str], pairs: Sequence[TrainPair]) -> list[str]:
    """The oracle rationale of every pair; raises naming the keys that have none."""
    missing = [p.key for p in pairs if p.key not in rationales]
    if missing:
        raise KeyError(
            f"no oracle rationale for key(s) {missing[:5]}"
            f"{f' and {len(missing) - 5} more' if len(missing) > 5 else ''}; the rationale files "
            "must cover every training row this objective sees"
        )
    return [rationales[p.key] for p in pairs]


def _supervised_tokens(processor: ProcessorMixin, oracle: list[str]) -> int:
    """Supervised LM tokens of a batch: oracle rationale + ``<emb>`` per query, ``<emb>`` per
    target (as ``build_batch`` labels them: the response is tokenized on its own)."""
    ids = processor.tokenizer(list(oracle), add_special_tokens=False)["input_ids"]
    return sum(len(x) + 1 for x in ids) + len(oracle)


def derangement(labels: Sequence[Hashable], rng: random.Random) -> list[int]:
    """A seeded permutation ``sigma`` of the positions with no fixed point.

    When possible it also never maps a position to one with an equal label (two rows with the
    same target text, say), so that no row keeps its own item even by content; that is possible
    exactly when no label holds more than half of the positions. Otherwise the labels are
    ignored (the caller can count the rows that kept an equal item).

    Args:
        labels: one hashable per position.
        rng: the only source of randomness (same state, same permutation).

    Raises:
        ValueError: fewer than 2 positions.
    """
    n = len(labels)
    if n < 2:
        raise ValueError(f"derangement needs at least 2 rows, got {n}")
    top = Counter(labels).most_common(1)[0][1]
    if 2 * top > n:
        labels, top = list(range(n)), 1  # no label-respecting permutation exists
    for _ in range(100):  # a uniform draw among the valid permutations, almost always
        sigma = list(range(n))
        rng.shuffle(sigma)
        if all(labels[j] != labels[i] for i, j in enumerate(sigma)):
            return sigma
    # Constructive fallback for crowded batches: equal labels contiguous (shuffled within), then
    # shift by the largest group's size, which never lands inside the same group.
    groups: dict[Hashable, list[int]] = {}
    for i, lab in enumerate(labels):
        groups.setdefault(lab, []).append(i)
    order = []
    for members in sorted(groups.values(), key=len, reverse=True):
        rng.shuffle(members)
        order += members
    sigma = [0] * n
    for k, i in enumerate(order):
        sigma[i] = order[(k + top) % n]
    return sigma


def perturb_pairs(pairs: Sequence[TrainPair], kind: str, seed: int) -> list[TrainPair]:
    """The batch with each row's target or query replaced by another row's (paper Fig. 4).

    Args:
        pairs: one batch (the loop's batches are drawn from one subset, so replacements come
            from the same subset).
        kind: ``none`` (unchanged) | ``wrong_target`` ((q, r_o, t_w)) | ``wrong_query``
            ((q_w, r_o, t)).
        seed: with the batch's keys, seeds the derangement (no global RNG is touched, so a
            resumed run perturbs exactly as an uninterrupted one).

    Returns:
        New pairs with the same keys (hence the same oracle rationales) and hard negatives;
        no row keeps its own item, nor an equal one unless one item fills over half the batch.
    """
    if kind not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {kind!r}; use one of {PERTURBATIONS}")
    if kind == "none":
        return list(pairs)
    rng = random.Random(f"{seed}|" + "|".join(p.key for p in pairs))
    side = "pos" if kind == "wrong_target" else "query"
    sigma = derangement([getattr(p, side) for p in pairs], rng)
    swapped = [getattr(pairs[j], side) for j in sigma]
    return [dataclasses.replace(p, **{side: item}) for p, item in zip(pairs, swapped, strict=True)]


@dataclass
class BaselineObjective(_Core):
    """InfoNCE (paper eq. 2) between direct-mode query and target embeddings.

    Both sides are formatted as input + assistant header + ``<emb>`` (no rationale) and embedded
    with one forward each, without the LM head's loss. Hard negatives, when enabled and present,
    are embedded in the same forward as the positives and join the candidate pool.

    Args:
        temperature: InfoNCE temperature (paper: 0.03).
        use_negatives: add the data's hard negatives as extra candidates.
        negatives_per_pair: at most this many hard negatives per pair.
        chunk_size: > 0: gradient cache with chunks of this many pairs; 0: one forward.
        gather_fn: cross-device gather for negatives (identity on one process); with several
            processes every rank must bring the same number of hard negatives.
    """

    temperature: float = 0.03
    use_negatives: bool = False
    negatives_per_pair: int = 1
    chunk_size: int = 0
    gather_fn: GatherFn = local_gather

    def _plan(self) -> _Plan:
        per_pair = self.negatives_per_pair if self.use_negatives else 0
        return _Plan(query="direct", contrastive=True, lm=False, negatives_per_pair=per_pair)

    def _weights(self) -> tuple[float, float]:
        return 0.0, 1.0


@dataclass
class RgeObjective(_Core):
    """The RGE objective (paper eq. 10): a_lm * L_LM-bar + a_con * InfoNCE; see the module doc.

    Args:
        pair: ``q`` | ``q_oracle`` | ``q_self``: the query embedding of the contrastive pair.
        alpha_lm, alpha_con: loss weights, normalised to sum to 1 (paper 1:10). ``alpha_lm`` 0
            skips every LM-only forward; ``alpha_con`` 0 skips the embedding forwards.
        temperature: InfoNCE temperature (paper 0.03).
        max_new_tokens: generation cap of the self rationale (``q_self``; paper 128).
        use_negatives, negatives_per_pair: hard negatives as extra candidates.
        chunk_size: > 0: gradient cache with chunks of this many pairs (also the generation
            batch); 0: one forward per side.
        rationales: oracle rationale by pair key (needed when alpha_lm > 0 or pair is q_oracle).
        gather_fn: cross-device gather of candidates. With several processes the LM mean is
            each rank's own token-weighted mean (ranks average their gradients).
        generate_fn: ``generate_rationales``-compatible generator (default: the greedy one).
        generation: how the self rationale is generated (the ``generation:`` block: engine,
            decoding, cap; a mapping is read with ``GenerationSettings.from_dict``); None =
            the defaults, and ``generate_fn`` is then called without ``generation``/``seed``.
        seed: seeds sampling, when ``generation`` allows it (every batch draws from this seed).
        perturb: ``none`` | ``wrong_target`` | ``wrong_query``: diagnostic perturbation of every
            batch (``perturb_pairs``), for the paper's Fig. 4; ``none`` trains normally.
        perturb_seed: seed of the perturbation's derangements.
    """

    pair: str = "q_self"
    alpha_lm: float = 1.0
    alpha_con: float = 10.0
    temperature: float = 0.03
    max_new_tokens: int = 128
    use_negatives: bool = False
    negatives_per_pair: int = 1
    chunk_size: int = 0
    rationales: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    gather_fn: GatherFn = local_gather
    generate_fn: Callable[..., list] | None = field(default=None, repr=False, compare=False)
    perturb: str = "none"
    perturb_seed: int = 0
    generation: GenerationSettings | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.generation is not None and not isinstance(self.generation, GenerationSettings):
            self.generation = GenerationSettings.from_dict(self.generation)
        if self.pair not in PAIRS:
            raise ValueError(f"rge objective: unknown pair {self.pair!r}; use one of {PAIRS}")
        if self.perturb not in PERTURBATIONS:
            raise ValueError(
                f"rge objective: unknown perturb {self.perturb!r}; use one of {PERTURBATIONS}"
            )
        if self.alpha_lm < 0 or self.alpha_con < 0 or self.alpha_lm + self.alpha_con <= 0:
            raise ValueError(
                f"rge objective: alpha_lm ({self.alpha_lm}) and alpha_con ({self.alpha_con}) "
                "must be >= 0 with a positive sum"
            )

    def _weights(self) -> tuple[float, float]:
        total = self.alpha_lm + self.alpha_con
        return self.alpha_lm / total, self.alpha_con / total

    def _plan(self) -> _Plan:
        con = self.alpha_con > 0
        query = {"q": "direct", "q_oracle": "oracle", "q_self": "self"}[self.pair] if con else None
        per_pair = self.negatives_per_pair if self.use_negatives and con else 0
        return _Plan(
            query=query, contrastive=con, lm=self.alpha_lm > 0, negatives_per_pair=per_pair
        )

    def needs_rationales(self) -> bool:
        """Whether every pair must have an oracle rationale."""
        plan = self._plan()
        return plan.lm or plan.query == "oracle"

    def check_rationales(self, pairs: Sequence[TrainPair]) -> None:
        """Raise (naming keys) unless every pair has an oracle rationale, when one is needed."""
        if self.needs_rationales():
            _oracle(self.rationales, pairs)

    def _prepare(
        self, model: PreTrainedModel, processor: ProcessorMixin, pairs: Sequence[TrainPair]
    ) -> tuple:
        plan = self._plan()
        given = pairs
        pairs = perturb_pairs(pairs, self.perturb, self.perturb_seed)  # keys (r_o) unchanged
        oracle = _oracle(self.rationales, pairs) if self.needs_rationales() else None
        n_tokens = _supervised_tokens(processor, oracle) if plan.lm else 0
        self_ids, stats = None, {}
        if self.perturb != "none":  # rows left with an item equal to their own (crowded batch)
            same = sum(a == b for a, b in zip(given, pairs, strict=True))
            stats["perturb_same"] = same / len(pairs)
        if plan.query == "self":
            rats = self._generate(model, processor, pairs)
            self_ids = [r.token_ids for r in rats]
            stats |= {
                "self_tokens": sum(r.n_tokens for r in rats) / len(rats),
                "forced_emb": sum(bool(r.forced) for r in rats) / len(rats),
            }
        texts = None if self_ids is None else [r.text for r in rats]
        return _Chunk(pairs, oracle, self_ids, texts), n_tokens, stats

    def _generate(
        self, model: PreTrainedModel, processor: ProcessorMixin, pairs: Sequence[TrainPair]
    ) -> list:
        """Self rationales without grad, in generation batches of ``chunk_size``, as
        ``generation`` says (default: the dynamic engine, greedy)."""
        gen = self.generate_fn
        if gen is None:
            from rge.model.reasoning import generate_rationales as gen
        # only a configured objective passes the settings: generate_fn stand-ins need not know them
        how = {} if self.generation is None else {"generation": self.generation, "seed": self.seed}
        was_training = model.training
        try:
            with torch.no_grad():
                return gen(
                    model, processor, [p.query for p in pairs],
                    max_new_tokens=self.max_new_tokens, batch_size=self.chunk_size or None, **how,
                )  # fmt: skip
        finally:
            model.train(was_training)


@dataclass
class LmObjective(_Core):
    """LM-only cold start: L_LM-bar over query oracle rationale + ``<emb>`` and target ``<emb>``.

    Teaches the output format (paper §4.1): queries answer "rationale ... ``<emb>``", targets
    ``<emb>`` right away. No embedding is used.

    Args:
        chunk_size: > 0: accumulate gradients over chunks of this many pairs.
        rationales: oracle rationale by pair key (every pair must have one).
    """

    chunk_size: int = 0
    rationales: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def _plan(self) -> _Plan:
        return _Plan(query=None, contrastive=False, lm=True, negatives_per_pair=0)

    def _weights(self) -> tuple[float, float]:
        return 1.0, 0.0

    def check_rationales(self, pairs: Sequence[TrainPair]) -> None:
        """Raise (naming keys) unless every pair has an oracle rationale."""
        _oracle(self.rationales, pairs)

    def _prepare(
        self, model: PreTrainedModel, processor: ProcessorMixin, pairs: Sequence[TrainPair]
    ) -> tuple:
        oracle = _oracle(self.rationales, pairs)
        return _Chunk(pairs, oracle), _supervised_tokens(processor, oracle), {}


# name -> objective class; the run config's ``objective`` key picks one.
OBJECTIVES: dict[str, type] = {
    "baseline": BaselineObjective,
    "rge": RgeObjective,
    "lm": LmObjective,
}


def make_objective(name: str, params: dict[str, Any], **runtime: Any) -> Objective:
    """Build objective ``name`` from the config keys it declares as fields.

    Args:
        name: a key of ``OBJECTIVES``.
        params: a flat config mapping; keys the objective does not declare are ignored (a run's
            registry entry also carries keys for other stages).
        runtime: non-config collaborators such as ``gather_fn`` or ``rationales``, passed
            through as given when the objective declares them.

    Returns:
        The objective instance.

    Raises:
        ValueError: an unknown name, or a field value the objective refuses (e.g. an unknown
            ``pair``, negative alphas).
    """
    if name not in OBJECTIVES:
        raise ValueError(f"unknown objective {name!r}; known: {sorted(OBJECTIVES)}")
    cls = OBJECTIVES[name]
    fields = {f.name for f in dataclasses.fields(cls)}
    own = {k: v for k, v in params.items() if k in fields and k not in runtime}
    return cls(**own, **{k: v for k, v in runtime.items() if k in fields})
