"""The report stage end to end on a fake data tree: every input shows up, optional ones may be absent."""

from __future__ import annotations

import base64
import json
import re

import pytest

from rge.io import read_json, read_jsonl
from rge.stages import report
from tests.fixtures.report_fakes import TASKS, report_argv, write_data_tree
from tests.fixtures.slices import stage_cfg

# the smoke config's report slice over the fake tree's study, runs (labelled) and tasks
CFG = json.dumps(
    stage_cfg(
        "report",
        study="fake",
        runs={"baseline": {"label": "Base"}, "rge": {"label": "RGE-self"}},
        rge_run="rge",  # the smoke slice names its first replicate, rge@0
        tasks={"SynA": {"meta_task": "classification", "split": "IND"}, "SynB": "vqa"},
        examples_per_task=2,
        thumbnail_px=32,
    )
)
# the same slice without runs or tasks: every run ordered by name, every task from its score
BARE = json.dumps(stage_cfg("report", study="fake", runs={}, tasks={}))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    written = write_data_tree(root)
    out = root / "report" / "report.html"
    result = report.main(["--cfg", CFG, *report_argv(root, out)])
    return root, written, result, out.read_text()


def test_header_says_study_commit_and_that_numbers_are_not_the_papers(built):
    _, _, result, html = built
    assert result["left_out"] == []
    assert "Study <code>fake</code>" in html
    assert re.search(r"git commit <code>([0-9a-f]{40}( \+ local changes)?|unknown)</code>", html)
    assert "they are not the paper&#x27;s numbers" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing loaded from a network


def test_every_table_and_figure4_are_embedded(built):
    root, _, _, html = built
    assert "<h3>Table 9: fake table</h3>" in html and "<td>baseline | direct</td>" in html
    assert '<tr class="ref"><td>paper (reference only)</td>' in html
    fig = base64.b64encode((root / "figure4" / "figure4.png").read_bytes()).decode()
    assert f"data:image/png;base64,{fig}" in html


def test_the_claims_come_first_design_before_verdicts(built):
    _, _, result, html = built
    assert result["sections"][0] == "claims"
    mde = html.index("<h3>Minimum detectable effect (fixed before the run)</h3>")
    verdicts = html.index("<h3>Claims judged by criteria fixed before the run</h3>")
    assert mde < verdicts < html.index("<h3>Table 9: fake table</h3>")
    assert "<td>inconclusive</td>" in html
    # the table whose rows a claim compares names it (and its verdict) under its title
    assert (
        "<h3>Table 9: fake table</h3>\n<p><b>Claims this table tests:</b> RGE &gt; baseline "
        "(inconclusive)</p>" in html
    )
    assert "alpha ordering" not in html.split("<h3>Table 9")[1]  # no table3 on this page


def test_the_rationale_probe_per_run(built):
    _, _, _, html = built
    section = html.split('id="rationale_probe"')[1]
    assert "<td>RGE-self</td><td>reasoning</td><td>2</td><td>75.0</td><td>50.0</td>" in section
    assert "<td>80.0</td><td>20.0</td>" in section


def test_a_curve_per_run_and_the_contrastive_overlay(built):
    _, _, _, html = built
    captions = re.findall(r"<figcaption>([^<]*)</figcaption>", html)
    assert [c.split(":")[0] for c in captions] == [
        "Figure 4", "Base", "RGE-self", "cold_start", "contrastive loss of every run",
    ]  # fmt: skip
    assert "Base: objective baseline, init backbone, 30 steps" in captions
    assert "cold_start: objective lm, init backbone, 20 steps" in captions


def test_probe_and_infonce_lines(built):
    root, _, _, html = built
    section = html.split('id="diagnostics"')[1].split("</section>")[0]
    assert "<td>0.970</td><td>0.930</td>" in section  # the probe's attribute accuracies
    for run, label in (("baseline", "Base"), ("rge", "RGE-self")):
        s = read_json(root / "train_run" / run / "summary.json")
        row = re.search(rf"<tr><td>{label}</td>(.*?)</tr>", section).group(1)
        assert f"<td>{s['final_con']:.3f}</td><td>{s['ln_batch']:.3f}</td>" in row
        assert "sees and learned" in row and "<td>0.930</td>" in row
    assert "no contrastive term" in re.search(r"<tr><td>cold_start</td>(.*?)</tr>", section)[1]


