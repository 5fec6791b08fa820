"""Pretraining of the embedded study's tiny backbone so that it can see: vision warm-up
(``warmup``), captioning (``caption``) and the perception probe (``probe``)."""
