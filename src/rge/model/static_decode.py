"""The fixed-shape, sync-free decode step (``generation.engine: static``).

The same greedy rationale loop as ``rge.model.reasoning``'s dynamic engine, rebuilt so that one
decode step has fixed input shapes, keeps every tensor at the same address and never reads a
value back to the host; on CUDA the step is then captured once as a ``torch.cuda.CUDAGraph`` and
replayed (gpu-generation-facts §c.2: today's step is ~1,450 kernel launches plus 5 host
round-trips, 60x above the H200's bandwidth floor).

Per batch of B left-padded prompts of width L0 (a length bucket) and a cap C:

- a ``transformers.StaticCache`` of ``L0 + C + 1`` positions (the prompt, C generated tokens and
  one forced ``<emb>``), written in place at a device-side position;
- the attention mask ready for the layers: key j is visible to step t when it is a real prompt
  token or a generated column ``j <= L0 + t`` (transformers' mask builder, with its host checks,
  is skipped because the mask is passed as ``{"full_attention": mask}``);
- M-RoPE positions by today's rule: ``base + t`` with ``base = n_real + rope_delta`` per row and
  ``t`` a 0-d device tensor;
- the token choice (suppressed ids, the checkpoint's logits processors) on the device;
- rows that chose ``<emb>`` stay in the batch, masked: their ``<emb>``-step hidden state is
  written to a device buffer and nothing they do afterwards is recorded;
- ``done.all()`` is read every ``sync_every`` steps; at the cap the still-writing rows get the
  ``<emb>`` step (``force_emb``) or keep the state of their last token (``last_token``).

The cached K/V of a masked column is never read, so each row's tokens and embedding equal the
dynamic engine's (tests/unit/test_static_decode.py, fp32: identical tokens, |dh| ~1e-6).

CUDA graphs: captured per workspace (batch size, prompt width, cap) after two eager warm-up
steps, replayed afterwards; the parameters' ``data_ptr()`` are compared before each batch and the
step is recaptured if any moved (ZeRO-2 updates weights in place, so its graphs stay valid;
ZeRO-3 gathers parameters into temporary buffers on every forward, which a graph cannot follow:
with ZeRO-3 parameters (``ds_id``) the step runs eagerly). Sampling (a seeded generator) also runs
eagerly. ``torch.compile`` of the step is behind ``GenerationSettings.compile``.
"""

from __future__ import annotations

import functools
import logging
import weakref
from collections import OrderedDict
from typing import Any

import torch

from rge.model.generation import Decoding, choose_tokens

log = logging.getLogger(__name__)

SUPPORTED_TEXT_ATTENTION = ("sdpa", "eager")
# False runs the static step eagerly on CUDA too (benchmarks compare eager vs captured)
CUDA_GRAPHS = True
_WARMUP_STEPS = 2


@functools.cache
def _step_layer_class() -> type:
    from transformers.cache_utils import StaticLayer

    class StepLayer(StaticLayer):
        """A ``StaticLayer`` whose one-token updates write at ``position``, a (1,) device tensor
        shared by every layer (set once per step: saves StaticLayer's per-layer arange + add +
        counter update); the prefill goes through ``StaticLayer.update`` unchanged."""

        def __init__(self, max_cache_len: int, position: torch.Tensor) -> None:
            super().__init__(max_cache_len=max_cache_len)
            self.position = position

        def update(self, key_states, value_states, *args, **kwargs):  # noqa: ANN001
            if key_states.shape[-2] != 1 or not self.is_initialized:
                return super().update(key_states, value_states, *args, **kwargs)
            self.keys.index_copy_(2, self.position, key_states)
            self.values.index_copy_(2, self.position, value_states)
            return self.keys, self.values

    return StepLayer


class Workspace:
    """Every tensor one batch shape (B, L0, cap) decodes with; allocated once, reused in place."""

    def __init__(self, model: Any, shape: tuple[int, int, int], decoding: Decoding) -> None:
        from transformers import StaticCache

        b, l0, cap = shape
        self.shape = shape
        param = next(model.parameters())
        dev, dtype = param.device, param.dtype
        length = l0 + cap + 1
        self.cache = StaticCache(config=model.config, max_cache_len=length)
        self.position = torch.zeros(1, dtype=torch.long, device=dev)  # cache column of the step
        step_layer = _step_layer_class()
        self.cache.layers = [step_layer(length, self.position) for _ in self.cache.layers]
        hidden = model.config.text_config.hidden_size
        self.key_ok = torch.zeros((b, length), dtype=torch.bool, device=dev)
        self.columns = torch.arange(length, device=dev)
        self.base = torch.zeros(b, dtype=torch.long, device=dev)
        self.last = torch.zeros((b, hidden), dtype=dtype, device=dev)
        self.emb = torch.zeros((b, hidden), dtype=dtype, device=dev)
        self.tokens = torch.zeros((b, cap + 1), dtype=torch.long, device=dev)
        self.context = (
            torch.zeros((b, length), dtype=torch.long, device=dev)
            if decoding.needs_context
            else None
        )
        self.done = torch.zeros(b, dtype=torch.bool, device=dev)
        self.t = torch.zeros((), dtype=torch.long, device=dev)
        self.force = torch.zeros((), dtype=torch.bool, device=dev)
        self.mask_zero = torch.zeros((), dtype=dtype, device=dev)
        self.eager_steps = 0  # steps run since the workspace was made (warm-up before capture)
        self.graph: Any = None
        self.graph_ptrs: list[int] = []


