"""Claims engine: paired differences, hierarchical bootstrap, MDE, verdicts and gates."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest

from rge.report import claims as C
from rge.report.tables import to_markdown


def _arm(counts: dict, n: int = 100, task: str = "T") -> dict:
    """{seed: {task: 0/1 array with counts[seed] ones first}}."""
    return {s: {task: np.r_[np.ones(k), np.zeros(n - k)]} for s, k in counts.items()}


def test_paired_differences_scores_and_mean_sd():
    a = {0: {"T1": [1, 1, 0, 0], "T2": [1, 0]}, 1: {"T1": [1, 1, 1, 0], "T2": [1, 1]}}
    b = {0: {"T1": [0, 1, 0, 1], "T2": [0, 0]}, 1: {"T1": [1, 1, 1, 0], "T2": [0, 1]}}
    d = C.paired_differences(a, b)
    assert d[0]["T1"].tolist() == [1, 0, 0, -1] and d[1]["T2"].tolist() == [1, 0]
    assert C.seed_scores(a) == {0: 50.0, 1: 87.5}  # mean over tasks of P@1 x 100
    m, sd = C.mean_sd([50.0, 87.5])
    assert m == 68.75 and sd == pytest.approx(37.5 / math.sqrt(2))
    assert C.mean_sd([3.0]) == (3.0, None)
    with pytest.raises(ValueError, match="seeds"):
        C.paired_differences(a, {0: b[0]})
    with pytest.raises(ValueError, match="T2"):
        C.paired_differences(a, {0: {"T1": [0] * 4}, 1: {"T1": [0] * 4}})
    with pytest.raises(ValueError, match="queries"):
        C.paired_differences(a, {0: {"T1": [0] * 3, "T2": [0] * 2}, 1: b[1]})


def _exact_pmf(seed_values):
    """Exact hierarchical-bootstrap distribution (points) by enumerating every outcome: each
    seed draw has probability 1 / S**S, each query resample of a drawn seed 1 / n**n."""
    n_seeds, pmf = len(seed_values), Counter()
    for pick in itertools.product(range(n_seeds), repeat=n_seeds):
        per_slot = []
        for s in pick:
            v = seed_values[s]
            per_slot.append(
                [(100 * np.mean(r), len(v) ** -len(v)) for r in itertools.product(v, repeat=len(v))]
            )
        for outcome in itertools.product(*per_slot):
            mean = round(float(np.mean([m for m, _ in outcome])), 6)
            pmf[mean] += math.prod(p for _, p in outcome) / n_seeds**n_seeds
    return dict(sorted(pmf.items()))


def test_hierarchical_bootstrap_matches_exact_enumeration():
    # three seeds, one task, 2/3/3 queries; the exact CDF crosses 2.5 % and 97.5 % inside the
    # mass points 11.1 (0.007 -> 0.033) and 88.9 (0.967 -> 0.993), so the percentile interval
    # is exactly [11.1, 88.9] up to Monte Carlo error far smaller than those gaps
    seed_values = [[1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    data = [[{"d": np.array(v)}] for v in seed_values]
    est, reps = C.hierarchical_bootstrap(data, C._mean_points, n_resamples=40_000, seed=1)
    assert est == pytest.approx((50.0 + 200 / 3 + 100 / 3) / 3)
    exact = _exact_pmf(seed_values)
    got = Counter(np.round(reps, 6).tolist())
    assert set(got) <= set(exact)
    for v, p in exact.items():
        assert got[v] / reps.size == pytest.approx(p, abs=0.006)
    cdf = np.cumsum(list(exact.values()))
    values = list(exact)
    lo = values[int(np.searchsorted(cdf, 0.025))]
    hi = values[int(np.searchsorted(cdf, 0.975))]
    assert (lo, hi) == (pytest.approx(100 / 9), pytest.approx(800 / 9))
    assert C.interval(reps) == (pytest.approx(lo), pytest.approx(hi))
    again = C.hierarchical_bootstrap(data, C._mean_points, n_resamples=40_000, seed=1)[1]
    assert np.array_equal(reps, again)  # seeded


def test_bootstrap_known_cases():
    # constant differences: a degenerate interval at the value
    r = C.paired_difference(_arm({0: 70, 1: 70}), _arm({0: 70, 1: 70}))
    assert r["estimate"] == 0 and r["ci"] == (0.0, 0.0) and r["seed_sd"] == 0
    # one seed, one task, 400 queries, 30 % of them +1: normal theory CI 30 +- 1.96 sqrt(.21/400)
    d = {0: {"T": np.r_[np.ones(120), np.zeros(280)]}}
    z = {0: {"T": np.zeros(400)}}
    r = C.paired_difference(d, z, n_resamples=20_000)
    half = 100 * 1.959964 * math.sqrt(0.21 / 400)  # 4.49 points
    assert r["estimate"] == pytest.approx(30.0)
    assert r["ci"][0] == pytest.approx(30 - half, abs=0.3)
    assert r["ci"][1] == pytest.approx(30 + half, abs=0.3)


def test_minimum_detectable_effect_by_hand():
    # SE = sqrt((4**2 + 50**2 / (10 * 250)) / 3) = sqrt(17 / 3) = 2.380476
    # MDE = (1.959964 + 0.841621) * 2.380476 = 6.669
    mde = C.minimum_detectable_effect(n_seeds=3, n_queries=250, n_tasks=10, seed_sd=4, query_sd=50)
    assert mde == pytest.approx(6.66911, abs=1e-4)
    assert C.minimum_detectable_effect(
        n_seeds=12, n_queries=250, n_tasks=10, seed_sd=4, query_sd=50
    ) == pytest.approx(mde / 2)
    with pytest.raises(ValueError):
        C.minimum_detectable_effect(n_seeds=0, n_queries=1, n_tasks=1, seed_sd=1, query_sd=1)


def test_noise_components_by_hand():
    diffs = {0: {"T": np.array([1.0, 0.0] * 50)}, 1: {"T": np.array([1.0, 0, 0, 0] * 25)}}
    seed_sd, query_sd = C.noise_components(diffs)
    # per-query variances (ddof 1): 2500 * 100/99 and 1875 * 100/99; their mean 2209.60
    q_var = (2500 + 1875) / 2 * 100 / 99
    assert query_sd == pytest.approx(math.sqrt(q_var))
    # seed means 50, 25: variance 312.5, minus the query part q_var / 100
    assert seed_sd == pytest.approx(math.sqrt(312.5 - q_var / 100))
    assert C.noise_components({0: diffs[0]})[0] == 0.0


@pytest.mark.parametrize(
    ("lo", "hi", "status"),
    [
        (0.0, 5.0, "unresolved"),  # lower bound must lie strictly above 0
        (0.01, 5.0, "holds"),
        (-1.0, 2.0, "unresolved"),  # upper bound must lie strictly below +2
        (-1.0, 1.99, "fails"),
        (math.nan, math.nan, "unresolved"),
    ],
)
def test_judge_boundaries(lo, hi, status):
    assert C.judge(lo, hi, 0.0, 2.0) == status


def test_verdict_combines_components():
    assert C.verdict(["holds", "holds"]) == C.SHOWS
    assert C.verdict(["holds", "fails"]) == C.NOT_SHOWN
    assert C.verdict(["holds", "unresolved"]) == C.INCONCLUSIVE
    assert C.verdict([]) == C.INCONCLUSIVE


GATE = {"name": "RGE learned", "fact": "rge.infonce_ratio", "op": "<=", "value": 0.8,
        "fails_as": "not trained"}  # fmt: skip


def _difference_claim(**kw):
    return {"name": "RGE > baseline", "kind": "difference", "a": "rge", "b": "base", **kw}


def test_difference_claim_verdicts_and_gates():
    base = _arm({0: 40, 1: 40, 2: 40})
    ev = {"arms": {"rge": _arm({0: 100, 1: 100, 2: 100}), "base": base},
          "facts": {"rge": {"infonce_ratio": 0.62}}}  # fmt: skip
    row = C.judge_claims([_difference_claim(gates=[GATE])], ev)[0]
    assert row["verdict"] == C.SHOWS
    assert row["components"][0]["estimate"] == pytest.approx(60.0)
    assert row["arm_scores"]["base"] == (40.0, 0.0, 3)
    assert row["gates"] == ["RGE learned: 0.62 <= 0.8 ok"]
    ev["arms"]["rge"] = base  # identical: CI [0, 0] lies below +2
    assert C.judge_claims([_difference_claim()], ev)[0]["verdict"] == C.NOT_SHOWN
    ev["arms"]["rge"] = _arm({0: 41, 1: 39, 2: 46})  # +2 points, within noise
    assert C.judge_claims([_difference_claim()], ev)[0]["verdict"] == C.INCONCLUSIVE
    ev["facts"]["rge"]["infonce_ratio"] = 0.81
    row = C.judge_claims([_difference_claim(gates=[GATE])], ev)[0]
    assert row["verdict"] == "not trained" and row["components"] == []
    ev["facts"] = {}  # a fact nobody wrote: the gate is unknown, the effect still shown
    row = C.judge_claims([_difference_claim(gates=[GATE])], ev)[0]
    assert row["verdict"] == C.INCONCLUSIVE and row["reason"] == "gate(s) unknown: RGE learned"
    assert row["gates"][0].endswith("UNKNOWN") and "missing" in row["gates"][0]
    assert row["components"][0]["estimate"] == pytest.approx(2.0)  # (41 + 39 + 46) / 3 - 40


def _mechanism_evidence(control_gain: str):
    n, seeds, right = 40, (0, 1), np.r_[np.ones(20), np.zeros(20)]
    reason, direct, flags = {}, {}, {}
    for s in seeds:
        obj_r = {"none": np.zeros(n), "same": right, "all": np.ones(n)}[control_gain]
        reason[s] = {"CIRR": right.copy(), "Obj": obj_r}
        direct[s] = {"CIRR": np.zeros(n), "Obj": np.zeros(n)}
        flags[s] = {"CIRR": right, "Obj": right}
    return {"arms": {"rge:reasoning": reason, "rge:direct": direct},
            "rationale_right": {"rge:reasoning": flags}}  # fmt: skip


def test_mechanism_claim():
    claim = {"name": "mechanism", "kind": "mechanism", "a": "rge:reasoning", "b": "rge:direct",
             "target_tasks": ["CIRR"], "control_tasks": ["Obj"], "n_resamples": 2000}  # fmt: skip
    row = C.judge_claims([claim], _mechanism_evidence("none"))[0]
    groups, rationale = row["components"]
    # gain 50 on CIRR (right rows all gained), 0 on Obj: contrast 50
    assert groups["estimate"] == pytest.approx(50.0) and groups["status"] == "holds"
    # right - wrong: 100 on CIRR, 0 on Obj (no gain anywhere), mean 50; every resample the same
    assert rationale["estimate"] == pytest.approx(50.0)
    assert rationale["ci"] == (pytest.approx(50.0), pytest.approx(50.0))
    assert row["verdict"] == C.SHOWS
    row = C.judge_claims([claim], _mechanism_evidence("same"))[0]  # same gain on the control
    assert row["components"][0]["estimate"] == 0.0 and row["verdict"] == C.INCONCLUSIVE
    row = C.judge_claims([claim], _mechanism_evidence("all"))[0]  # control gains 100, target 50
    groups = row["components"][0]
    assert groups["estimate"] == pytest.approx(-50.0) and groups["ci"][1] < 2.0
    assert row["verdict"] == C.NOT_SHOWN


def test_leakage_claim():
    facts = {"pair_q_oracle": {"loss": 0.5}, "rge": {"loss": 0.7},
             "fig4": {"consistent": 0.7, "wrong_query": 0.75, "wrong_target": 0.97}}  # fmt: skip
    claim = {"name": "oracle leakage", "kind": "leakage", "a": "rge", "b": "oracle",
             "facts": {"oracle_loss": "pair_q_oracle.loss", "self_loss": "rge.loss",
                       "consistent": "fig4.consistent", "wrong_query": "fig4.wrong_query",
                       "wrong_target": "fig4.wrong_target"}}  # fmt: skip
    ev = {"arms": {"rge": _arm({0: 60, 1: 60}), "oracle": _arm({0: 30, 1: 30})}, "facts": facts}
    row = C.judge_claims([claim], ev)[0]
    assert [c["status"] for c in row["components"]] == ["holds"] * 4
    assert row["components"][0]["estimate"] == pytest.approx(0.2)
    assert row["verdict"] == C.SHOWS
    facts["fig4"]["wrong_query"] = 0.81  # 0.11 above the consistent run: not within 0.1
    assert C.judge_claims([claim], ev)[0]["verdict"] == C.NOT_SHOWN
    facts["fig4"]["wrong_query"] = 0.8  # exactly 0.1 above: within (inclusive)
    assert C.judge_claims([claim], ev)[0]["verdict"] == C.SHOWS
    del facts["fig4"]["wrong_target"]
    assert C.judge_claims([claim], ev)[0]["verdict"] == C.INCONCLUSIVE


def test_ordering_claim_needs_twice_the_seed_sd():
    arms = {"A": _arm({0: 60, 1: 62, 2: 64}), "B": _arm({0: 50, 1: 50, 2: 50}),
            "C": _arm({0: 49, 1: 51, 2: 47})}  # fmt: skip
    claim = {"name": "alpha order", "kind": "ordering", "order": ["A", "B", "C"]}
    row = C.judge_claims([claim], {"arms": arms})[0]
    ab, bc = row["components"]
    # A - B per seed 10, 12, 14: mean 12 > 2 x sd 2; B - C per seed 1, -1, 3: mean 1 < 2 x 2
    assert (ab["estimate"], ab["status"]) == (pytest.approx(12.0), "holds")
    assert (bc["estimate"], bc["status"]) == (pytest.approx(1.0), "unresolved")
    assert row["verdict"] == C.INCONCLUSIVE
    reversed_claim = {**claim, "name": "reversed", "order": ["B", "A"]}
    assert C.judge_claims([reversed_claim], {"arms": arms})[0]["verdict"] == C.NOT_SHOWN
    one = {"A": _arm({0: 60}), "B": _arm({0: 50})}
    single = {**claim, "order": ["A", "B"]}
    assert C.judge_claims([single], {"arms": one})[0]["verdict"] == C.INCONCLUSIVE
    with_prior = {**single, "seed_sd": 4.9}  # 10 > 9.8
    assert C.judge_claims([with_prior], {"arms": one})[0]["verdict"] == C.SHOWS


@pytest.mark.parametrize(
    ("claims", "match"),
    [
        ([{"kind": "difference", "a": "x", "b": "y"}], "name"),
        ([_difference_claim(), _difference_claim()], "unique"),
        ([{"name": "n", "kind": "vibes"}], "kind"),
        ([{"name": "n", "kind": "difference", "a": "x"}], r"\['b'\]"),
        ([_difference_claim(gates=[{**GATE, "op": "=="}])], "gate"),
    ],
)
def test_bad_claims_are_rejected(claims, match):
    with pytest.raises(ValueError, match=match):
        C.validate_claims(claims)


def test_eval_only_and_missing_arms_are_rejected():
    ev = {"arms": {"rge": _arm({0: 1}), "base": _arm({0: 1})}, "eval_only": ["base"]}
    with pytest.raises(ValueError, match="eval-only"):
        C.judge_claims([_difference_claim()], ev)
    with pytest.raises(ValueError, match="no evaluation"):
        C.judge_claims([_difference_claim(b="nope")], {"arms": ev["arms"]})


def test_claims_table_markdown():
    ev = {"arms": {"rge": _arm({0: 100, 1: 100}), "base": _arm({0: 40, 1: 42})},
          "facts": {"rge": {"infonce_ratio": 0.9}}}  # fmt: skip
    rows = C.judge_claims([_difference_claim(), _difference_claim(name="gated", gates=[GATE])], ev)
    md = to_markdown(C.claims_table(rows))
    assert "| RGE > baseline | rge: 100.0 ± 0.0 (2); base: 41.0 ± 1.4 (2) |" in md
    assert "rge - base: +59.0 [" in md and "| shows |" in md
    assert "| gated |" in md and "not computed" in md and "| not trained |" in md
    assert "0.9 <= 0.8 FAILED" in md


def test_study_claims_pair_shared_seeds_and_mark_claims_not_run():
    ev = {"arms": {"rge": _arm({0: 100, 1: 100, 2: 100}), "base": _arm({0: 40, 2: 40}),
                   "solo": _arm({5: 50}), "gone": {}}}  # fmt: skip
    design = {"seed_sd": 0.0, "query_sd": 50.0}
    claims = [_difference_claim(), _difference_claim(name="apart", b="solo"),
              _difference_claim(name="absent", b="gone")]  # fmt: skip
    rows = {r["claim"]: r for r in C.study_claims(claims, ev, design, n_resamples=200)}
    paired = rows["RGE > baseline"]
    assert (
        paired["verdict"] == C.SHOWS and paired["reason"] == "seeds [1] not in every arm, left out"
    )
    assert paired["arm_scores"]["rge"][2] == 2 and paired["design"]["n_seeds"] == 2
    assert rows["apart"]["verdict"] == C.NOT_RUN
    assert rows["apart"]["reason"] == "no seed shared by its arms"
    assert rows["absent"]["verdict"] == C.NOT_RUN and "gone" in rows["absent"]["reason"]


def test_alpha_rule_picks_the_first_admissible_run_nearest_the_paper():
    rule = {"runs": ["rge", "alpha_1_1", "alpha_10_1"], "keep": 0.9}
    facts = {"rge": {"train_answer_correct": 0.85}, "alpha_1_1": {"train_answer_correct": 0.93},
             "alpha_10_1": {"train_answer_correct": 0.97}}  # fmt: skip
    out = C.apply_alpha_rule(rule, facts)
    assert [c["admissible"] for c in out["candidates"]] == [False, True, True]
    assert (out["pick"], out["headline"], out["consistent"]) == ("alpha_1_1", "rge", False)
    md = C.alpha_rule_markdown(out)
    assert "| rge | 85.0 % | no |" in md and "picks `alpha_1_1`, not the headline `rge`" in md
    facts["rge"]["train_answer_correct"] = 0.9  # the bound is admissible
    assert C.apply_alpha_rule(rule, facts)["consistent"] is True
    facts["alpha_10_1"]["train_answer_correct"] = None  # a missing number: no pick
    out = C.apply_alpha_rule(rule, facts)
    assert out["pick"] is None and out["consistent"] is None
    assert "picks none" in C.alpha_rule_markdown(out)
