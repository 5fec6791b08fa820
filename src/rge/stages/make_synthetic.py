"""Write the synthetic benchmark (embedded study) in MMEB's and Flickr/COCO's on-disk layouts.

Config keys read (cfg slice, as ``rge.config.SyntheticView``; defaults in the schema):
    seed (int): every row, image and caption derives from it.
    train_rows (int): rows per MMEB-train subset (IND tasks).
    eval_rows (int): queries per MMEB-eval task (IND + OOD tasks).
    num_candidates (int): candidates per eval query (ground truth first; capped at a task's
        answer vocabulary: 8 colours, 4 shapes).
    retrieval_images (int): images per retrieval set (5 captions each, some 6-7 in SynCOCO).
    image_size (int): scene side in pixels.
    tasks (list[str], optional): synthetic task names to write (default: all of
        ``rge.data.synthetic.SYNTHETIC_TASKS``).

Inputs: none.
Outputs:
    out: directory with ``MMEB-train/`` and ``MMEB-eval/`` (mirrors of the hub repos),
        ``retrieval/SynFlickr/``, ``retrieval/SynCOCO/`` (mirrors of the royokong repos),
        ``scenes/{train,eval,retrieval}/<name>.jsonl`` (scene sidecar for the ``scene``
        rationale backend) and ``manifest.json``. Point the fetch stages' ``mirror`` at the
        first three.
"""

from __future__ import annotations

import logging

from rge.config import SyntheticView
from rge.data.synthetic import write_benchmark
from rge.io import atomic_dir
from rge.stages._cli import Paths, stage_main

log = logging.getLogger(__name__)


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Write the benchmark atomically into ``outputs.out``; return its manifest."""
    view = SyntheticView.from_slice(cfg)
    with atomic_dir(outputs.out) as tmp:
        manifest = write_benchmark(
            tmp,
            seed=view.seed,
            train_rows=view.train_rows,
            eval_rows=view.eval_rows,
            num_candidates=view.num_candidates,
            retrieval_images=view.retrieval_images,
            image_size=view.image_size,
            tasks=None if view.tasks is None else list(view.tasks),
        )
    log.info(
        "synthetic benchmark: %d train subsets, %d eval tasks -> %s",
        len(manifest["train"]),
        len(manifest["eval"]),
        outputs.out,
    )
    return manifest


def main(argv: list[str] | None = None) -> dict:
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
