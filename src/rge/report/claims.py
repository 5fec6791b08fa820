"""Claims judged by criteria written down before the run (issue 12 items 3 and 8). Pure numpy.

**Data.** A run's evaluation in one mode (an *arm*, e.g. ``"rge:reasoning"``) is its per-query
correctness: ``{seed: {task: array of 0/1, shape (n_queries,)}}``. Two arms are *paired* when
they share seeds, tasks and queries (same rows, same order); a paired difference is then taken
query by query, so every shared source of noise (which queries, which seed's data order)
cancels. Scores are in points (P@1 x 100); a run's score is the mean over tasks of its per-task
P@1 (the MMEB overall).

**Interval.** 95 % percentile interval of a hierarchical bootstrap (``hierarchical_bootstrap``):
each of ``N_RESAMPLES`` (10,000) replicates draws the seeds with replacement, then, for each
drawn seed independently, the queries of each task with replacement; the statistic is
recomputed on the replicate. numpy's ``default_rng(seed)``, so an interval is a pure function of
its inputs. Caveat, stated so that nobody over-reads it: with 3 seeds the seed level of a
percentile bootstrap is narrower than a t interval (it has ~(S-1)/S of the variance and no
small-sample widening); ``minimum_detectable_effect`` says what such a design can resolve.

**Claims.** A claim is a dict (in the config), applied by ``judge_claims``:

    {"name": "RGE > baseline", "kind": "difference", "a": "rge:reasoning",
     "b": "baseline_cs:direct", "shows_above": 0.0, "not_below": 2.0,
     "gates": [{"name": "RGE learned", "fact": "rge.infonce_ratio", "op": "<=",
                "value": 0.8, "fails_as": "not trained"}]}

Kinds (each a list of *components*, each of which holds, fails or is unresolved):
    difference  a - b (paired): holds if the CI lies above ``shows_above``, fails if it lies
                below ``not_below``.
    mechanism   a (reasoning) - b (direct) of one model: (i) gain on ``target_tasks`` (composed,
                knowledge) minus gain on ``control_tasks`` (perception) and (ii) gain on rows
                whose rationale is right minus gain on rows whose rationale is wrong (within a
                task, then averaged); both judged like a difference.
    leakage     q_oracle vs q_self (issue 12 item 8): ``faster`` q_oracle's training loss ratio
                below q_self's (facts); ``lower`` paired P@1 q_self - q_oracle judged like a
                difference; ``figure4`` wrong-query ratio within ``within`` (0.1) of the
                consistent run's and wrong-target >= ``floor`` (0.95) (facts).
    ordering    arms in an expected order, best first: each neighbouring pair holds if the
                mean paired difference exceeds ``k`` (2) x the seed sd of that difference,
                fails if it is reversed beyond it, else unresolved. With one seed the sd is
                unknown: ``seed_sd`` (a prior, points) is used if given, else unresolved.
Verdict: *shows* if every component holds, *does not show* if any fails, else *inconclusive*.
Gates are checked first; a failed gate prints its ``fails_as`` (default "gate failed") instead
of a verdict, and no effect is computed; a gate whose fact is missing is *unknown*: the effect
is computed and printed, the verdict is inconclusive. Facts are the caller's numbers (training InfoNCE /
ln B, rationale answer correctness, ...) keyed ``"run.key"``.
"""

from __future__ import annotations

import math
import operator
import warnings
from collections.abc import Callable, Mapping, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np

from rge.report.seeds import mean_sd  # mean and sample sd over seeds: one definition
from rge.report.tables import Table

N_RESAMPLES = 10_000  # bootstrap replicates: Monte Carlo error of a 2.5 % quantile << 0.1 point
LEVEL = 0.95
EPS = 1e-9
SHOWS, NOT_SHOWN, INCONCLUSIVE = "shows", "does not show", "inconclusive"
KINDS = ("difference", "mechanism", "leakage", "ordering")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
}

Correctness = Mapping[Any, Mapping[str, Sequence[float]]]
Rows = list[list[dict[str, np.ndarray]]]  # [seed][task] -> column name -> (n_queries,)


# ----------------------------------------------------------------------------- pairing


