# The README names two targets: `make run` and `make test`. Both create the
# local .venv on first use (and again only when pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# torch must be the CPU build. On the project's machines this exact version
# is a CPU wheel on disk; elsewhere run e.g.
#   make run TORCH="torch --index-url https://download.pytorch.org/whl/cpu"
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.installed-stamp
QUESTION ?= what is ESPA's fourth pillar
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(TORCH)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/esqa ask "$(QUESTION)"

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check esqa tests benchmarks
	$(BIN)/ruff format --check esqa tests benchmarks
	$(BIN)/mypy

# Each benchmark is a script that prints its numbers and writes them as JSON
# under benchmarks/results/; add new ones to this list.
BENCHMARKS := benchmarks/incremental.py benchmarks/build_time.py benchmarks/cold_start.py benchmarks/build_throughput.py benchmarks/scale.py benchmarks/staleness.py benchmarks/serve.py benchmarks/pathological.py benchmarks/milvus.py benchmarks/milvus_parity.py

bench: $(STAMP)
	@for script in $(BENCHMARKS); do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) indexes/default indexes/.default.*
