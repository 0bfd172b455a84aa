# Pantau: `make demo` installs and starts everything; `make test` installs what the tests need and runs them.
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8000
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint bench install system-deps i18n vendor clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[test,dev]'
	$(VENV)/bin/pybabel compile --statistics -d portal/translations 2>&1 | tail -n 1
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/pantau demo --port $(PORT)

system-deps:
	bash .ci/system-deps.sh

test: $(STAMP) system-deps
	$(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest -p no:cacheprovider -m "not rtsp and not nginx and not browser and not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check portal transcoder tests bench nginx wsgi.py
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(STAMP) system-deps
	$(PY) -m bench

i18n: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -o portal/translations/messages.pot .
	$(VENV)/bin/pybabel update -i portal/translations/messages.pot -d portal/translations
	$(VENV)/bin/pybabel compile -d portal/translations

vendor:
	bash static/vendor/fetch.sh

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
