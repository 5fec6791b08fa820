"""Where the read-only test data from outside the project lives: ``<repo>/../shared/fixtures``.

CI clones the repository with ``shared/`` beside it. ``RGE_SHARED`` overrides the ``shared``
folder (e.g. a git worktree whose parent has none). A missing folder fails the tests that need
it rather than skipping them: these are the project's only checks against the real vocabulary
and the release's tables.
"""

from __future__ import annotations

import os
from pathlib import Path

SHARED = Path(os.environ.get("RGE_SHARED") or Path(__file__).resolve().parents[2] / ".." / "shared")
FIXTURES = SHARED / "fixtures"
QWEN_PROCESSOR = FIXTURES / "qwen2_5_vl_processor"
RELEASE_PROMPTS = FIXTURES / "rge_release_prompts"


def need(path: Path) -> Path:
    """``path``, or an error that says where the shared fixtures were looked for."""
    if not path.is_dir():
        raise FileNotFoundError(f"{path} missing: put shared/ beside the repo or set RGE_SHARED")
    return path
