"""Training objectives: one small class per objective, picked by name from the run's config.

An objective turns a batch of ``TrainPair`` into a ``StepOutput`` whose ``loss`` carries the
gradient; the loop only calls ``backward`` on it. A new objective (``rge``: self-generated
rationale + LM loss + InfoNCE) is a new class registered in ``OBJECTIVES``; the loop is unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from rge.data.records import Item, TrainPair
from rge.train.losses import GatherFn, info_nce, local_gather


@dataclass
class StepOutput:
    """What one objective step produced: the loss to back-propagate and numbers to log."""

    loss: torch.Tensor
    con: float | None = None  # contrastive (InfoNCE) part, if any
    lm: float | None = None  # token-weighted LM part, if any
    stats: dict[str, float] = field(default_factory=dict)  # extra per-step numbers for the log


class Objective(Protocol):
    """A training objective: ``objective(model, processor, pairs) -> StepOutput``."""

    def __call__(self, model: Any, processor: Any, pairs: Sequence[TrainPair]) -> StepOutput: ...


def _negatives(pairs: Sequence[TrainPair], per_pair: int) -> list[Item]:
    """Up to ``per_pair`` hard negatives of each pair, flattened in pair order."""
    return [n for p in pairs for n in p.negs[:per_pair]]


@dataclass
class BaselineObjective:
    """InfoNCE (paper eq. 2) between direct-mode query and target embeddings.

    Both sides are formatted as input + assistant header + ``<emb>`` (no rationale) and embedded
    with one forward each, without the LM head's loss. Hard negatives, when enabled and present,
    are embedded in the same forward as the positives and join the candidate pool.

    Args:
        temperature: InfoNCE temperature (paper: 0.03).
        use_negatives: add the data's hard negatives as extra candidates.
        negatives_per_pair: at most this many hard negatives per pair.
        gather_fn: cross-device gather for negatives (identity on one process); with several
            processes every rank must bring the same number of hard negatives.
    """

    temperature: float = 0.03
    use_negatives: bool = False
    negatives_per_pair: int = 1
    gather_fn: GatherFn = local_gather

    def __call__(self, model: Any, processor: Any, pairs: Sequence[TrainPair]) -> StepOutput:
        from rge.model.chat import build_batch
        from rge.model.embed import forward, move_batch

        device = next(model.parameters()).device
        negs = _negatives(pairs, self.negatives_per_pair) if self.use_negatives else []
        q_batch = move_batch(build_batch(processor, [p.query for p in pairs], emb=True), device)
        t_batch = build_batch(processor, [p.pos for p in pairs] + negs, emb=True)
        t_batch = move_batch(t_batch, device)
        q = forward(model, q_batch, lm=False)[0]
        t_all = forward(model, t_batch, lm=False)[0]
        t, n = t_all[: len(pairs)], t_all[len(pairs) :]
        loss = info_nce(
            q, t, temperature=self.temperature, negs=n if negs else None, gather_fn=self.gather_fn
        )
        return StepOutput(
            loss=loss, con=loss.item(), stats={"candidates": float(len(pairs) + len(negs))}
        )


# name -> objective class; the run config's ``objective`` key picks one.
OBJECTIVES: dict[str, type] = {"baseline": BaselineObjective}


def make_objective(name: str, params: dict[str, Any], **runtime: Any) -> Objective:
    """Build objective ``name`` from the config keys it declares as fields.

    Args:
        name: a key of ``OBJECTIVES``.
        params: a flat config mapping; keys the objective does not declare are ignored (a run's
            registry entry also carries keys for other stages).
        runtime: non-config collaborators such as ``gather_fn``, passed through as given.

    Returns:
        The objective instance.
    """
    if name not in OBJECTIVES:
        raise ValueError(f"unknown objective {name!r}; known: {sorted(OBJECTIVES)}")
    cls = OBJECTIVES[name]
    fields = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in params.items() if k in fields and k not in runtime}, **runtime)
