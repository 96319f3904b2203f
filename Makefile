# Two commands on a fresh clone:  `make run` (set up, index, start the chat UI)  and  `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Fully offline: no model hub, no telemetry (the code sets these too).
export HF_HUB_OFFLINE=1
export TRANSFORMERS_OFFLINE=1
export HF_HUB_DISABLE_TELEMETRY=1
export HF_HUB_DISABLE_PROGRESS_BARS=1
export GRADIO_ANALYTICS_ENABLED=False
export ANONYMIZED_TELEMETRY=False

.PHONY: setup index run test eval eval-medquad medquad-collection train-ranker calibrate bench bench-build browser lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first, pinned: on these machines 2.13.0 is the CPU build on local disk
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

index: setup
	$(BIN)/assistant index

run: index
	$(BIN)/python app.py

# Debian's Chromium for the real-browser test (Playwright drives /usr/bin/chromium).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Chromium (apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: setup browser
	$(BIN)/pytest

eval: setup
	$(BIN)/assistant eval --peer --report reports/eval

# Other corpora, same code: MedQuAD dev and lay questions over a 2,500-answer collection (needs ../shared)
medquad-collection: setup
	$(BIN)/python scripts/medquad_collection.py

eval-medquad: medquad-collection
	$(BIN)/assistant eval --suite evals/medquad-suite.yaml --thresholds evals/medquad-thresholds.yaml --peer --report reports/eval-medquad

# Retrain the sentence ranker from ../shared/benchmarks/medquad-train (about 10 minutes on 2 cores),
# then re-calibrate its limits on the tuned splits (needs the collection's index: make eval-medquad once)
train-ranker: setup
	$(BIN)/python scripts/train_ranker.py --workdir index/train-ranker

calibrate: setup
	$(BIN)/python scripts/calibrate.py --write

bench: setup
	$(BIN)/python scripts/benchmark.py

bench-build: medquad-collection
	$(BIN)/python scripts/bench_build.py --large

lint: setup
	$(BIN)/ruff check assistant tests scripts app.py

clean:
	rm -rf $(VENV) index/build-* index/manifest.json index/cache reports evals/medquad-large/corpus
