# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint bench neo4j neo4j-stop chromium compose clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/rallypoint demo --out demo-output

lint: $(STAMP)
	$(VENV)/bin/ruff check rallypoint tests benchmarks

# Installs Debian's Chromium for the browser tests when it is missing (needs root).
chromium:
	@(test -x /usr/bin/chromium && test -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf) || (apt-get update -qq && apt-get install -y -qq chromium fonts-noto-color-emoji)

# Installs Debian's docker-compose (v1, for `config` checks; no engine needed) when neither
# `docker compose` nor `docker-compose` works, so the compose tests run in CI (needs root).
compose:
	@(docker compose version >/dev/null 2>&1 || docker-compose version >/dev/null 2>&1) || (apt-get update -qq && apt-get install -y -qq docker-compose)

test: $(STAMP) chromium compose neo4j
	$(VENV)/bin/ruff check rallypoint tests benchmarks
	$(PY) -m pytest -q

bench: $(STAMP) neo4j
	$(PY) benchmarks/ingest.py
	$(PY) benchmarks/detect.py
	$(PY) benchmarks/vs_peers.py
	$(PY) benchmarks/search.py
	$(PY) benchmarks/fold.py
	$(PY) benchmarks/partition_memory.py
	$(PY) benchmarks/neo4j_load.py

neo4j:
	bash neo4j-local/neo4j.sh start

neo4j-stop:
	bash neo4j-local/neo4j.sh stop

clean:
	rm -rf $(VENV) demo-output test-output bench-output .pytest_cache
