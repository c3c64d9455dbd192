# Two commands: `make run` starts the whole stack, `make test` runs the whole test suite.
# `make web` starts the same stack with the browser page in place of the Discord bot.
CONFIG ?= config.yaml
PYTHON ?= python3

.PHONY: run test lint bench judge web

run:
	@CONFIG="$(CONFIG)" PYTHON="$(PYTHON)" ./scripts/run.sh

web:
	@CONFIG="$(CONFIG)" PYTHON="$(PYTHON)" SURFACE=web ./scripts/run.sh

test:
	@PYTHON="$(PYTHON)" ./scripts/test.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

bench:
	.venv/bin/python -m bench.bench_bot_latency
	.venv/bin/python -m bench.bench_edit_cadence
	.venv/bin/python -m bench.bench_throughput
	.venv/bin/python -m bench.bench_thinking_filter
	.venv/bin/python bench/bench_model_service_relay.py
	.venv/bin/python bench/bench_model_service_local.py

# How well the configured model hosts: every host prompt over the labelled set (docs/JUDGING.md).
# Extra arguments: make judge JUDGE_ARGS="--language zh --limit 50". Answers are cached; a rerun resumes.
JUDGE_OUT ?= judge-results/RESULT.json
judge:
	.venv/bin/python -m bench.judge $(if $(wildcard $(CONFIG)),--config $(CONFIG),) --variant all --out $(JUDGE_OUT) $(JUDGE_ARGS)
