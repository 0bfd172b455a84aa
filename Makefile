# Pantau: `make demo` installs and starts everything; `make test` installs what the tests need and runs them.
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8000
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
# The shared catalogue, and one per area package that has its own (mkdir portal/<area>/translations; make i18n).
AREAS := $(patsubst portal/%/translations,%,$(wildcard portal/*/translations))
CATALOGUES := portal/translations $(foreach a,$(AREAS),portal/$(a)/translations)

.PHONY: demo test test-fast lint bench soak install system-deps i18n vendor clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[test,dev]'
	for dir in $(CATALOGUES); do $(VENV)/bin/pybabel compile --statistics -d $$dir 2>&1 | tail -n 1; done
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
	$(VENV)/bin/ruff check portal transcoder contract tests bench nginx wsgi.py
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(STAMP) system-deps
	$(PY) -m bench

# The whole system under faults for SOAK_MINUTES (default 10); not part of `make test` or `make bench`.
SOAK_MINUTES ?= 10
soak: $(STAMP) system-deps
	$(PY) -m bench.soak --minutes $(SOAK_MINUTES) $(SOAK_ARGS)

i18n: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l --ignore-dirs "$(AREAS)" -o portal/translations/messages.pot portal templates
	for area in $(AREAS); do \
	  dir=portal/$$area/translations; \
	  $(VENV)/bin/pybabel extract -F babel.cfg -k _l -o $$dir/messages.pot portal/$$area templates/$$area || exit 1; \
	  if [ ! -f $$dir/id/LC_MESSAGES/messages.po ]; then $(VENV)/bin/pybabel init -i $$dir/messages.pot -d $$dir -l id; fi; \
	done
	for dir in $(CATALOGUES); do \
	  $(VENV)/bin/pybabel update -i $$dir/messages.pot -d $$dir && $(VENV)/bin/pybabel compile -d $$dir || exit 1; \
	done

vendor:
	bash static/vendor/fetch.sh

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
