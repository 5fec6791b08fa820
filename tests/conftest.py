"""Test-wide settings: offline, CPU only, deterministic threads."""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["CUDA_VISIBLE_DEVICES"] = ""


@pytest.fixture
def restore_threads():
    """Give torch's global thread count back after the test (stages set it from cfg ``threads``)."""
    import torch

    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture
def one_thread(restore_threads):
    """One torch thread for the test: fast on a shared 2-core box (two spinning OpenMP threads
    stall when another process holds a core); the previous count is restored afterwards."""
    import torch

    torch.set_num_threads(1)
