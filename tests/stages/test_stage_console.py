"""What a stage prints: one config line on the terminal (JSON in the log file), one line on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rge.stages._cli import apply_thread_policy, stage_main

BIG = {"train": {f"key_{i}": i for i in range(300)}, "run": "rge"}


def _fake_run(cfg, inputs, outputs):
    return {"keys": len(cfg)}


_fake_run.__module__ = "rge.stages.fake_rule"


def _interrupted(cfg, inputs, outputs):
    raise KeyboardInterrupt


_interrupted.__module__ = "rge.stages.fake_rule"


def test_config_is_one_line_on_stderr_and_whole_in_the_log(tmp_path, capsys):
    log = tmp_path / "logs" / "job.log"
    argv = ["--cfg", json.dumps(BIG), "--output", f"out={tmp_path / 'o'}", "--log", str(log)]
    assert stage_main(_fake_run, argv) == {"keys": 2}
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and len(err[0]) < 200, err
    assert "fake_rule: config of 2 keys" in err[0] and str(log) in err[0]
    text = log.read_text()
    config_line = next(x for x in text.splitlines() if " config: " in x)
    assert json.loads(config_line.split(" config: ", 1)[1]) == BIG
    assert "python -m rge.stages.fake_rule --cfg" in text  # the command, to rerun the job


def test_a_partial_of_run_is_named_by_its_stage(tmp_path, capsys):
    """Stages that inject loaders pass ``functools.partial(run, ...)``: the log must still name
    the stage and print a command that reruns it (not ``python -m functools``)."""
    from functools import partial

    log = tmp_path / "job.log"
    stage_main(partial(_fake_run), ["--cfg", "{}", "--log", str(log)])
    assert "fake_rule: config of 0 keys" in capsys.readouterr().err
    assert "python -m rge.stages.fake_rule --cfg" in log.read_text()


def test_keyboard_interrupt_is_one_line_and_exit_130(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        stage_main(_interrupted, ["--cfg", "{}", "--log", str(tmp_path / "j.log")])
    assert exc.value.code == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "fake_rule: interrupted (Ctrl-C)"
    assert len(err) == 2 and "Traceback" not in "\n".join(err)


def test_sigint_to_a_running_stage_prints_one_line(tmp_path):
    (tmp_path / "slow_rule.py").write_text(
        textwrap.dedent("""
        import sys, time
        from rge.stages._cli import stage_main

        def run(cfg, inputs, outputs):
            print("ready", flush=True)
            time.sleep(60)

        stage_main(run, sys.argv[1:])
    """)
    )
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{src}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "slow_rule", "--cfg", json.dumps(BIG)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    lines = err.strip().splitlines()
    assert lines[-1] == "slow_rule: interrupted (Ctrl-C)"
    assert len(lines) == 2 and "Traceback" not in err, err


def test_deepspeed_cpu_accelerator_notice_is_dropped_on_cpu(tmp_path):
    pytest.importorskip("deepspeed")
    (tmp_path / "ds_rule.py").write_text(
        textwrap.dedent("""
        import logging, sys
        from rge.stages._cli import stage_main

        def run(cfg, inputs, outputs):
            from deepspeed.accelerator import get_accelerator
            print("accelerator", get_accelerator().device_name(), flush=True)
            logging.getLogger("DeepSpeed").warning("another DeepSpeed warning")

        stage_main(run, sys.argv[1:])
    """)
    )
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{src}", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("DS_ACCELERATOR", None)
    out = subprocess.run(
        [sys.executable, "-m", "ds_rule"], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "accelerator cpu" in out.stdout
    assert "Setting accelerator to CPU" not in out.stdout + out.stderr
    assert "another DeepSpeed warning" in out.stdout  # only that one notice is filtered


def test_thread_policy_fills_defaults_and_keeps_the_users_choice():
    env = {"OMP_NUM_THREADS": "2"}
    assert apply_thread_policy(env) == {"OMP_WAIT_POLICY": "PASSIVE"}
    assert env == {"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"}
    mine = {"OMP_WAIT_POLICY": "ACTIVE"}
    assert apply_thread_policy(mine) == {} and mine == {"OMP_WAIT_POLICY": "ACTIVE"}


def test_stage_that_imports_torch_lazily_runs_under_the_policy(tmp_path):
    (tmp_path / "lazy_rule.py").write_text(
        textwrap.dedent("""
        import os, sys
        from rge.stages._cli import stage_main

        def run(cfg, inputs, outputs):
            print(os.environ["OMP_WAIT_POLICY"], "torch" in sys.modules, flush=True)

        stage_main(run, sys.argv[1:])
    """)
    )
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{src}"}
    env.pop("OMP_WAIT_POLICY", None)
    out = subprocess.run(
        [sys.executable, "-m", "lazy_rule"], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.stdout.split() == ["PASSIVE", "False"], out.stderr


def test_run_table_files_without_train_summaries_when_every_row_is_seeded(tmp_path):
    """Table 4 of the embedded study has only seeded rows: their training facts come from the
    pool_seeds summaries, so the rule passes no train_summary (the study's first run failed)."""
    from rge.stages._cli import Paths, run_table_files

    inputs = Paths(summary=[tmp_path / "a.json", tmp_path / "b.json"], probe=tmp_path / "p.json",
                   paper=tmp_path / "t.csv")  # fmt: skip
    files = run_table_files(inputs)
    assert files["train_summaries"] == [] and len(files["summaries"]) == 2
    inputs["train_summary"] = tmp_path / "s.json"
    assert run_table_files(inputs)["train_summaries"] == [tmp_path / "s.json"]
