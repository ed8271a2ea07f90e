# GQN: `make test` runs the test suite, `make test-fast` all but the slow tests (for the
# edit loop), `make demo` renders a small rooms dataset, trains the tiny preset on it and
# evaluates it, `make results` reproduces the published learning result (rooms and
# Shepard-Metzler 7, an hour of training each on 2 quiet cores of an AMX CPU; 4.4x as long
# without AVX-512). All create .venv when needed.

# TensorFlow with tf.estimator exists for Python 3.9-3.11 (TF 2.15) and <= 3.7 (TF 1.15).
PYTHON ?= $(shell for p in python3.11 python3.10 python3.9 python3 python3.7; do \
	$$p -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 9) <= v <= (3, 11) or v <= (3, 7) else 1)' \
	>/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: test test-fast demo results bench venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	@if [ -z "$(PYTHON)" ]; then echo "No supported Python found: GQN needs Python 3.9-3.11 (TensorFlow 2.15) or <= 3.7 (TensorFlow 1.15); install one or pass PYTHON=/path/to/python."; exit 1; fi
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

test: venv
	$(PY) -m pytest -q tests

test-fast: venv
	$(PY) -m pytest -q -m "not slow" tests

demo: venv
	$(PY) demo.py

results: venv
	$(PY) results.py

bench: venv
	$(PY) -m bench.bench_gqn --reference

clean:
	rm -rf $(VENV) runs