def test_rationale_statistics_match_the_scores(built):
    root, _, _, html = built
    section = html.split('id="rationales"')[1].split("</section>")[0]
    scores = [read_json(root / "embed_eval" / "rge" / "reasoning" / f"{t}.json") for t in TASKS]
    n = sum(s["num_rationales"] for s in scores)
    mean = sum(s["mean_rationale_tokens"] * s["num_rationales"] for s in scores) / n
    forced = sum(s["forced_emb_rate"] * s["num_rationales"] for s in scores) / n
    row = re.search(
        r"<tr><td>RGE-self</td><td>reasoning-direct</td><td>all</td>(.*?)</tr>", section
    )
    assert f"<td>{n}</td><td>{mean:.2f}</td><td>{forced:.2f}</td>" in row.group(1)
    assert "Base" not in section  # direct mode has no rationales


def test_examples_show_rationale_and_both_runs_marked(built):
    root, _, _, html = built
    section = html.split('id="examples"')[1].split("</section>")[0]
    assert "<h3>classification</h3>" in section and "<h3>vqa</h3>" in section
    rows = re.findall(r"<tr><td>(Syn\w+/\d+)</td>(.*?)</tr>", section)
    assert len(rows) == 2 * len(TASKS)
    for key, cells in rows:
        task, idx = key.split("/")
        rats = read_jsonl(root / "embed_eval" / "rge" / "reasoning" / f"{task}.rationales.jsonl")
        rationale = next((r["rationale"] for r in rats if r["key"] == key), "–")
        assert f"<td>{rationale}</td>" in cells
        marks = re.findall(r"(✓ correct|✗ wrong)</span> \(candidate (\d+)\)", cells)
        expected = []
        for run, mode in (("baseline", "direct"), ("rge", "reasoning")):
            preds = read_jsonl(root / "embed_eval" / run / mode / f"{task}.predictions.jsonl")
            p = next(r for r in preds if r["key"] == key)
            expected.append(("✓ correct" if p["correct"] else "✗ wrong", str(p["pred"])))
        assert marks == expected
        assert cells.count('class="thumb"') == 1  # the query image; candidates are text


def test_embed_eval_folders_give_the_same_page(built, tmp_path):
    root, _, _, html = built
    out = tmp_path / "dirs.html"
    report.main(["--cfg", CFG, *report_argv(root, out, eval_dirs=True)])
    undated = [re.sub(r"generated [^·]*·", "", h) for h in (html, out.read_text())]
    assert undated[0] == undated[1]
    bad = ["--input", f"embed_eval={root / 'table9' / 'table9.md'}", "--output", f"report={out}"]
    with pytest.raises(NotADirectoryError, match="table9.md"):
        report.main(["--cfg", CFG, *bad])


def test_missing_optional_inputs_are_left_out(tmp_path):
    write_data_tree(tmp_path)
    out = tmp_path / "r.html"
    result = report.main(["--cfg", BARE, *report_argv(tmp_path, out, optional=False)])
    left_out = ["Claims", "Figure 4", "Rationale statistics", "Rationale probe", "Examples"]
    assert result["left_out"] == left_out
    html = out.read_text()
    assert f"Left out (no input): {', '.join(left_out)}" in html
    assert "Table 9: fake table" in html and "no probe given" in html
    empty = report.main(["--cfg", BARE, "--output", f"report={tmp_path / 'e.html'}"])
    assert empty["sections"] == [] and (tmp_path / "e.html").is_file()


def test_config_without_study_raises(tmp_path):
    with pytest.raises(KeyError, match="study"):
        no_study = {k: v for k, v in stage_cfg("report").items() if k != "study"}
        report.main(["--cfg", json.dumps(no_study), "--output", f"report={tmp_path / 'x.html'}"])
    assert not (tmp_path / "x.html").exists()


def test_the_page_gets_the_users_umask_mode(built, tmp_path):
    """Shared with collaborators as the user's umask says (0664 under 002), never forced."""
    import os

    root = built[0]
    out = tmp_path / "report.html"
    old = os.umask(0o002)
    try:
        report.main(["--cfg", CFG, *report_argv(root, out)])
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o664
