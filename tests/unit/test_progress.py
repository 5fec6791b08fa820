"""rge.progress: bars that two jobs can share a terminal with (issue 14, console)."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from rge import progress


def test_mode_reads_env_and_names_a_bad_value():
    assert progress.mode({}) == "bar"
    assert progress.mode({"RGE_PROGRESS": "lines"}) == "lines"
    with pytest.raises(ValueError, match="RGE_PROGRESS='line'"):
        progress.mode({"RGE_PROGRESS": "line"})


def test_line_stream_makes_each_redraw_one_line():
    out = io.StringIO()
    stream = progress.LineStream(out)
    for text in ("\rjob a:  10%", "\r   \r", "\rjob a:  50%", "\n"):
        stream.write(text)
    assert out.getvalue() == "job a:  10%\njob a:  50%\n"


def test_lines_mode_bar_prints_whole_lines_with_its_name(monkeypatch, capsys):
    monkeypatch.setenv("RGE_PROGRESS", "lines")
    b = progress.bar(4, "train_run rge")
    for _ in range(4):
        b.update(1)
        b.set_postfix(loss="1.0000")
    b.close()
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert lines and all(line.startswith("train_run rge:") for line in lines)
    assert "4/4" in lines[-1]


def _job(name: str) -> str:
    # a job that updates its bar often; mininterval 0 so every update prints
    return (
        "import time\nfrom rge import progress\nprogress.LINES_INTERVAL = 0\n"
        f"b = progress.bar(30, {name!r})\n"
        "for _ in range(30):\n    b.update(1); time.sleep(0.005)\nb.close()\n"
    )


def test_two_jobs_on_one_stream_never_mix_within_a_line(tmp_path):
    """Two processes writing to one file (one terminal): every line belongs to one job."""
    log = tmp_path / "terminal.txt"
    env = {"RGE_PROGRESS": "lines", "PYTHONPATH": ":".join(sys.path)}
    with open(log, "w") as fh:
        procs = [
            subprocess.Popen([sys.executable, "-c", _job(n)], stderr=fh, env=env)
            for n in ("train_run a", "train_run b")
        ]
        assert [p.wait(timeout=120) for p in procs] == [0, 0]
    lines = log.read_text().splitlines()
    assert "\r" not in log.read_text()
    assert {ln.split(":")[0] for ln in lines} == {"train_run a", "train_run b"}
    assert {ln.split(":")[0] for ln in lines if "30/30" in ln} == {"train_run a", "train_run b"}


def test_lines_mode_is_rate_limited_like_the_training_loop_uses_it(monkeypatch, capsys):
    """The loop sets the loss without a forced redraw, then updates: in lines mode a fast
    50-step run prints its first and last state, not a line per step."""
    monkeypatch.setenv("RGE_PROGRESS", "lines")
    b = progress.bar(50, "train_run rge")
    for step in range(50):
        b.set_postfix(loss=f"{1 / (step + 1):.4f}", refresh=False)
        b.update(1)
    b.close()
    lines = capsys.readouterr().err.splitlines()
    assert 1 <= len(lines) <= 3, lines
    assert "50/50" in lines[-1] and "loss=0.0200" in lines[-1]
