# inpaintkit: `make demo` and `make test` work on a fresh machine (they create .venv and install everything).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
JOBS ?= 2

.PHONY: setup demo test test-fast browser lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch pinned first: a bare or looser `torch` would pull several GB of CUDA packages
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[all,dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/inpaintkit run --image inpaintkit/assets/sample.jpg --mask inpaintkit/assets/sample_mask.png \
		--output out/demo.png
	@echo "demo: filled inpaintkit/assets/sample.jpg -> $$(pwd)/out/demo.png"

# Chromium for the browser tests: installed when missing and we may (root); otherwise those tests say why they cannot run.
browser:
	@if ! command -v chromium >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
		|| echo "warning: could not install chromium"; fi

test: setup browser
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -n $(JOBS) --durations=15

test-fast: setup
	$(PY) -m pytest -q -x -n $(JOBS) -m "not slow"

clean:
	rm -rf $(VENV) out .pytest_cache