def _shared_tasks(
    arms: Sequence[Correctness], tasks: Sequence[str] | None
) -> tuple[list[Any], list[str]]:
    """Seeds shared by ``arms`` (checked equal) and their tasks; errors name what differs."""
    seeds = list(arms[0])
    for arm in arms[1:]:
        if set(arm) != set(seeds):
            raise ValueError(f"unpaired arms: seeds {sorted(arms[0])} vs {sorted(arm)}")
    if not seeds:
        raise ValueError("an arm has no seeds")
    names = sorted(arms[0][seeds[0]]) if tasks is None else list(tasks)
    for arm in arms:
        for s in seeds:
            missing = [t for t in names if t not in arm[s]]
            if missing:
                raise ValueError(f"seed {s}: tasks {missing} missing from an arm")
            for t in names:
                n = len(arms[0][seeds[0]][t])
                if len(arm[s][t]) != n or n == 0:
                    raise ValueError(f"seed {s} task {t}: {len(arm[s][t])} queries vs {n}")
    return seeds, names


def paired_differences(
    a: Correctness, b: Correctness, tasks: Sequence[str] | None = None
) -> dict[Any, dict[str, np.ndarray]]:
    """Per-query ``a - b`` (float64, values in {-1, 0, 1} for 0/1 correctness) per seed, task.

    Raises:
        ValueError: the arms do not share seeds, tasks or query counts.
    """
    seeds, names = _shared_tasks([a, b], tasks)
    return {
        s: {t: np.asarray(a[s][t], float) - np.asarray(b[s][t], float) for t in names}
        for s in seeds
    }


def seed_scores(arm: Correctness, tasks: Sequence[str] | None = None) -> dict[Any, float]:
    """Score per seed in points: mean over ``tasks`` (default all) of P@1 x 100."""
    seeds, names = _shared_tasks([arm], tasks)
    return {s: 100.0 * float(np.mean([np.mean(arm[s][t]) for t in names])) for s in seeds}


# ----------------------------------------------------------------------------- bootstrap


def _nanmean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-nan slice is a missing value
        return np.nanmean(x, axis=axis)


