# Single entry point. `make test` is the README's test command and what CI runs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
SAM_VENV  := .venv-sam
CACHE     ?= $(or $(EKS_WINDOWS_NODES_CACHE),$(HOME)/.cache/eks-windows-nodes)
PY        := $(VENV)/bin/python
REGION    ?= us-east-1
export EKS_WINDOWS_NODES_CACHE := $(CACHE)
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# The local cloud listens on loopback: never reached through a proxy the machine may have set.
comma := ,
export NO_PROXY := $(if $(NO_PROXY),$(NO_PROXY)$(comma))127.0.0.1,localhost
export no_proxy := $(NO_PROXY)

.PHONY: help venv sam-venv control-plane botocore-data lint typecheck imports pytest sam-validate sam-build test demo lock clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements/dev.txt pyproject.toml
	@echo "==> creating $(VENV) (python3.13, pinned dependencies)"
	@py=$$(scripts/find-python313) && rm -rf $(VENV) && "$$py" -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r requirements/dev.txt
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

$(SAM_VENV)/.installed: requirements/sam.txt
	@echo "==> creating $(SAM_VENV) (aws-sam-cli pins its own boto3, so it lives apart)"
	@py=$$(scripts/find-python313) && rm -rf $(SAM_VENV) && "$$py" -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet -r requirements/sam.txt
	@touch $@

venv: $(VENV)/.installed  ## create the project venv (.venv) when missing or stale
sam-venv: $(SAM_VENV)/.installed  ## create the aws-sam-cli tool venv (.venv-sam)

# The trimmed botocore models the layer carries (winnodes/adapters/botocore_data.py); the tests
# run against them so a missing operation fails here, not in Lambda.
BOTOCORE_DATA := layers/winnodes/winnodes/adapters/botocore-data
$(BOTOCORE_DATA)/endpoints.json: layers/winnodes/winnodes/adapters/botocore_data.py $(VENV)/.installed
	$(PY) -m winnodes.adapters.botocore_data $(BOTOCORE_DATA)

botocore-data: $(BOTOCORE_DATA)/endpoints.json  ## trimmed botocore models for the tests

control-plane:  ## build the local kube-apiserver once into the cache (~10 min the first time)
	@bash localcloud/build-control-plane.sh >/dev/null

lint: venv  ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv  ## mypy --strict on winnodes, localcloud, tests and bench
	$(VENV)/bin/mypy

imports: venv  ## import-linter contracts (only adapters import boto3/kubernetes)
	$(VENV)/bin/lint-imports

pytest: venv control-plane botocore-data  ## unit, functional and integration tests
	@command -v kubectl >/dev/null || { echo "error: kubectl not found: the drain and local-cloud \
	tests run it (Debian: apt-get install kubernetes-client)" >&2; exit 1; }
	@scripts/run-pytest $(VENV)/bin/python $(PYTEST_ARGS)

sam-validate: sam-venv  ## sam validate --lint (offline)
	$(SAM_VENV)/bin/sam validate --lint --region $(REGION)

sam-build: sam-venv  ## sam build (python3.13 found via scripts/find-python313)
	@py=$$(scripts/find-python313) && PATH="$$(dirname $$py):$$PATH" PYTHON="$$py" $(SAM_VENV)/bin/sam build --region $(REGION)

test: lint typecheck imports pytest sam-validate sam-build  ## everything CI runs
	@echo "==> all checks passed"

demo: venv control-plane botocore-data  ## the main job on the local cloud, narrated (DEMO_ARGS="--help")
	@echo "==> demo: a managed Windows node group joins, runs a workload and drains, on the local cloud"
	@$(PY) -m localcloud demo $(DEMO_ARGS)

lock:  ## re-resolve the pinned files from the top-level requirements
	@scripts/lock

clean:  ## remove venvs and build output (the control-plane cache stays)
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .mypy_cache .ruff_cache .hypothesis .import_linter_cache \
		$(BOTOCORE_DATA)
