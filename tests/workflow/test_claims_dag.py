"""The rationale probe and the claims in the DAG: planned for the embedded and smoke studies,
no rationale probe for the paper's hub benchmark (issue 12 items 2, 8)."""

import pytest

from tests.workflow.snakemake_run import ROOT, job_counts, snakemake


def dry(*args: str) -> dict[str, int]:
    proc = snakemake("-n", "-F", *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return job_counts(proc.stdout)


@pytest.mark.parametrize(
    ("configfile", "probes"), [("config/config.yaml", 11), ("config/smoke.yaml", 6)]
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


def test_a_claim_on_an_eval_only_run_fails_before_any_job(tmp_path):
    text = (ROOT / "config" / "smoke.yaml").read_text()
    bad = text.replace('b: "baseline_cs:direct"', 'b: "untrained_backbone:direct"', 1)
    assert bad != text
    (tmp_path / "bad.yaml").write_text(bad)
    proc = snakemake("-n", "--configfile", str(tmp_path / "bad.yaml"))
    assert proc.returncode != 0
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "config error" in ln]
    assert lines == [
        "config error: claims.list[0] (RGE > baseline): arm 'untrained_backbone:direct' is an "
        "eval-only checkpoint; eval-only rows never enter a comparison"
    ]
