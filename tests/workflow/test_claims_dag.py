"""The rationale probe and the claims in the DAG: planned for the embedded and smoke studies,
no rationale probe for the paper's hub benchmark (issue 12 items 2, 8)."""

import pytest

from tests.workflow.snakemake_run import job_counts, snakemake


def dry(*args: str) -> dict[str, int]:
    proc = snakemake("-n", "-F", *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return job_counts(proc.stdout)


@pytest.mark.parametrize(
    ("configfile", "probes"), [("config/config.yaml", 10), ("config/smoke.yaml", 4)]
)
def test_embedded_studies_plan_the_probe_and_the_claims(configfile, probes):
    counts = dry("--configfile", configfile)
    assert counts["rationale_probe"] == probes  # every reasoning evaluation of a shown run
    assert counts["claims"] == 1


def test_paper_plans_claims_but_no_rationale_probe():
    counts = dry("--configfile", "config/paper.yaml")
    assert "rationale_probe" not in counts
    assert counts["claims"] == 1


def test_the_claims_target_alone_plans_its_evidence_only():
    counts = dry("data/smoke/claims/claims.md", "--configfile", "config/smoke.yaml")
    assert counts["claims"] == 1 and "report" not in counts and "table3" not in counts
