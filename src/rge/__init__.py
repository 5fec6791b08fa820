"""rge: Reasoning Guided Embeddings as a reproducible study.

Importing the package does no I/O and imports no heavy optional dependency
(torch, transformers, vllm, deepspeed are imported by the modules that need them).
"""

__version__ = "0.1.0"
