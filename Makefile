# The two commands a newcomer needs are `make run` and `make test`; every other
# target is a step of theirs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
GEN := build/gen
PROTOS := $(shell find protos -name '*.proto')

.PHONY: run test lint gen unit integration e2e bench migrate clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	printf '%s\n%s\n' "$(CURDIR)" "$(CURDIR)/$(GEN)" \
		> "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/hiddenwars-dev.pth"
	touch $@

$(GEN)/.stamp: $(VENV)/.installed $(PROTOS)
	rm -rf $(GEN) && mkdir -p $(GEN)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m grpc_tools.protoc -I protos \
		--python_out=$(GEN) --grpc_python_out=$(GEN) \
		--mypy_out=$(GEN) --mypy_grpc_out=$(GEN) $(PROTOS)
	find $(GEN)/hiddenwars -type d -exec touch {}/__init__.py \;
	touch $@

gen: $(GEN)/.stamp

lint: gen
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/buf lint
	$(VENV)/bin/buf format -d --exit-code protos
	$(VENV)/bin/mypy

# Runs lint and every test tier against real PostgreSQL and Redis; starts local
# ones first when none answer on 127.0.0.1.
test: lint
	$(PY) -m scripts.localservers run -- $(PY) -m pytest -q $(PYTEST_ARGS)

unit: gen
	$(PY) -m pytest -q tests/unit

integration: gen
	$(PY) -m scripts.localservers run -- $(PY) -m pytest -q tests/integration

e2e: gen
	$(PY) -m scripts.localservers run -- $(PY) -m pytest -q tests/e2e

# Installs, makes sure PostgreSQL and Redis are there, migrates and starts the
# four services and the gateway. Ctrl-C stops everything it started.
run: gen
	$(PY) -m scripts.localservers run -- $(PY) -m scripts.rungame

bench: gen
	$(PY) -m scripts.localservers run -- $(PY) -m tests.bench.dashboard

clean:
	rm -rf $(VENV) $(GEN) .local
