# Two commands for a fresh machine (README):  make study  |  make test
# Everything runs from the project's own virtual environment (.venv), built from pyproject.toml.

VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all
export PATH := $(abspath $(BIN)):$(PATH)
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install study smoke paper-dry test lint format

install: $(VENV)/.installed

# torch 2.14.1 + torchvision 0.29.1 (a CUDA build that runs on the CPU) make the stock
# Qwen2.5-VL processor work; DS_BUILD_OPS=0 installs DeepSpeed without compiling its ops.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	DS_BUILD_OPS=0 $(BIN)/python -m pip install -q -e '.[train,dvc,dev,slurm]'
	touch $@

study: install  ## the embedded study, end to end (config/config.yaml -> data/embedded/)
	snakemake --cores $(CORES) --workflow-profile workflow/profiles/default

smoke: install  ## the same DAG at the smallest sizes (config/smoke.yaml -> data/smoke/)
	snakemake --cores $(CORES) --workflow-profile workflow/profiles/default --configfile config/smoke.yaml

paper-dry: install  ## print the whole paper DAG (no network, no GPU)
	snakemake -n --configfile config/paper.yaml

lint: install
	ruff check .
	ruff format --check .
	snakemake --lint

test: lint  ## lint, then the whole test suite (slow tests included)
	pytest -q

format: install
	ruff format .
	ruff check --fix .