class StaticDecoder:
    """Decode one batch with a fixed-shape step in a ``Workspace`` (prefill in ``load``)."""

    def __init__(
        self,
        model: Any,
        ws: Workspace,
        *,
        decoding: Decoding,
        suppress: torch.Tensor,
        emb_id: int,
        fill_id: int,
        use_graph: bool,
        compiled: bool,
        generator: torch.Generator | None = None,
    ) -> None:
        attn = model.config.text_config._attn_implementation
        if attn not in SUPPORTED_TEXT_ATTENTION:
            raise ValueError(
                f"generation.engine static: text attention {attn!r} is not supported (use one of "
                f"{list(SUPPORTED_TEXT_ATTENTION)} for the text model, or engine: dynamic)"
            )
        self.model, self.ws, self.decoding = model, ws, decoding
        self.suppress, self.emb_id, self.fill_id = suppress, emb_id, fill_id
        self.use_graph, self.generator = use_graph, generator
        self.step_fn = torch.compile(self._step, dynamic=False) if compiled else self._step

    def load(self, batch: dict[str, torch.Tensor]) -> None:
        """Prefill ``batch`` (left-padded to the workspace's width) into the workspace, in place."""
        ws, (b, l0, _) = self.ws, self.ws.shape
        ids, mask = batch["input_ids"], batch["attention_mask"]
        if tuple(ids.shape) != (b, l0):
            raise ValueError(f"batch of shape {tuple(ids.shape)} in a workspace for {(b, l0)}")
        model = self.model
        pos, deltas = model.model.get_rope_index(
            ids,
            mm_token_type_ids=batch["mm_token_type_ids"],
            image_grid_thw=batch.get("image_grid_thw"),
            attention_mask=mask,
        )
        if ws.graph is not None and ws.graph_ptrs != _param_ptrs(model):
            # weights cannot move during one batch's decode: checking once per batch suffices
            log.warning("static decode: parameters moved since the graph was captured; recapturing")
            ws.graph = None
        ws.cache.reset()
        keys = ("input_ids", "attention_mask", "pixel_values", "image_grid_thw")
        out = model.model(
            **{k: batch[k] for k in keys if k in batch},
            position_ids=pos,
            cache=ws.cache,
            use_cache=True,
        )
        ws.last.copy_(out.last_hidden_state[:, -1])
        ws.key_ok.fill_(True)
        ws.key_ok[:, :l0].copy_(mask.bool())
        # the next token's position continues each row's text positions (the dynamic rule)
        ws.base.copy_(mask.sum(dim=1) + deltas.to(mask.device).view(-1))
        ws.emb.zero_()
        ws.tokens.fill_(self.fill_id)
        ws.done.zero_()
        ws.t.zero_()
        ws.force.zero_()
        if ws.context is not None:
            ws.context.fill_(self.fill_id)
            ws.context[:, :l0].copy_(ids)

    def _mask(self, column: torch.Tensor) -> torch.Tensor:
        """(B, 1, 1, L) additive mask: 0 where key j is visible (a real prompt token or a
        generated column <= ``column``), the dtype's minimum elsewhere. Additive for both
        implementations: sdpa would convert a boolean mask to this once per layer."""
        ws = self.ws
        hidden = (~ws.key_ok) | (ws.columns > column)
        return ws.mask_zero.masked_fill(hidden[:, None, None, :], torch.finfo(ws.last.dtype).min)

    def _choose(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Choose and record every row's next token; return (tokens (B,), newly stopped (B,))."""
        ws, l0 = self.ws, self.ws.shape[1]
        scores = self.model.lm_head(ws.last).float()
        tok = choose_tokens(
            scores, self.decoding, self.suppress, context=ws.context, generator=self.generator
        )
        tok = torch.where(ws.force, self.emb_id, tok)
        newly = (tok == self.emb_id) & ~ws.done
        record = torch.where(ws.done | newly, self.fill_id, tok)[:, None]
        ws.tokens.index_copy_(1, ws.t.view(1), record)
        ws.position.copy_(ws.t + l0)  # the cache column this step writes
        if ws.context is not None:
            ws.context.index_copy_(1, ws.position, record)
        return tok, newly

    def _step(self) -> None:
        """One decode step: choose, record, feed. Fixed shapes, in place, no host read."""
        ws, b = self.ws, self.ws.shape[0]
        tok, newly = self._choose()
        feed = torch.where(ws.done, self.emb_id, tok)[:, None]
        pos = (ws.base + ws.t).view(1, b, 1).expand(3, b, 1)
        out = self.model.model.language_model(
            input_ids=feed,
            attention_mask={"full_attention": self._mask(ws.position)},
            position_ids=pos,
            cache=ws.cache,
            use_cache=True,
        )
        h = out.last_hidden_state[:, -1]
        ws.emb.copy_(torch.where(newly[:, None], h, ws.emb))
        ws.done.logical_or_(newly)
        ws.last.copy_(h)
        ws.t.add_(1)

    def step(self) -> None:
        """Run one step: eagerly during warm-up, then as a captured CUDA graph when enabled."""
        ws = self.ws
        if not self.use_graph:
            self.step_fn()
            return
        if ws.graph is None and ws.eager_steps >= _WARMUP_STEPS:
            ws.graph, ws.graph_ptrs = _capture(self.step_fn), _param_ptrs(self.model)
        if ws.graph is not None:
            ws.graph.replay()
            return
        _warm_up(self.step_fn)
        ws.eager_steps += 1

    def run(self, cap: int, *, embed: bool, cap_mode: str, sync_every: int) -> None:
        """Decode up to ``cap`` tokens, reading ``done.all()`` every ``sync_every`` steps."""
        ws = self.ws
        for i in range(cap):
            if not embed and i == cap - 1:
                self._choose()  # the last token is only recorded: nothing reads its state
                return
            self.step()
            if (i + 1) % sync_every == 0 and i + 1 < cap and bool(ws.done.all()):
                return
        if not embed:
            return
        if cap_mode == "last_token":
            ws.emb.copy_(torch.where(ws.done[:, None], ws.emb, ws.last))
        else:  # force_emb: the rows still writing are fed <emb> in one more step
            ws.force.fill_(True)
            self.step()
            ws.force.fill_(False)

    def results(self, cap: int) -> tuple[list[list[int]], torch.Tensor]:
        """(generated ids per row, before ``<emb>``; embeddings (B, D) in the model's dtype)."""
        rows = []
        for row in self.ws.tokens[:, :cap].tolist():
            n = row.index(self.fill_id) if self.fill_id in row else cap
            rows.append(row[:n])
        return rows, self.ws.emb


def _param_ptrs(model: Any) -> list[int]:
    return [p.data_ptr() for p in model.parameters()]


def _warm_up(fn: Any) -> None:
    """Run ``fn`` once on a CUDA side stream (graph capture wants its warm-ups there)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        fn()
    torch.cuda.current_stream().wait_stream(side)


def _capture(fn: Any) -> Any:
    """Capture one call of ``fn`` as a CUDA graph (recording only: replay it to run it)."""
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph


def zero3_params(model: Any) -> bool:
    """Whether DeepSpeed ZeRO-3 partitions ``model``'s parameters (their storage moves)."""
    return any(hasattr(p, "ds_id") for p in model.parameters())


def _decoding_key(decoding: Decoding) -> tuple:
    """What of ``decoding`` a captured step bakes in (processor types and their settings)."""
    procs = tuple((type(p).__name__, tuple(sorted(vars(p).items()))) for p in decoding.processors)
    return procs, decoding.temperature, decoding.top_k, decoding.top_p


class StaticEngine:
    """The static decoders (workspace + step) of one model, by shape and decoding rule.

    On CUDA with graphs, and with ``compile``, decoders (KV cache, graph or compiled step) are
    kept across calls, at most ``keep`` of them (least recently used dropped), so a training run
    captures or compiles once per shape; otherwise each batch gets a fresh one.
    """

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.decoders: OrderedDict[tuple, StaticDecoder] = OrderedDict()

    def decoder(
        self,
        model: Any,
        shape: tuple[int, int, int],
        *,
        decoding: Decoding,
        suppress: torch.Tensor,
        emb_id: int,
        use_graph: bool,
        compiled: bool,
        generator: torch.Generator | None = None,
    ) -> StaticDecoder:
        """A decoder for batches of ``shape`` = (B, L0, cap), retained when graphs or compile
        are on (what they capture, suppressed ids included, then lives as long as they do)."""
        ids = tuple(int(i) for i in suppress.tolist())

        def make() -> StaticDecoder:
            ws = Workspace(model, shape, decoding)
            return StaticDecoder(
                model, ws, decoding=decoding, suppress=suppress.clone(), emb_id=emb_id,
                fill_id=ids[0], use_graph=use_graph, compiled=compiled, generator=generator,
            )  # fmt: skip

        if not (use_graph or compiled):
            return make()
        key = (shape, _decoding_key(decoding), ids, emb_id, use_graph, compiled)
        if key in self.decoders:
            self.decoders.move_to_end(key)
            self.decoders[key].generator = generator  # this call's seed (sampling, eager only)
        else:
            self.decoders[key] = make()
            while len(self.decoders) > self.keep:
                self.decoders.popitem(last=False)
        return self.decoders[key]


_ENGINES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def engine_for(model: Any, keep: int) -> StaticEngine:
    """The ``StaticEngine`` bound to ``model`` (created on first use, dropped with the model)."""
    engine = _ENGINES.get(model)
    if engine is None or engine.keep != keep:
        engine = _ENGINES[model] = StaticEngine(keep)
    return engine