def hierarchical_bootstrap(
    data: Rows,
    task_value: Callable[[dict[str, np.ndarray]], np.ndarray],
    combine: Callable[[np.ndarray], np.ndarray] = _nanmean,
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> tuple[float, np.ndarray]:
    """Point estimate and bootstrap replicates of a two-level statistic.

    Statistic: ``task_value`` maps a task's columns, shape (..., n_queries), to one value per
    leading index (nan allowed: the task is skipped); ``combine`` maps (..., n_tasks) values to
    one per seed (default: mean over non-nan tasks); the statistic is the mean over seeds.
    Replicates: seeds drawn with replacement; for every drawn seed (each draw independently),
    each task's queries drawn with replacement (their columns travel together).

    Returns:
        (estimate, replicates of shape (n_resamples,)), both float64.
    """
    rng = np.random.default_rng(seed)
    n_seeds, n_tasks = len(data), len(data[0])
    full = np.array([[task_value({k: v[None] for k, v in c.items()})[0] for c in d] for d in data])
    estimate = float(_nanmean(combine(full), axis=0))
    pick = rng.integers(0, n_seeds, size=(n_resamples, n_seeds))
    values = np.full((n_resamples, n_seeds, n_tasks), np.nan)
    for slot in range(n_seeds):
        for s in range(n_seeds):
            rows = np.flatnonzero(pick[:, slot] == s)
            for t, cols in enumerate(data[s] if rows.size else ()):
                n = len(next(iter(cols.values())))
                idx = rng.integers(0, n, size=(rows.size, n))
                values[rows, slot, t] = task_value({k: v[idx] for k, v in cols.items()})
    return estimate, _nanmean(combine(values), axis=1)


def interval(replicates: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """Percentile interval (numpy's default linear quantiles) ignoring nan replicates."""
    r = np.asarray(replicates, float)
    r = r[~np.isnan(r)]
    if r.size == 0:
        return math.nan, math.nan
    lo, hi = np.quantile(r, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _rows(diffs: Mapping[Any, Mapping[str, np.ndarray]], extra: Mapping | None = None) -> Rows:
    """Nested [seed][task] columns: ``d`` (the difference) and ``right`` where given."""
    out = []
    for s, per_task in diffs.items():
        row = []
        for t, d in per_task.items():
            cols = {"d": np.asarray(d, float)}
            if extra is not None:
                cols["right"] = np.asarray(extra[s][t], float)
                if cols["right"].shape != cols["d"].shape:
                    raise ValueError(f"seed {s} task {t}: rationale flags do not match queries")
            row.append(cols)
        out.append(row)
    return out


def _mean_points(cols: dict[str, np.ndarray]) -> np.ndarray:
    return 100.0 * cols["d"].mean(-1)


def _right_minus_wrong(cols: dict[str, np.ndarray]) -> np.ndarray:
    """Gain on right-rationale rows minus gain on wrong ones (nan if a side is empty)."""
    d, r = cols["d"], cols["right"]
    n_right, n_wrong = r.sum(-1), (1 - r).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * ((d * r).sum(-1) / n_right - (d * (1 - r)).sum(-1) / n_wrong)


def paired_difference(
    a: Correctness,
    b: Correctness,
    *,
    tasks: Sequence[str] | None = None,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> dict:
    """Mean paired difference ``a - b`` in points with its 95 % hierarchical-bootstrap interval.

    Returns ``{"estimate", "ci": (lo, hi), "per_seed": {seed: points}, "seed_sd"}`` where
    ``seed_sd`` is the sd over seeds of the per-seed difference (None for one seed).
    """
    diffs = paired_differences(a, b, tasks)
    est, reps = hierarchical_bootstrap(
        _rows(diffs), _mean_points, n_resamples=n_resamples, seed=seed
    )
    per_seed = {s: 100.0 * float(np.mean([d.mean() for d in v.values()])) for s, v in diffs.items()}
    return {
        "estimate": est,
        "ci": interval(reps),
        "per_seed": per_seed,
        "seed_sd": mean_sd(per_seed.values())[1],
    }


# ----------------------------------------------------------------------------- design


def minimum_detectable_effect(
    *,
    n_seeds: int,
    n_queries: int,
    n_tasks: int,
    seed_sd: float,
    query_sd: float,
    alpha: float = 0.05,
    power: float = 0.8,
) -> float:
    """Smallest true mean paired difference (points) a design detects with ``power``.

    Method: normal approximation for a two-sided test at level ``alpha`` of the mean paired
    difference over ``n_seeds`` seeds, each the mean over ``n_tasks`` tasks of ``n_queries``
    queries. With sigma_s the sd of a seed's true difference (points; from a pilot or
    ``noise_components``) and sigma_q the per-query sd of the difference (points; at most 100)::

        SE  = sqrt((sigma_s**2 + sigma_q**2 / (n_tasks * n_queries)) / n_seeds)
        MDE = (z_{1 - alpha/2} + z_{power}) * SE          # 2.80 x SE at 0.05 / 0.8

    The normal quantile understates what 2-3 seeds need (a t quantile with 2 df is 4.30, not
    1.96); read the MDE as a lower bound. Raises ValueError on non-positive counts.
    """
    if min(n_seeds, n_queries, n_tasks) < 1:
        raise ValueError(f"counts must be >= 1: {n_seeds=}, {n_queries=}, {n_tasks=}")
    z = NormalDist().inv_cdf
    se = math.sqrt((seed_sd**2 + query_sd**2 / (n_tasks * n_queries)) / n_seeds)
    return (z(1 - alpha / 2) + z(power)) * se


def noise_components(diffs: Mapping[Any, Mapping[str, np.ndarray]]) -> tuple[float, float]:
    """(sigma_s, sigma_q) in points from a pilot's paired differences, for the MDE.

    sigma_q: pooled per-query sd of the difference. sigma_s: the seed sd of the per-seed mean
    difference with its query-sampling part removed, sqrt(max(0, var_s - sigma_q**2 / (T n)))
    (0 with one seed: nothing to estimate it from).
    """
    d = [[100.0 * np.asarray(x, float) for x in v.values()] for v in diffs.values()]
    q_var = float(np.mean([x.var(ddof=1) for per in d for x in per if x.size > 1]))
    # variance of a mean of T task means = sigma_q**2 * sum(1 / n_t) / T**2
    n_eff = np.mean([len(per) ** 2 / sum(1.0 / x.size for x in per) for per in d])
    seed_means = [np.mean([x.mean() for x in per]) for per in d]
    if len(seed_means) < 2:
        return 0.0, math.sqrt(q_var)
    s_var = float(np.var(seed_means, ddof=1)) - q_var / n_eff
    return math.sqrt(max(0.0, s_var)), math.sqrt(q_var)


# ----------------------------------------------------------------------------- claims


def judge(lo: float, hi: float, shows_above: float, not_below: float) -> str:
    """One interval against its thresholds: "holds" (lo > shows_above), "fails"
    (hi < not_below), else "unresolved" (also for a nan interval)."""
    if lo > shows_above:
        return "holds"
    if hi < not_below:
        return "fails"
    return "unresolved"


def verdict(statuses: Sequence[str]) -> str:
    """shows if every component holds, does not show if any fails, else inconclusive."""
    if statuses and all(s == "holds" for s in statuses):
        return SHOWS
    return NOT_SHOWN if "fails" in statuses else INCONCLUSIVE


def fact(facts: Mapping[str, Any], key: str) -> float | None:
    """``facts["run"]["key"]`` for ``"run.key"`` (None when absent)."""
    run, _, name = key.partition(".")
    value = facts.get(run, {}).get(name) if name else facts.get(run)
    return None if value is None else float(value)


def check_gates(claim: Mapping, facts: Mapping[str, Any]) -> tuple[str | None, list[str]]:
    """(what a failed gate prints, or None when none failed; one "name: value op limit" line
    per gate). A gate whose fact is missing is *unknown* (its line ends "UNKNOWN"): it neither
    passes nor fails; ``unknown_gates`` names them."""
    failed, lines = None, []
    for g in claim.get("gates", []):
        value, op, limit = fact(facts, g["fact"]), g["op"], float(g["value"])
        if value is None:
            lines.append(f"{g['name']}: missing ({g['fact']}) {op} {limit:g} UNKNOWN")
            continue
        ok = _OPS[op](value, limit)
        lines.append(f"{g['name']}: {value:.3g} {op} {limit:g} {'ok' if ok else 'FAILED'}")
        if not ok and failed is None:
            failed = g.get("fails_as", "gate failed")
    return failed, lines


def unknown_gates(claim: Mapping, facts: Mapping[str, Any]) -> list[str]:
    """Names of the claim's gates whose fact is missing (a probe not run, a key not written)."""
    return [g["name"] for g in claim.get("gates", []) if fact(facts, g["fact"]) is None]


def _component(name: str, est: float, ci: tuple[float, float], claim: Mapping) -> dict:
    status = judge(*ci, float(claim.get("shows_above", 0.0)), float(claim.get("not_below", 2.0)))
    return {"name": name, "estimate": est, "ci": ci, "status": status}


def _difference(claim: Mapping, ev: Mapping) -> list[dict]:
    a, b = ev["arms"][claim["a"]], ev["arms"][claim["b"]]
    r = paired_difference(a, b, tasks=claim.get("tasks"), **_boot(claim))
    return [_component(f"{claim['a']} - {claim['b']}", r["estimate"], r["ci"], claim)]


def _boot(claim: Mapping) -> dict:
    return {
        "n_resamples": int(claim.get("n_resamples", N_RESAMPLES)),
        "seed": int(claim.get("seed", 0)),
    }


def _group_contrast(target: Sequence[str], control: Sequence[str], names: Sequence[str]):
    """combine(): mean over target tasks minus mean over control tasks."""
    t_idx = [names.index(t) for t in target]
    c_idx = [names.index(t) for t in control]
    return lambda v: _nanmean(v[..., t_idx]) - _nanmean(v[..., c_idx])


def _mechanism(claim: Mapping, ev: Mapping) -> list[dict]:
    target, control = list(claim["target_tasks"]), list(claim["control_tasks"])
    names = target + control
    diffs = paired_differences(ev["arms"][claim["a"]], ev["arms"][claim["b"]], names)
    est, reps = hierarchical_bootstrap(
        _rows(diffs), _mean_points, _group_contrast(target, control, names), **_boot(claim)
    )
    out = [_component("gain on target tasks - gain on controls", est, interval(reps), claim)]
    right = ev["rationale_right"][claim["a"]]
    est, reps = hierarchical_bootstrap(_rows(diffs, right), _right_minus_wrong, **_boot(claim))
    out.append(_component("gain on right - wrong rationale rows", est, interval(reps), claim))
    return out


def _fact_component(name: str, value: float | None, ok: Callable[[float], bool]) -> dict:
    status = "unresolved" if value is None else ("holds" if ok(value) else "fails")
    return {"name": name, "estimate": value, "ci": None, "status": status}


def _leakage(claim: Mapping, ev: Mapping) -> list[dict]:
    """q_oracle (``b``) vs q_self (``a``): loss falls faster, yet scores lower; Figure 4 pattern."""
    facts, f = ev.get("facts", {}), claim["facts"]
    oracle, self_ = fact(facts, f["oracle_loss"]), fact(facts, f["self_loss"])
    gap = None if oracle is None or self_ is None else self_ - oracle
    out = [_fact_component("q_self - q_oracle train loss ratio", gap, lambda g: g > 0)]
    out += _difference(claim, ev)
    within, floor = float(claim.get("within", 0.1)), float(claim.get("floor", 0.95))
    consistent = fact(facts, f["consistent"])
    wrong_q, wrong_t = fact(facts, f["wrong_query"]), fact(facts, f["wrong_target"])
    wq = None if wrong_q is None or consistent is None else wrong_q - consistent
    # EPS: the thresholds are inclusive and the ratios decimal (0.8 - 0.7 > 0.1 in binary)
    out.append(_fact_component("Fig. 4 wrong-query - consistent", wq, lambda x: x <= within + EPS))
    out.append(_fact_component("Fig. 4 wrong-target", wrong_t, lambda x: x >= floor - EPS))
    return out


def _ordering(claim: Mapping, ev: Mapping) -> list[dict]:
    """Neighbours in the expected order: resolved only beyond k x the seed sd of a difference."""
    k, prior = float(claim.get("k", 2.0)), claim.get("seed_sd")
    out = []
    for hi_arm, lo_arm in zip(claim["order"], claim["order"][1:], strict=False):
        r = paired_difference(
            ev["arms"][hi_arm], ev["arms"][lo_arm], tasks=claim.get("tasks"), **_boot(claim)
        )
        sd = r["seed_sd"] if r["seed_sd"] is not None else prior
        c = {"name": f"{hi_arm} > {lo_arm}", "estimate": r["estimate"], "ci": r["ci"]}
        if sd is None:
            c["status"], c["note"] = "unresolved", "one seed, no seed sd"
        else:
            margin = k * float(sd)
            c["status"] = judge(r["estimate"], r["estimate"], margin, -margin)
            c["note"] = f"needs |diff| > {margin:.1f}"
        out.append(c)
    return out


_KIND_FUNCS = {
    "difference": _difference,
    "mechanism": _mechanism,
    "leakage": _leakage,
    "ordering": _ordering,
}
_REQUIRED = {
    "difference": ("a", "b"),
    "mechanism": ("a", "b", "target_tasks", "control_tasks"),
    "leakage": ("a", "b", "facts"),
    "ordering": ("order",),
}


def validate_claims(claims: Sequence[Mapping]) -> None:
    """Check claim dicts at load time.

    Raises:
        ValueError: naming the claim (by name or index) and the bad or missing key.
    """
    names = set()
    for i, c in enumerate(claims):
        label = c.get("name", f"#{i}")
        if not c.get("name") or c["name"] in names:
            raise ValueError(f"claim {label}: a unique 'name' is required")
        names.add(c["name"])
        if c.get("kind") not in KINDS:
            raise ValueError(f"claim {label}: kind must be one of {KINDS}, got {c.get('kind')!r}")
        missing = [k for k in _REQUIRED[c["kind"]] if k not in c]
        if missing:
            raise ValueError(f"claim {label}: missing keys {missing}")
        for g in c.get("gates", []):
            bad = [k for k in ("name", "fact", "op", "value") if k not in g]
            if bad or g.get("op") not in _OPS:
                raise ValueError(
                    f"claim {label}: gate {g!r} needs name, fact, op in {list(_OPS)}, value"
                )
        tables = c.get("tables", [])
        if not isinstance(tables, list) or not all(isinstance(t, str) for t in tables):
            raise ValueError(f"claim {label}: tables must be a list of table names")
        if c["kind"] == "leakage":
            need = ("oracle_loss", "self_loss", "consistent", "wrong_query", "wrong_target")
            gone = [k for k in need if k not in c["facts"]]
            if gone:
                raise ValueError(f"claim {label}: facts needs keys {gone}")


def _arms_of(claim: Mapping) -> list[str]:
    return list(claim["order"]) if claim["kind"] == "ordering" else [claim["a"], claim["b"]]


def judge_claims(claims: Sequence[Mapping], evidence: Mapping[str, Any]) -> list[dict]:
    """Apply each claim to the evidence; return one verdict row per claim.

    Args:
        claims: claim dicts (module docstring; checked by ``validate_claims``).
        evidence: ``{"arms": {arm: Correctness}, "facts": {run: {key: number}},
            "rationale_right": {arm: {seed: {task: 0/1 array}}}, "eval_only": [arm, ...]}``.

    Returns:
        Rows ``{"claim", "kind", "arms", "verdict", "reason", "gates": [str], "components": [{"name",
        "estimate", "ci", "status"}], "arm_scores": {arm: (mean, sd, n_seeds)}}``; ``verdict``
        is shows / does not show / inconclusive, or a failed gate's ``fails_as``; a gate
        whose fact is missing makes the verdict inconclusive (``reason`` names it).

    Raises:
        ValueError: a bad claim, a missing arm, or an eval-only arm in a comparison.
    """
    validate_claims(claims)
    eval_only = set(evidence.get("eval_only", ()))
    rows = []
    for c in claims:
        arms = _arms_of(c)
        for arm in arms:
            if arm in eval_only:
                raise ValueError(f"claim {c['name']}: {arm} is eval-only and never compared")
            if arm not in evidence["arms"]:
                raise ValueError(f"claim {c['name']}: no evaluation for arm {arm!r}")
        failed, gates = check_gates(c, evidence.get("facts", {}))
        scores = {}
        for arm in arms:
            per_seed = seed_scores(evidence["arms"][arm], c.get("tasks"))
            scores[arm] = (*mean_sd(per_seed.values()), len(per_seed))
        comps = [] if failed else _KIND_FUNCS[c["kind"]](c, evidence)
        unknown = [] if failed else unknown_gates(c, evidence.get("facts", {}))
        # an unknown gate: the effect is shown, but cannot count as a finding
        judged = INCONCLUSIVE if unknown else verdict([x["status"] for x in comps])
        rows.append(
            {
                "claim": c["name"],
                "kind": c["kind"],
                "arms": arms,
                "verdict": failed or judged,
                "reason": f"gate(s) unknown: {', '.join(unknown)}" if unknown else "",
                "gates": gates,
                "components": comps,
                "arm_scores": scores,
            }
        )
    return rows


def _num(x: float | None, digits: int = 1) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.{digits}f}"


def _describe(comp: dict) -> str:
    text = f"{comp['name']}: {_num(comp['estimate'], 2 if comp['ci'] is None else 1)}"
    if comp["ci"] is not None:
        text += f" [{_num(comp['ci'][0])}, {_num(comp['ci'][1])}]"
    note = f"; {comp['note']}" if comp.get("note") else ""
    return f"{text} ({comp['status']}{note})"


def claims_table(rows: Sequence[dict]) -> Table:
    """The verdict rows as a ``Table`` (one line per claim; components joined by "; ")."""
    table = Table(
        "Claims judged by criteria fixed before the run",
        [
            "claim",
            "arms: mean ± sd (seeds)",
            "test: estimate [95 % CI] (status)",
            "gates",
            "verdict",
        ],
        notes=[
            f"Paired differences in points; 95 % intervals from a hierarchical bootstrap (seeds, "
            f"then queries within tasks; {N_RESAMPLES:,} resamples unless the claim says "
            "otherwise). A claim whose gate failed gets no verdict."
        ],
    )
    for r in rows:
        arms = "; ".join(
            f"{a}: {m:.1f}" + (f" ± {sd:.1f}" if sd is not None else "") + f" ({n})"
            for a, (m, sd, n) in r["arm_scores"].items()
        )
        tests = "; ".join(_describe(c) for c in r["components"]) or "not computed"
        reason = f" ({r['reason']})" if r.get("reason") else ""
        gates = "; ".join(r["gates"]) or "none"
        table.rows.append([r["claim"], arms, tests, gates, r["verdict"] + reason])
    return table


# ----------------------------------------------------------------------------- a study's claims

NOT_RUN = "not run"


def _arm_tasks(arm: Correctness) -> set[str]:
    return set.intersection(*(set(per_task) for per_task in arm.values()))


def _prepared(claim: Mapping, evidence: Mapping) -> tuple[dict, str]:
    """The claim ready to judge (its ``tasks`` pinned to what every arm scored), or the reason
    it cannot run here ("" when it can)."""
    arms = _arms_of(claim)
    missing = [a for a in arms if not evidence["arms"].get(a)]
    if missing:
        return dict(claim), f"arm(s) not active in this study: {', '.join(missing)}"
    shared = set.intersection(*(_arm_tasks(evidence["arms"][a]) for a in arms))
    c = dict(claim)
    if claim["kind"] == "mechanism":
        c["target_tasks"] = [t for t in claim["target_tasks"] if t in shared]
        c["control_tasks"] = [t for t in claim["control_tasks"] if t in shared]
        if not c["target_tasks"] or not c["control_tasks"]:
            return c, "no target or no control task evaluated by both arms"
        if not evidence.get("rationale_right", {}).get(claim["a"]):
            return c, f"no rationale probe of {claim['a']}"
        return c, ""
    wanted = claim.get("tasks")
    c["tasks"] = sorted(shared) if wanted is None else [t for t in wanted if t in shared]
    return c, "" if c["tasks"] else "no task evaluated by every arm"


def claim_design(claim: Mapping, evidence: Mapping, design: Mapping) -> dict:
    """The minimum detectable effect (points) of a claim's paired comparison at the design's
    noise (``minimum_detectable_effect``; seeds = the fewest any arm has, queries = mean per
    task), with the study's own noise (``noise_components`` of the first pair) beside it."""
    arms = [evidence["arms"][a] for a in _arms_of(claim)]
    tasks = claim.get("tasks") or [*claim["target_tasks"], *claim["control_tasks"]]
    n_seeds = min(len(a) for a in arms)
    sizes = [len(next(iter(a.values()))[t]) for a in arms for t in tasks]
    n_queries = max(1, round(sum(sizes) / len(sizes)))
    mde = minimum_detectable_effect(
        n_seeds=n_seeds, n_queries=n_queries, n_tasks=len(tasks),
        seed_sd=float(design["seed_sd"]), query_sd=float(design["query_sd"]),
        alpha=float(design.get("alpha", 0.05)), power=float(design.get("power", 0.8)),
    )  # fmt: skip
    observed = None
    if set(arms[0]) == set(arms[1]):
        observed = noise_components(paired_differences(arms[0], arms[1], tasks))
    return {"n_seeds": n_seeds, "n_tasks": len(tasks), "n_queries": n_queries, "mde": mde,
            "observed_sd": observed}  # fmt: skip


def study_claims(
    claims: Sequence[Mapping], evidence: Mapping[str, Any], design: Mapping, n_resamples: int
) -> list[dict]:
    """Judge a study's claims: a claim whose arms did not run (or share no task) is "not run";
    the others get their minimum detectable effect (``design``) and ``judge_claims``' row.

    Args:
        claims: the config's claims (``validate_claims``).
        evidence: as ``judge_claims``; an arm without evaluations may be absent or empty.
        design: ``{"seed_sd", "query_sd", "power", "alpha"}`` (points; config ``claims.design``).
        n_resamples: bootstrap resamples of a claim that does not set its own.

    Returns:
        ``judge_claims`` rows in claim order, each with ``"design"`` (``claim_design``, None when
        not run), ``"reason"`` and ``"tables"`` (the claim's ``tables``: the paper tables whose
        rows it compares, named in their header on the report page).
    """
    validate_claims(claims)
    rows = []
    for claim in claims:
        c, why = _prepared({"n_resamples": n_resamples, **claim}, evidence)
        tables = list(claim.get("tables", []))
        ev, dropped = paired_seeds(_arms_of(c), evidence) if not why else (evidence, [])
        if not why and not ev["arms"][_arms_of(c)[0]]:
            why = "no seed shared by its arms"
        if why:
            rows.append({"claim": c["name"], "kind": c["kind"], "arms": _arms_of(c),
                         "verdict": NOT_RUN, "reason": why, "gates": [], "components": [],
                         "arm_scores": {}, "design": None, "tables": tables})  # fmt: skip
            continue
        row = judge_claims([c], ev)[0]
        if dropped:  # pairing needs the same seed in every arm: the others are left out
            note = f"seeds {dropped} not in every arm, left out"
            row["reason"] = "; ".join(x for x in (row["reason"], note) if x)
        rows.append({**row, "design": claim_design(c, ev, design), "tables": tables})
    return rows


def paired_seeds(arms: Sequence[str], evidence: Mapping) -> tuple[dict, list]:
    """The evidence restricted to the seeds every arm of ``arms`` has (a paired difference is
    taken within a seed), and the seeds left out (sorted)."""
    seed_sets = [set(evidence["arms"][a]) for a in arms]
    shared, every = set.intersection(*seed_sets), set.union(*seed_sets)
    ev = dict(evidence)
    ev["arms"] = {
        a: {s: v for s, v in per.items() if s in shared} if a in arms else per
        for a, per in evidence["arms"].items()
    }
    ev["rationale_right"] = {
        a: {s: v for s, v in per.items() if s in shared}
        for a, per in evidence.get("rationale_right", {}).items()
    }
    return ev, sorted(every - shared)


def design_table(rows: Sequence[dict], design: Mapping) -> Table:
    """What each claim's design can detect, printed before any verdict."""
    table = Table(
        "Minimum detectable effect (fixed before the run)",
        ["claim", "seeds", "tasks", "queries / task", "MDE (points)", "observed seed sd, query sd"],
        notes=[
            f"Design noise (config claims.design): seed sd {design['seed_sd']} points, per-query "
            f"sd of a paired difference {design['query_sd']} points; two-sided test at "
            f"{design.get('alpha', 0.05)}, power {design.get('power', 0.8)} (normal approximation: "
            "with 2-3 seeds a t quantile would be ~2x larger, so read the MDE as a lower bound). "
            "An effect smaller than the MDE is expected to come out inconclusive."
        ],
    )
    for r in rows:
        d = r.get("design")
        if d is None:
            table.rows.append([r["claim"], None, None, None, None, NOT_RUN])
            continue
        obs = d["observed_sd"]
        seed_part = "— (1 seed)" if obs is None or d["n_seeds"] < 2 else f"{obs[0]:.1f}"
        seen = "—" if obs is None else f"{seed_part}, {obs[1]:.1f}"
        table.rows.append([r["claim"], d["n_seeds"], d["n_tasks"], d["n_queries"], d["mde"], seen])
    return table


def apply_alpha_rule(rule: Mapping, facts: Mapping[str, Any]) -> dict:
    """The α / lr rule written down before the run (issue 12 item 6), applied to this study.

    Args:
        rule: ``{"runs": [run, ...], "keep": float}``: the Table-3 q_self runs, the one nearest
            the paper's 1:10 first; an admissible run keeps training-row rationale answer
            correctness (``<run>.train_answer_correct``, a training-split measure) >= ``keep``.
        facts: the claims' facts (``rge.stages.claims.run_facts`` per base run).

    Returns:
        ``{"keep", "candidates": [{"run", "train_answer_correct", "admissible"}], "pick",
        "headline", "consistent"}``: ``pick`` is the first admissible run (None when none is or
        a number is missing), ``headline`` the rule's first run, ``consistent`` whether they
        agree (None when there is no pick). Evaluation P@1 is never read.
    """
    keep = float(rule["keep"])
    cands = []
    for run in rule["runs"]:
        value = fact(facts, f"{run}.train_answer_correct")
        cands.append({"run": run, "train_answer_correct": value,
                      "admissible": None if value is None else value >= keep})  # fmt: skip
    known = all(c["admissible"] is not None for c in cands)
    pick = next((c["run"] for c in cands if c["admissible"]), None) if known else None
    headline = rule["runs"][0]
    return {"keep": keep, "candidates": cands, "pick": pick, "headline": headline,
            "consistent": None if pick is None else pick == headline}  # fmt: skip


def alpha_rule_markdown(result: Mapping) -> str:
    """The rule's outcome as a short markdown section."""
    lines = ["# α / lr rule (fixed before the run)", "",
             f"Admissible: training-row rationale answer correctness ≥ {result['keep']:.0%} "
             "(the rationales a q_self run wrote for its own training pairs in its last 50 "
             "steps); the pick is the first admissible run, nearest the paper's 1:10 first.", "",
             "| run | train rationale right | admissible |", "|---|---|---|"]  # fmt: skip
    for c in result["candidates"]:
        v = c["train_answer_correct"]
        ok = {True: "yes", False: "no", None: "unknown"}[c["admissible"]]
        lines.append(f"| {c['run']} | {'—' if v is None else f'{100 * v:.1f} %'} | {ok} |")
    if result["pick"] is None:
        outcome = "no run is admissible (or a number is missing): the rule picks none"
    elif result["consistent"]:
        outcome = f"the rule picks `{result['pick']}`, the headline run"
    else:
        outcome = (f"the rule picks `{result['pick']}`, not the headline `{result['headline']}`: "
                   "the headline's claims break the rule (their gate says so)")  # fmt: skip
    return "\n".join([*lines, "", f"Outcome: {outcome}.", ""])
