"""Launch a training stage from inside its (SLURM) job: directly, with torchrun, or per node.

    python -m rge.launch [--print] -- python -m rge.stages.train_run --cfg ... --log ...

What runs is decided from the environment only (``plan``), so the same rule ``shell:`` works
on a laptop, on one GPU node and on several nodes:

* no SLURM, or 1 node with at most 1 GPU: the command itself (``exec``; the embedded study on a
  CPU runs exactly as without the launcher);
* 1 node with G > 1 GPUs: ``torchrun --nnodes 1 --nproc-per-node G`` with a c10d rendezvous on
  this host;
* N > 1 nodes: the Snakemake job runs on the first node only, so the launcher first starts one
  copy of itself per node (``srun --overlap --nodes N --ntasks-per-node 1``); each copy then
  runs ``torchrun --nnodes N --nproc-per-node G`` with the rendezvous on the first node of the
  allocation. torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT for each
  worker (``rge.train.distributed.world`` reads them).

SLURM variables read: SLURM_JOB_NUM_NODES (else SLURM_NNODES), SLURM_JOB_NODELIST (else
SLURM_NODELIST), SLURM_NODEID, SLURM_GPUS_ON_NODE (else the entries of CUDA_VISIBLE_DEVICES),
SLURM_JOB_ID (rendezvous id and port), SLURM_CPUS_PER_TASK (CPUs of each per-node task).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# Set in the per-node copies started by srun, so they run torchrun instead of srun again.
ROLE_VAR = "RGE_LAUNCH_ROLE"
PORT_BASE = 20000  # rendezvous port = PORT_BASE + job id mod PORT_SPAN (one port per job)
PORT_SPAN = 10000


@dataclass(frozen=True)
class Topology:
    """Where the job runs: node count, this node's index, the first node, GPUs on this node."""

    nodes: int
    node_id: int
    master: str
    gpus_per_node: int
    job_id: str
    cpus_per_task: int | None = None


