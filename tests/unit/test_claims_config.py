"""rge.config's seam for the rationale probe and the claims: arms, replicates, probed runs."""

from __future__ import annotations

import copy

import pytest

from rge import config as C
from tests.fixtures.slices import ROOT, smoke_config


@pytest.fixture(scope="module")
def embedded():
    return C.load(ROOT / "config" / "config.yaml", ROOT / C.SCHEMA)


def test_parse_arm_names_a_bad_arm():
    assert C.parse_arm("rge:reasoning") == ("rge", "reasoning")
    for bad in ("rge", "rge:sideways", ":direct"):
        with pytest.raises(C.ConfigError, match=repr(bad)):
            C.parse_arm(bad)


def test_arms_of_inactive_runs_are_empty(embedded):
    # rge has seeds [0, 1, 2]: its arm is its three replicates; alpha_1_1 one seed (the study's)
    assert C.arm_replicates(embedded, "rge:reasoning") == {"rge@0": 0, "rge@1": 1, "rge@2": 2}
    assert C.arm_replicates(embedded, "alpha_1_1:reasoning") == {"alpha_1_1": 0}
    assert C.arm_replicates(embedded, "baseline:reasoning") == {}  # baseline is direct only
    assert C.arm_replicates(embedded, "no_such_run:direct") == {}


def test_probed_runs_are_the_reasoning_evaluations_of_synthetic_studies(embedded):
    runs = C.rationale_probe_runs(embedded)
    assert {"rge@0", "rge@1", "rge@2", "pair_q_oracle@0", "leak_self"} <= set(runs)
    assert "cold_start_probe" in runs  # a gate reads its answer correctness
    assert len(runs) == len(set(runs)) == 11
    assert not [r for r in runs if r.startswith(("baseline", "leak_q"))]  # direct mode only
    hub = copy.deepcopy(embedded)
    hub["benchmark"]["source"] = "hub"
    assert C.rationale_probe_runs(hub) == []


def test_claims_slice_names_every_arm_and_fact_run():
    config = smoke_config()
    cfg = C.slice_for(config, "claims")
    assert cfg["arms"]["rge:reasoning"] == {"rge@0": 0, "rge@1": 1}
    assert cfg["arms"]["baseline_cs:direct"] == {"baseline_cs": 0}
    assert cfg["arms"]["alpha_1_1:reasoning"] == {}  # not in the smoke registry: "not run"
    assert set(cfg["replicates"]) >= {"rge", "baseline_cs", "cold_start_probe", "pair_q_oracle"}
    assert cfg["replicates"]["cold_start_probe"] == ["cold_start_probe"]
    assert cfg["eval_only"] == []
    assert C.claim_fact_runs(cfg["claims"][0]) == ["rge", "cold_start_probe"]


def test_an_eval_only_arm_is_marked():
    config = smoke_config()
    config["claims"]["list"] = [
        {"name": "x", "kind": "difference", "a": "untrained_backbone:direct", "b": "rge:direct"}
    ]
    assert C.slice_for(config, "claims")["eval_only"] == ["untrained_backbone:direct"]


def test_bad_claims_fail_at_load_time_naming_the_claim():
    C.check_claims(smoke_config())  # the shipped claims are well formed
    config = smoke_config()
    config["claims"]["list"] = [
        {"name": "x", "kind": "difference", "a": "untrained_backbone:direct", "b": "rge:direct"}
    ]
    with pytest.raises(C.ConfigError, match=r"claims.list\[0\] \(x\): arm 'untrained_backbone"):
        C.check_claims(config)
    config["claims"]["list"] = [{"name": "y", "kind": "difference", "a": "rge:direct"}]
    with pytest.raises(C.ConfigError, match=r"claim y: missing keys \['b'\]"):
        C.check_claims(config)
    config["claims"]["list"] = [{"name": "z", "kind": "difference", "a": "rge", "b": "rge:direct"}]
    with pytest.raises(C.ConfigError, match="arm 'rge' is not"):
        C.check_claims(config)
