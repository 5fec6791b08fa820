"""Checkpoints evaluated without training (issue 11: eval-only runs).

An eval-only run names a checkpoint: a hub model id with a revision (e.g. the released
``MCG-NJU/RGE``, paper Table 2), or a local directory (a model trained elsewhere, a VLM2Vec-style
baseline, our pretrained tiny backbone before training). :func:`prepare_checkpoint` pins it and
checks it can be evaluated, before any model is loaded:

* a hub id is downloaded at the requested revision and the commit it resolved to is recorded
  (``revision: main`` today and next month may be different weights);
* its tokenizer must already know ``<emb>``: RGE embeds the hidden state at ``<emb>``, and a
  checkpoint without it was not trained to put anything there. Adding the token gives it a
  fresh embedding row, so that happens only when the entry asks for it (``add_emb: true``,
  e.g. an untrained backbone); otherwise the checkpoint is refused with a clear error.

``rge.model.factory.load_pretrained`` then loads the pinned local directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

EMB_TOKEN = "<emb>"  # the same string as rge.model.factory.EMB_TOKEN (no torch import here)


class CheckpointError(ValueError):
    """A checkpoint that cannot be evaluated as asked; the message names it and the fix."""


def resolve_checkpoint(
    name_or_path: str,
    revision: str | None = None,
    *,
    download: Callable[..., str] | None = None,
) -> dict[str, Any]:
    """A local directory holding the checkpoint, and where it came from.

    Args:
        name_or_path: a local directory, or a hub model id (``owner/name``).
        revision: hub branch, tag or commit (ignored for a local directory, which is taken as
            it is).
        download: ``huggingface_hub.snapshot_download`` (default) or a replacement with the
            same signature.

    Returns:
        {"name", "revision_requested", "resolved_commit" (the hub snapshot's 40-hex commit;
        None for a local directory), "local_path" (absolute)}.

    Raises:
        CheckpointError: not a local directory and the hub is disabled (``HF_HUB_OFFLINE=1``),
            or a download whose folder does not end in a commit hash.
    """
    path = Path(name_or_path)
    if path.is_dir():
        return {
            "name": name_or_path,
            "revision_requested": None,
            "resolved_commit": None,
            "local_path": str(path.resolve()),
        }
    if download is None:
        if os.environ.get("HF_HUB_OFFLINE") == "1":
            raise CheckpointError(
                f"{name_or_path!r} is not a local directory and HF_HUB_OFFLINE=1 forbids the hub"
            )
        from huggingface_hub import snapshot_download as download
    local = Path(download(name_or_path, revision=revision))
    if not re.fullmatch(r"[0-9a-f]{40}", local.name):
        raise CheckpointError(f"{name_or_path}@{revision}: download folder {local} names no commit")
    return {
        "name": name_or_path,
        "revision_requested": revision,
        "resolved_commit": local.name,
        "local_path": str(local),
    }


def check_emb_token(tokenizer: Any, *, add_missing: bool = False, where: str = "") -> dict:
    """Whether ``tokenizer`` knows ``<emb>``; add it only when asked.

    Args:
        tokenizer: a transformers tokenizer (modified in place when the token is added).
        add_missing: add ``<emb>`` as a special token if absent (the model's embeddings must
            then be resized: ``rge.model.factory.add_emb_token`` does both).
        where: the checkpoint's name, for the error message.

    Returns:
        {"emb_token_id": int, "emb_added": bool}.

    Raises:
        CheckpointError: ``<emb>`` is missing and ``add_missing`` is false.
    """
    if EMB_TOKEN in tokenizer.get_vocab():
        return {"emb_token_id": tokenizer.convert_tokens_to_ids(EMB_TOKEN), "emb_added": False}
    if not add_missing:
        raise CheckpointError(
            f"{where or 'checkpoint'}: its tokenizer has no {EMB_TOKEN!r} token, so it was not "
            f"trained as an RGE embedder; set add_emb: true on the entry to add a fresh, "
            "untrained <emb> (e.g. for a before-training baseline)"
        )
    tokenizer.add_tokens([EMB_TOKEN], special_tokens=True)
    return {"emb_token_id": tokenizer.convert_tokens_to_ids(EMB_TOKEN), "emb_added": True}


def prepare_checkpoint(
    name_or_path: str,
    revision: str | None = None,
    *,
    add_emb: bool = False,
    download: Callable[..., str] | None = None,
) -> dict[str, Any]:
    """Pin an eval-only checkpoint and check its tokenizer (see the module docstring).

    Returns:
        :func:`resolve_checkpoint`'s record plus ``emb_token_id``, ``emb_added`` and
        ``vocab_size`` (tokenizer length after any addition): write it beside the scores.

    Raises:
        CheckpointError: as :func:`resolve_checkpoint` and :func:`check_emb_token`.
    """
    from transformers import AutoTokenizer

    record = resolve_checkpoint(name_or_path, revision, download=download)
    tokenizer = AutoTokenizer.from_pretrained(record["local_path"])
    where = f"{name_or_path}@{record['resolved_commit'] or 'local'}"
    record.update(check_emb_token(tokenizer, add_missing=add_emb, where=where))
    record["vocab_size"] = len(tokenizer)
    return record