@dataclass(frozen=True)
class Plan:
    """The command to exec and the variables to add to its environment."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    kind: str = "direct"  # direct | torchrun | srun


def expand_nodelist(nodelist: str) -> list[str]:
    """Host names of a SLURM node list, in order: ``gpu[01-03,07],cpu5`` -> gpu01 .. cpu5.

    Handles comma-separated entries, one or more bracketed ranges per name (``r[1-2]n[3-4]``)
    and zero padding (``gpu[08-10]``). Raises ValueError naming the list when it is malformed.
    """
    # We parse the list ourselves instead of calling ``scontrol show hostnames``: the launcher
    # must work where scontrol is absent (tests, a copied environment), and only the first host
    # (the rendezvous) and the count (a check against SLURM_JOB_NUM_NODES) are needed.
    hosts: list[str] = []
    for entry in _split_top_level(nodelist.strip(), nodelist):
        hosts.extend(_expand_entry(entry, nodelist))
    if not hosts:
        raise ValueError(f"SLURM node list {nodelist!r} is empty")
    return hosts


def _split_top_level(text: str, whole: str) -> list[str]:
    """Split on commas outside brackets."""
    # Commas mean two things: between hosts (``a[1-2],b``) and between ranges inside one
    # bracket (``a[1,3-4]``); only depth-0 commas separate entries. SLURM never nests
    # brackets, so depth 2 is an error rather than something to support.
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        if depth not in (0, 1):
            raise ValueError(f"SLURM node list {whole!r}: unbalanced brackets")
    if depth:
        raise ValueError(f"SLURM node list {whole!r}: unbalanced brackets")
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _expand_entry(entry: str, whole: str) -> list[str]:
    """Expand the first bracket group of one entry, recursively for the rest."""
    # head[ranges]tail: the tail may hold further groups (``r[1-2]n[3-4]`` is the cartesian
    # product r1n3, r1n4, r2n3, r2n4, first group outermost).
    m = re.match(r"^([^\[\]]*)\[([^\[\]]+)\](.*)$", entry)
    if not m:
        if "[" in entry or "]" in entry:
            raise ValueError(f"SLURM node list {whole!r}: cannot parse {entry!r}")
        return [entry]
    head, ranges, tail = m.groups()
    out = []
    for item in ranges.split(","):
        for number in _expand_range(item.strip(), whole):
            out.extend(head + number + rest for rest in _expand_entry(tail, whole) or [""])
    return out


def _expand_range(item: str, whole: str) -> list[str]:
    """``07`` -> [07]; ``08-10`` -> [08, 09, 10] (width of the lower bound kept)."""
    m = re.fullmatch(r"(\d+)(?:-(\d+))?", item)
    if not m:
        raise ValueError(f"SLURM node list {whole!r}: bad range {item!r}")
    lo, hi = m.group(1), m.group(2) or m.group(1)
    if int(hi) < int(lo):
        raise ValueError(f"SLURM node list {whole!r}: range {item!r} runs backwards")
    # The digits are compared as numbers but written with the lower bound's width: host names
    # are strings, and ``gpu[08-10]`` means gpu08 gpu09 gpu10 (a wider number is not cut).
    return [str(n).zfill(len(lo)) for n in range(int(lo), int(hi) + 1)]


def _int(env: Mapping[str, str], *names: str) -> int | None:
    """The first of ``names`` set in ``env``, as an int (ValueError names a bad value)."""
    for name in names:
        value = env.get(name, "").strip()
        if value:
            m = re.match(r"^(\d+)", value)  # SLURM_CPUS_PER_TASK may read "16(x4)"
            if not m:
                raise ValueError(f"environment: {name}={value!r} is not an integer")
            return int(m.group(1))
    return None


def gpus_on_node(env: Mapping[str, str]) -> int:
    """GPUs visible on this node: SLURM_GPUS_ON_NODE, else the CUDA_VISIBLE_DEVICES entries."""
    count = _int(env, "SLURM_GPUS_ON_NODE")
    if count is not None:
        return count
    visible = env.get("CUDA_VISIBLE_DEVICES", "").strip()
    return len([d for d in visible.split(",") if d.strip()]) if visible else 0


def topology(env: Mapping[str, str]) -> Topology:
    """The job's topology from SLURM's variables (1 local node when SLURM_JOB_ID is unset)."""
    gpus = gpus_on_node(env)
    job_id = env.get("SLURM_JOB_ID", "").strip()
    if not job_id:
        return Topology(nodes=1, node_id=0, master="127.0.0.1", gpus_per_node=gpus, job_id="")
    nodes = _int(env, "SLURM_JOB_NUM_NODES", "SLURM_NNODES") or 1
    nodelist = env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST") or ""
    if not nodelist.strip():
        raise ValueError("environment: SLURM_JOB_ID is set but SLURM_JOB_NODELIST is not")
    hosts = expand_nodelist(nodelist)
    if len(hosts) != nodes:
        raise ValueError(
            f"environment: SLURM_JOB_NODELIST={nodelist!r} names {len(hosts)} hosts, "
            f"but the job has {nodes} nodes"
        )
    return Topology(
        nodes=nodes,
        node_id=_int(env, "SLURM_NODEID") or 0,
        master=hosts[0],
        gpus_per_node=gpus,
        job_id=job_id,
        cpus_per_task=_int(env, "SLURM_CPUS_PER_TASK"),
    )


def rendezvous_port(job_id: str, base: int = PORT_BASE) -> int:
    """A port per job (several jobs may share a node): base + job id mod 10000."""
    digits = re.sub(r"\D", "", job_id)
    return base + (int(digits) % PORT_SPAN if digits else 0)


def torchrun_command(
    topo: Topology, command: Sequence[str], *, python: str, port_base: int = PORT_BASE
) -> list[str]:
    """``python -m torch.distributed.run`` (torchrun) for ``command`` on this node.

    ``python -m MODULE ...`` and ``python SCRIPT ...`` become torchrun's own module/script
    arguments (workers start with torchrun's interpreter); anything else (another program, or
    python with options such as ``-c``) runs as given, with ``--no-python``.
    """
    nproc = max(topo.gpus_per_node, 1)
    host = topo.master if topo.nodes > 1 else "localhost"
    run_id = topo.job_id or "local"
    argv = [
        python, "-m", "torch.distributed.run",
        "--nnodes", str(topo.nodes),
        "--nproc-per-node", str(nproc),
        "--rdzv-backend", "c10d",
        "--rdzv-endpoint", f"{host}:{rendezvous_port(topo.job_id, port_base)}",
        "--rdzv-id", f"rge-{run_id}",
        # The first node hosts the rendezvous store, whatever its host name resolves to.
        "--rdzv-conf", f"is_host={'true' if topo.node_id == 0 else 'false'}",
    ]  # fmt: skip
    if _is_python(command[0]) and len(command) > 1:
        if command[1] == "-m" and len(command) > 2:
            return argv + list(command[1:])
        if not command[1].startswith("-"):
            return argv + list(command[1:])
    return argv + ["--no-python", *command]


def srun_command(topo: Topology, command: Sequence[str], *, python: str) -> list[str]:
    """One launcher per node of the allocation (the Snakemake job itself runs on one node).

    ``--overlap``: the new step shares the resources of the step the Snakemake job runs in;
    no ``--gres``: the step gets every GPU the job holds on each node (SLURM's default).
    """
    argv = [
        "srun", "--overlap",
        "--nodes", str(topo.nodes),
        "--ntasks", str(topo.nodes),
        "--ntasks-per-node", "1",
        "--kill-on-bad-exit=1",
    ]  # fmt: skip
    if topo.cpus_per_task:
        argv += ["--cpus-per-task", str(topo.cpus_per_task)]
    return argv + [python, "-m", "rge.launch", "--", *command]


def plan(
    env: Mapping[str, str],
    command: Sequence[str],
    *,
    python: str = sys.executable,
    port_base: int = PORT_BASE,
) -> Plan:
    """What to exec for ``command`` given the environment ``env`` (pure: nothing is run)."""
    if not command:
        raise ValueError("rge.launch: no command given (usage: python -m rge.launch -- CMD ...)")
    topo = topology(env)
    if topo.nodes > 1 and env.get(ROLE_VAR) != "node":
        return Plan(srun_command(topo, command, python=python), {ROLE_VAR: "node"}, "srun")
    if topo.nodes == 1 and topo.gpus_per_node <= 1:
        return Plan(list(command), {}, "direct")
    return Plan(torchrun_command(topo, command, python=python, port_base=port_base), {}, "torchrun")


def _is_python(program: str) -> bool:
    return re.fullmatch(r"python(\d+(\.\d+)?)?", os.path.basename(program)) is not None


def main(argv: Sequence[str] | None = None) -> None:
    """CLI: plan from ``os.environ`` and exec it (``--print``: print the command line only)."""
    parser = argparse.ArgumentParser(
        prog="python -m rge.launch", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--print", action="store_true", help="print the command, do not run it")
    parser.add_argument("--port-base", type=int, default=PORT_BASE, help="rendezvous port base")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    try:
        launch = plan(os.environ, command, port_base=args.port_base)
    except ValueError as err:
        parser.error(str(err))
    line = shlex.join(launch.argv)
    if args.print:
        print(f"{launch.kind}: {line}")
        return
    print(f"rge.launch ({launch.kind}): {line}", file=sys.stderr, flush=True)
    os.execvpe(launch.argv[0], launch.argv, {**os.environ, **launch.env})


if __name__ == "__main__":
    main()
