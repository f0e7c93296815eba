# geoveilig: `make demo` sets everything up and runs the service on demo data;
# `make test` runs the whole test suite. Both work on a fresh machine with python3.

PY ?= python3
# The interpreter of the environment (.venv): the distribution's CPython when /usr/bin/python3
# is 3.11 or newer, else $(PY). Debian, Ubuntu and Fedora build theirs with profile-guided and
# link-time optimisation and a static libpython; with a CPython built without them (pyenv's
# default) the modules of `geoveilig import` load ~16% slower and an import of 10^6 rows takes
# ~9% longer (docs/production.md). Another one: `make setup VENV_PYTHON=/path/to/python3`.
VENV_PYTHON ?= $(shell /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && echo /usr/bin/python3 || echo $(PY))
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

# the stamp names the interpreter: asking for another one makes the environment again
SYNCED := .venv/.synced-$(subst /,_,$(VENV_PYTHON))
$(SYNCED): $(UV) pyproject.toml uv.lock
	rm -f .venv/.synced*
	$(UV) sync --frozen --python $(VENV_PYTHON)
	touch $@

setup: $(SYNCED)

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
