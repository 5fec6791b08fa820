"""`dvc exp run ARGS...` that gives the config files back when the experiment does not finish.

Usage (README "Versioning the study with DVC"), from the repository root:

    python workflow/exp.py -S 'config/config.yaml:+runs.rge.alpha_con=5'

`dvc exp run -S` rewrites the config file before it runs the stages; interrupted (Ctrl-C,
SIGTERM) or failed, it leaves the file rewritten, and the next `dvc repro` would quietly run the
half-done experiment. This wrapper keeps the bytes of every file under `config/`, runs
`dvc exp run` with its arguments in its own process group, passes SIGINT/SIGTERM on to that
group (as a terminal's Ctrl-C would), and when DVC exits non-zero or was signalled, writes back
every config file that changed. A finished experiment is left as DVC leaves it. Exit status: DVC's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"


def snapshot(folder: Path) -> dict[Path, bytes]:
    """The bytes of every file under ``folder``."""
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def restore(saved: dict[Path, bytes]) -> list[Path]:
    """Write back every file of ``saved`` whose bytes changed (or that is gone); the paths."""
    changed = [p for p, data in saved.items() if not p.is_file() or p.read_bytes() != data]
    for path in changed:
        path.write_bytes(saved[path])
    return changed


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    saved = snapshot(CONFIG_DIR)
    child = subprocess.Popen(["dvc", "exp", "run", *args], start_new_session=True)
    signalled: list[int] = []

    def forward(signum: int, _frame) -> None:
        signalled.append(signum)
        try:
            os.killpg(child.pid, signum)  # dvc and the snakemake it runs, like a terminal's Ctrl-C
        except ProcessLookupError:
            pass

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, forward)
    returncode = child.wait()
    if returncode != 0 or signalled:
        changed = restore(saved)
        names = ", ".join(str(p.relative_to(CONFIG_DIR.parent)) for p in changed) or "none"
        print(f"exp.py: experiment not finished; config restored ({names})", file=sys.stderr)
        return returncode or 128 + signalled[0]
    return 0


if __name__ == "__main__":
    sys.exit(main())
