"""The Qwen2.5-VL backbone with an ``<emb>`` token: factory (tiny build or pretrained checkpoint),
chat formatting of items into the RGE sequence, and the embedding forward pass.

Import from the submodules (``rge.model.factory``, ``rge.model.chat``, ``rge.model.embed``);
this package imports nothing heavy itself.
"""
