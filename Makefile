# Mocha — the two commands: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PG_URL ?= postgres://root@127.0.0.1:5432/test
REDIS_TEST_URL ?= redis://127.0.0.1:6379/15


.PHONY: run test lint test-sqlite test-postgres test-future install install-dev browser bench clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

# Browser tests drive Debian's Chromium (Playwright never downloads a browser); the metrics test
# checks /metrics/prometheus with promtool, from Debian's prometheus package.
browser:
	@for need in chromium:chromium promtool:prometheus; do \
	  command -v $${need%%:*} >/dev/null 2>&1 && continue; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $${need##*:} >/dev/null; \
	  else echo "$${need%%:*} missing: sudo apt-get install $${need##*:}" >&2; exit 1; fi; \
	done

run: install
	$(PY) manage.py run

test: install-dev browser lint test-sqlite test-postgres

# ruff (ruff.toml): the same checks as the pre-commit hooks.
lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test-sqlite:
	$(PY) -m pytest -q

# The second pass covers what depends on the database and cache engines; the browser and
# benchmark tests (which always bench on their own SQLite files) ran in the first.
test-postgres:
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_TEST_URL) $(PY) -m pytest -q -m "not sqlite_only and not browser" --ignore=tests/bench

# The SQLite suite with the clock moved forward (Debian's libfaketime, also in subprocesses):
# finds tests that read fixed fixture dates through windows counted from today before the
# calendar does. Not part of `make test`. `make test-future FAKETIME=+3700d`.
FAKETIME ?= +400d
FAKETIME_LIB := /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
test-future: install-dev
	@test -f $(FAKETIME_LIB) || { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null; \
	  else echo "libfaketime missing: sudo apt-get install faketime" >&2; exit 1; fi; }
	FAKETIME=$(FAKETIME) LD_PRELOAD=$(FAKETIME_LIB) $(PY) -m pytest -q

bench: install-dev
	$(PY) manage.py bench --json var/bench.json

clean:
	rm -rf $(VENV) var/test* var/cache
