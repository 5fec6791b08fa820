"""Count the aten ops and host synchronisations a piece of code issues (tests and benchmarks).

A host synchronisation is any point where the host waits for a device value: the aten ops
``_local_scalar_dense`` (``.item()``, ``bool(t)``), ``nonzero`` and ``masked_select`` (their
output size depends on the data), and ``Tensor.tolist`` / ``.item`` / ``.numpy``, which read
memory without issuing an op of their own (so they are patched for the count). Kernel ops are
the aten ops that are not views (a view only changes metadata and launches nothing). The same
code counts the same on the CPU and on CUDA, so the CPU measures what a GPU step would launch.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

_SYNC_OPS = ("_local_scalar_dense", "nonzero", "masked_select")
_READS = ("tolist", "item", "numpy")


def _op_name(func: Any) -> str:
    return func._schema.name.split("::")[-1]


class OpCounter(TorchDispatchMode):
    """Context manager: ``ops`` (all aten ops), ``kernel_ops`` (non-view), ``syncs`` (host
    synchronisations) and ``by_name`` (a Counter of kernel op names) for the code inside."""

    def __init__(self) -> None:
        super().__init__()
        self.ops = 0
        self.kernel_ops = 0
        self.syncs = 0
        self.by_name: Counter[str] = Counter()
        self._saved: dict[str, Any] = {}
        self._reading = 0  # inside a patched read: its own aten op is already counted

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        name = _op_name(func)
        self.ops += 1
        if name in _SYNC_OPS and not self._reading:
            self.syncs += 1
        if not func.is_view:
            self.kernel_ops += 1
            self.by_name[name] += 1
        return func(*args, **(kwargs or {}))

    def __enter__(self) -> OpCounter:
        for name in _READS:
            self._saved[name] = original = getattr(torch.Tensor, name)
            setattr(torch.Tensor, name, self._counted(original))
        return super().__enter__()

    def __exit__(self, *exc: Any) -> None:
        super().__exit__(*exc)
        for name, original in self._saved.items():
            setattr(torch.Tensor, name, original)
        self._saved.clear()

    def _counted(self, original: Any) -> Any:
        def read(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            self.syncs += 1
            self._reading += 1
            try:
                return original(tensor, *args, **kwargs)
            finally:
                self._reading -= 1

        return read
