"""A stand-in for conda, for CI only: exactly the calls Snakemake 9.27.1 makes with --use-conda.

    conda info --json | conda --version | conda config --get channel_priority --json
    conda env create --quiet --no-default-packages --file ENV.yaml --prefix PREFIX
    conda clean -y --tarballs
    source <conda_prefix>/bin/activate PREFIX        (bin/activate next to bin/conda)

`env create` makes a Python virtual environment at PREFIX and pip-installs the env file's
`pip:` list into it, run from the env file's folder as conda does (relative paths such as
`-e ../..` resolve there). The conda (non-pip) dependencies are only checked: `python=X.Y` must
match the interpreter. To keep CI fast and offline, the new env sees the packages of the
interpreter running this script (RGE_FAKE_CONDA_PYTHON, normally the project's .venv) through a
.pth file, so pip installs only what is missing there, and builds without isolation.
What this proves: env files parse, Snakemake creates and activates the envs and runs the rules
in them. What it does not: that conda can solve and download these environments.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

VERSION = "24.7.1"  # the oldest conda Snakemake 9.27.1 accepts
ROOT = Path(__file__).resolve().parent


def info() -> dict:
    """The keys Snakemake reads from `conda info --json` (conda_prefix, platform), and a few."""
    return {
        "conda_prefix": str(ROOT),
        "root_prefix": str(ROOT),
        "platform": "linux-64",
        "conda_version": VERSION,
        "envs_dirs": [],
        "pkgs_dirs": [],
        "channels": [],
    }


def load_env(path: Path) -> tuple[list[str], list[str]]:
    """(conda specs, pip requirement lines) of an environment file."""
    import yaml

    try:
        env = yaml.safe_load(path.read_text())
        deps = env["dependencies"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as err:
        raise SystemExit(f"fake conda: {path}: not a conda environment file ({err})") from err
    conda = [d for d in deps if isinstance(d, str)]
    pip = [line for d in deps if isinstance(d, dict) for line in d.get("pip", [])]
    return conda, pip


def check_python(specs: list[str], path: Path) -> None:
    """The env's python=X.Y must be the interpreter we build the venv from."""
    have = f"{sys.version_info.major}.{sys.version_info.minor}"
    for spec in specs:
        m = re.fullmatch(r"python\s*=+\s*(\d+\.\d+)(\..*)?", spec.strip())
        if m and m.group(1) != have:
            raise SystemExit(f"fake conda: {path} wants python {m.group(1)}, have {have}")


def create(env_file: Path, prefix: Path) -> None:
    """A venv at ``prefix`` that reuses our packages, then pip install of the env's pip list."""
    specs, pip_lines = load_env(env_file)
    check_python(specs, env_file)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
    purelib = sysconfig.get_paths(vars={"base": str(prefix), "platbase": str(prefix)})["purelib"]
    ours = sysconfig.get_paths()["purelib"]
    # addsitedir (not a plain path line) so the .pth files there (editable installs) load too.
    Path(purelib, "_fake_conda_base.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    if not pip_lines:
        return
    with tempfile.NamedTemporaryFile("w", suffix=".txt", dir=env_file.parent, delete=False) as f:
        f.write("\n".join(pip_lines) + "\n")
    try:
        cmd = [str(prefix / "bin" / "python"), "-m", "pip", "install", "--quiet",
               "--no-build-isolation", "-r", f.name]  # fmt: skip
        subprocess.run(cmd, check=True, cwd=env_file.parent)
    finally:
        os.unlink(f.name)


def option(args: list[str], name: str) -> str:
    if name not in args or args.index(name) + 1 >= len(args):
        raise SystemExit(f"fake conda: {name} is required")
    return args[args.index(name) + 1]


def main(args: list[str]) -> int:
    if args == ["--version"]:
        print(f"conda {VERSION}")
    elif args[:2] == ["info", "--json"]:
        print(json.dumps(info()))
    elif args[:3] == ["config", "--get", "channel_priority"]:
        print(json.dumps({"get": {"channel_priority": "strict"}, "rc_path": None}))
    elif args[:2] == ["env", "create"]:
        create(Path(option(args, "--file")).resolve(), Path(option(args, "--prefix")).resolve())
    elif args[:1] == ["clean"]:
        pass  # no package cache
    else:
        print(f"fake conda: unsupported command: conda {' '.join(args)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
