"""rge.launch: node lists, topology and the command built for a given SLURM environment."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rge.launch import ROLE_VAR, expand_nodelist, gpus_on_node, plan, rendezvous_port, topology

PY = "/env/bin/python"
STAGE = ["python", "-m", "rge.stages.train_run", "--cfg", "{}", "--log", "x.log"]


def slurm_env(nodes: int, gpus: int, nodelist: str, **extra: str) -> dict[str, str]:
    """The variables SLURM sets in a job step of `nodes` nodes with `gpus` GPUs each."""
    env = {
        "SLURM_JOB_ID": "4242",
        "SLURM_JOB_NUM_NODES": str(nodes),
        "SLURM_NNODES": "1",  # the step Snakemake's job runs in spans one node
        "SLURM_JOB_NODELIST": nodelist,
        "SLURM_NODEID": "0",
        "SLURM_GPUS_ON_NODE": str(gpus),
        "CUDA_VISIBLE_DEVICES": ",".join(map(str, range(gpus))),
        "SLURM_CPUS_PER_TASK": "16",
    }
    return {**env, **extra}


@pytest.mark.parametrize(
    ("nodelist", "hosts"),
    [
        ("vm", ["vm"]),
        ("gpu[01-04]", ["gpu01", "gpu02", "gpu03", "gpu04"]),
        ("a1,b[2-3]", ["a1", "b2", "b3"]),
        ("gpu[08-10,15]", ["gpu08", "gpu09", "gpu10", "gpu15"]),
        ("r[1-2]n[3-4]", ["r1n3", "r1n4", "r2n3", "r2n4"]),
        ("node-a[7],node-b", ["node-a7", "node-b"]),
    ],
)
def test_expand_nodelist(nodelist, hosts):
    assert expand_nodelist(nodelist) == hosts


@pytest.mark.parametrize("bad", ["gpu[01-", "gpu[a-b]", "gpu[4-2]", "", "x]"])
def test_expand_nodelist_rejects_malformed_lists(bad):
    with pytest.raises(ValueError, match="node list"):
        expand_nodelist(bad)


def test_gpus_on_node_falls_back_to_visible_devices():
    assert gpus_on_node({"SLURM_GPUS_ON_NODE": "4", "CUDA_VISIBLE_DEVICES": "0"}) == 4
    assert gpus_on_node({"CUDA_VISIBLE_DEVICES": "0,1,2"}) == 3
    assert gpus_on_node({"CUDA_VISIBLE_DEVICES": ""}) == 0
    assert gpus_on_node({}) == 0


def test_topology_rejects_a_nodelist_that_disagrees_with_the_node_count():
    with pytest.raises(ValueError, match="names 2 hosts, but the job has 4 nodes"):
        topology(slurm_env(4, 8, "gpu[01-02]"))


def test_rendezvous_port_is_per_job():
    assert rendezvous_port("4242") == 24242
    assert rendezvous_port("1234567") == 24567
    assert rendezvous_port("") == 20000


def test_no_slurm_on_a_cpu_runs_the_command_itself():
    launch = plan({"CUDA_VISIBLE_DEVICES": ""}, STAGE, python=PY)
    assert (launch.kind, launch.argv, launch.env) == ("direct", STAGE, {})


def test_one_node_one_gpu_runs_the_command_itself():
    launch = plan(slurm_env(1, 1, "gpu07"), STAGE, python=PY)
    assert (launch.kind, launch.argv) == ("direct", STAGE)


def test_one_node_eight_gpus_runs_torchrun_on_this_host():
    launch = plan(slurm_env(1, 8, "gpu07"), STAGE, python=PY)
    assert launch.kind == "torchrun"
    assert launch.argv == [
        PY, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "8",
        "--rdzv-backend", "c10d", "--rdzv-endpoint", "localhost:24242", "--rdzv-id", "rge-4242",
        "--rdzv-conf", "is_host=true",
        "-m", "rge.stages.train_run", "--cfg", "{}", "--log", "x.log",
    ]  # fmt: skip


def test_four_nodes_first_start_one_launcher_per_node():
    launch = plan(slurm_env(4, 8, "gpu[01-04]"), STAGE, python=PY)
    assert launch.kind == "srun"
    assert launch.argv == [
        "srun", "--overlap", "--nodes", "4", "--ntasks", "4", "--ntasks-per-node", "1",
        "--kill-on-bad-exit=1", "--cpus-per-task", "16",
        PY, "-m", "rge.launch", "--", *STAGE,
    ]  # fmt: skip
    assert launch.env == {ROLE_VAR: "node"}


@pytest.mark.parametrize(("node_id", "is_host"), [("0", "true"), ("3", "false")])
def test_four_nodes_then_each_node_runs_torchrun(node_id, is_host):
    env = slurm_env(4, 8, "gpu[01-04]", SLURM_NODEID=node_id, SLURM_NNODES="4")
    launch = plan({**env, ROLE_VAR: "node"}, STAGE, python=PY)
    assert launch.kind == "torchrun"
    assert launch.argv == [
        PY, "-m", "torch.distributed.run", "--nnodes", "4", "--nproc-per-node", "8",
        "--rdzv-backend", "c10d", "--rdzv-endpoint", "gpu01:24242", "--rdzv-id", "rge-4242",
        "--rdzv-conf", f"is_host={is_host}",
        "-m", "rge.stages.train_run", "--cfg", "{}", "--log", "x.log",
    ]  # fmt: skip


def test_non_module_commands_run_with_no_python():
    launch = plan(slurm_env(1, 2, "n1"), ["python", "-c", "print(1)"], python=PY)
    assert launch.argv[-4:] == ["--no-python", "python", "-c", "print(1)"]
    launch = plan(slurm_env(1, 2, "n1"), ["python3", "train.py", "--x"], python=PY)
    assert launch.argv[-2:] == ["train.py", "--x"] and "--no-python" not in launch.argv


def test_empty_command_is_an_error():
    with pytest.raises(ValueError, match="no command"):
        plan({}, [], python=PY)


def test_cli_print_and_direct_exec():
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env["CUDA_VISIBLE_DEVICES"] = ""
    cmd = [sys.executable, "-m", "rge.launch"]
    shown = subprocess.run([*cmd, "--print", "--", "python", "-m", "x"], env=env,
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert shown.stdout.strip() == "direct: python -m x"
    ran = subprocess.run([*cmd, "--", sys.executable, "-c", "import sys; sys.exit(3)"], env=env,
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert ran.returncode == 3  # exec: the command's own exit status


@pytest.mark.slow
def test_torchrun_sets_what_rge_train_distributed_reads(tmp_path):
    """Two CPU workers through the real torchrun: RANK / WORLD_SIZE / LOCAL_RANK as world() expects."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env["CUDA_VISIBLE_DEVICES"] = "0,1"  # two 'GPUs' -> torchrun with 2 processes (on the CPU)
    # each worker writes its own file: two processes sharing one stdout pipe can lose a line
    code = ("import sys; from pathlib import Path; from rge.train.distributed import world; "
            "w = world(); Path(sys.argv[1], f'rank{w[0]}').write_text(' '.join(map(str, w)))")  # fmt: skip
    cmd = [sys.executable, "-m", "rge.launch", "--", sys.executable, "-c", code, str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    worlds = sorted(f.read_text().split() for f in tmp_path.glob("rank*"))
    assert worlds == [["0", "2", "0"], ["1", "2", "1"]]
