# Two commands for a fresh machine: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

TORCH  := $(VENV)/.torch
TORCH_VERSION := 2.13.0

.PHONY: demo test lint bench setup dot clean

# Debian/Ubuntu ship `venv` separately (python3-venv): install it when root, else say how.
$(STAMP): pyproject.toml
	@$(PY) -m pip --version >/dev/null 2>&1 || $(PYTHON) -m venv --clear $(VENV) 2>/dev/null || { \
		if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null \
			&& $(PYTHON) -m venv --clear $(VENV); \
		else echo "error: '$(PYTHON) -m venv' failed; install it with: sudo apt-get install python3-venv"; exit 1; fi; }
	$(PY) -m pip install -q -e ".[dev,examples]"
	touch $(STAMP)

setup: $(STAMP) dot

# PyTorch is the test peer: the comparison tests check every op and layer against it. The CPU-only wheel
# keeps the download small (a local wheel when the machine has one, else PyTorch's CPU package index).
$(TORCH): $(STAMP)
	@$(PY) -m pip install -q "torch==$(TORCH_VERSION)+cpu" 2>/dev/null \
		|| $(PY) -m pip install -q "torch==$(TORCH_VERSION)+cpu" --extra-index-url https://download.pytorch.org/whl/cpu \
		|| $(PY) -m pip install -q "torch==$(TORCH_VERSION)"
	touch $(TORCH)

# Graphviz's `dot` renders the pictures; install it when we can, say how when we can't.
dot:
	@if command -v dot >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; \
	else echo "note: Graphviz 'dot' is missing; install it with: sudo apt-get install graphviz (rendering tests will skip)"; fi

demo: setup
	$(PY) -m examples.seq2seq

# one worker per core (pytest-xdist), each running whole test files in their order (--dist loadfile)
test: setup $(TORCH)
	$(PY) -m pytest -q -n auto --dist loadfile --nbmake tests $(wildcard docs/*.ipynb)

lint: setup
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports

bench: setup
	$(PY) -m bench.overhead
	$(PY) -m bench.lstm
	$(PY) -m bench.viz

clean:
	rm -rf $(VENV) runs .pytest_cache
