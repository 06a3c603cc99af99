# The two commands a user types: `make demo` and `make test`.  Each sets up its own
# virtual environment in .venv (re-done when pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.deps-stamp
# BLAS at one thread: on small shared machines 2-thread BLAS is slower and noisy.
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

.PHONY: demo test bench setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@# PyTorch is only a test oracle; 2.13.0 is the CPU wheel these machines provide.
	$(BIN)/python -m pip install -q torch==2.13.0 || { \
	  if [ -n "$$CI" ]; then echo "torch==2.13.0 could not be installed; CI needs it for the oracle tests"; exit 1; fi; \
	  echo "warning: torch==2.13.0 not installed; the PyTorch oracle tests will be skipped"; }
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m deeprecipe.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_mlp_step.py

clean:
	rm -rf $(VENV) build *.egg-info
