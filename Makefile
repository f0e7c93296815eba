# geoveilig: `make demo` sets everything up and runs the service on demo data;
# `make test` runs the whole test suite. Both work on a fresh machine with python3.

PY ?= python3
UV := .tools/bin/uv
SHARED_GEO := $(wildcard ../shared/geo)
export GEOVEILIG_GEO_DIR ?= $(if $(SHARED_GEO),../shared/geo,data/geo)
export GEOVEILIG_DATA_DIR ?= data
# compiled bytecode is kept (a new process then starts in ~1 s instead of recompiling every
# module), also where the environment says otherwise
unexport PYTHONDONTWRITEBYTECODE
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test test-fast lint bench setup strip-notebooks docs-qgis

$(UV):
	$(PY) -m venv .tools
	.tools/bin/pip install --quiet uv

.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(PY)
	touch $@

setup: .venv/.synced

demo: setup
	@.venv/bin/python -m geoveilig.ports $(HOST) $(PORT)
	.venv/bin/geoveilig demo
	.venv/bin/geoveilig serve --host $(HOST) --port $(PORT)

test: setup
	.venv/bin/python -m pytest

# the unit tests only: no browser, PostGIS, notebook or slow integration tests
test-fast: setup
	.venv/bin/python -m pytest -q -m "not slow and not browser and not postgres"

# ruff, then the type checker (mypy; configuration in pyproject.toml: strict on the core)
lint: setup
	.venv/bin/ruff check src tests benchmarks notebooks
	.venv/bin/mypy

bench: setup
	for f in benchmarks/bench_*.py; do .venv/bin/python $$f || exit 1; done

# screenshots of QGIS and the GDAL output of docs/api.md (needs QGIS, Xvfb, ImageMagick and
# gdal-bin: apt-get install qgis python3-qgis xvfb imagemagick gdal-bin; not part of CI)
docs-qgis: setup
	.venv/bin/python docs/qgis_screenshots.py

strip-notebooks: setup
	.venv/bin/python notebooks/strip_outputs.py
