# The targets a newcomer would guess. `make demo` and `make test` set everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# checkov pins packages (boto3 among them) that conflict with ours: a venv of its own.
CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION := 3.3.30
CHECKOV_SKIPS := infra/checkov-skips.yaml
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(BIN):$(PATH)

.PHONY: setup demo serve test unit integration fuzz infra-tests emulator-tests e2e lint format typecheck synth checkov bench clean pr

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt functions/requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## The local demo: a healthy canary that promotes and a bad one that reverts, on the emulator.
demo: setup
	$(BIN)/trafficshift local demo

## Keep the emulator running with the control plane deployed (prints its endpoint as JSON).
serve: setup
	$(BIN)/trafficshift local serve

## Everything CI runs: lint, types, cdk synth (with cdk-nag), checkov, and every test suite.
test: setup lint typecheck synth checkov
	$(BIN)/pytest -q -n 2 --dist loadfile

unit: setup
	$(BIN)/pytest -q tests/unit

## Handlers, use cases and adapters against moto's AWS APIs, in-process (no emulator).
integration: setup
	$(BIN)/pytest -q tests/integration

## Hostile-input fuzzer (derandomized); TRAFFICSHIFT_FUZZ_SCALE=10 for ten times the inputs.
fuzz: setup
	$(BIN)/pytest -q tests/fuzz

infra-tests: setup
	$(BIN)/pytest -q tests/infra

emulator-tests: setup
	$(BIN)/pytest -q tests/emulator

e2e: setup
	$(BIN)/pytest -q tests/e2e

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: setup
	$(BIN)/mypy

## Synthesizes with bundling (pip builds the Lambda asset locally, no Docker) and cdk-nag.
synth: setup
	cdk synth --quiet

$(CHECKOV_VENV)/.installed:
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet "checkov==$(CHECKOV_VERSION)"
	touch $@

## checkov on the synthesized template; each skipped check and its reason: $(CHECKOV_SKIPS).
checkov: setup synth $(CHECKOV_VENV)/.installed
	$(CHECKOV_VENV)/bin/checkov --file cdk.out/TrafficShift.template.json \
		--framework cloudformation --compact --quiet --skip-download \
		--skip-check "$$($(CHECKOV_VENV)/bin/python -c 'import sys, yaml; print(",".join(yaml.safe_load(open(sys.argv[1]))))' $(CHECKOV_SKIPS))"

## Every benchmark: workflow overhead, upload latency, 100 rollouts at once under Lambda's
## 15 requests/s control-plane limit, handler import times, the analysis, chaos.
bench: setup
	$(BIN)/python bench/rollout_overhead.py
	$(BIN)/python bench/upload_latency.py
	$(BIN)/python bench/scale.py --rollouts 100 --rate 15
	-$(BIN)/python bench/import_time.py  # over its 150 ms budget today (README, Speed); keep going
	$(BIN)/python bench/analysis.py --rollouts 2000 --seed 1
	-$(BIN)/python bench/chaos.py --rollouts 500 --seed 1  # prints the fault mix and any invariant violation

pr: format test

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache $(CHECKOV_VENV)
