# The two commands: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test install install-test chromium bubblewrap check-migrations clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test chromium bubblewrap

# Browser tests drive Debian's Chromium (nothing is downloaded by the test tools themselves).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The engine's sandbox (and its tests) use bubblewrap where it is installed.
bubblewrap:
	@command -v bwrap >/dev/null 2>&1 || { \
	  echo "Installing Debian's bubblewrap for the submission sandbox"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq bubblewrap >/dev/null; }

demo: install
	$(BIN)/databoard demo --host $(HOST) --port $(PORT)

check-migrations: install
	DATABOARD_HOME=$$(mktemp -d) DJANGO_SETTINGS_MODULE=databoard.settings \
	  $(BIN)/django-admin makemigrations --check --dry-run

test: install-test check-migrations
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .databoard-demo
