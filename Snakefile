# rge — Reasoning Guided Embeddings as a reproducible study.
#
# Table of contents only: every rule lives in rules/<phase>.smk and runs
# `python -m rge.stages.<rule>`; outputs go to data/<study>/<rule>/... (one name per concept;
# <study> is the config's `study:`, so the embedded, smoke and paper studies never mix).
#   snakemake --cores all                               # the embedded study (config/config.yaml)
#   snakemake --cores all --configfile config/smoke.yaml
#   snakemake -n --configfile config/paper.yaml         # the paper study's DAG (needs a cluster)

from snakemake.utils import min_version

min_version("9.0")


# The embedded study unless the user names a config (a named config replaces it whole,
# so the paper's task registry is never merged with the synthetic one).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "rules/common.smk"
include: "rules/claims_paths.smk"
include: "rules/data.smk"
include: "rules/backbone.smk"
include: "rules/rationales.smk"
include: "rules/train.smk"
include: "rules/diagnostics.smk"
include: "rules/evaluate.smk"
include: "rules/report.smk"
include: "rules/phases.smk"


# Hub downloads (MMEB, the backbone) run on the submitting (login) node, once, into HF_HOME:
# compute nodes often have no internet (README "Running on a cluster").
localrules:
    fetch_mmeb_train,
    fetch_mmeb_eval,
    fetch_retrieval,
    pretrain_backbone,


rule all:
    default_target: True
    input:
        tables=all_tables(),
        retrieval=all_retrieval_scores(),
        figures=all_figures(),
        metrics=all_metrics(),
        report=rules.report.output.report,
        data_report=rules.data_report.output,
        rationale_probe=rationale_probe_targets(),
        claims=claims_targets(),
