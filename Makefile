# podwarden — every target does its own set-up; `make test` is what CI runs.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DEB_PACKAGES := python3-venv nftables iptables iproute2 nginx-light conntrack curl procps iputils-ping dnsmasq-base wrk chromium
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup deb venv demo test test-unit test-integration test-system conformance lint bench fuzz clean

setup: deb venv

# Installs the Debian packages the suite needs, only when running as root and one is missing.
deb:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "not root: skipping Debian packages:$$missing (system tests will be skipped)"; fi; \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PIP) install -q -U pip
	@$(PIP) install -q -e '.[dev]'
	@touch $(STAMP)

demo: setup
	$(VENV)/bin/podwarden demo

# pytest's exit 5 ("no tests collected") is a failure here, with its own message.
test: setup
	@$(VENV)/bin/pytest -q -p no:cacheprovider $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests — a failure" >&2; exit 1; fi; \
	exit $$rc

test-unit: setup
	$(VENV)/bin/pytest -q tests/unit $(PYTEST_ARGS)

test-integration: setup
	$(VENV)/bin/pytest -q tests/integration $(PYTEST_ARGS)

test-system: setup
	$(VENV)/bin/pytest -q tests/system $(PYTEST_ARGS)

conformance: setup
	$(VENV)/bin/pytest -q tests/conformance $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: setup
	$(PY) -m bench

fuzz: setup
	$(PY) -m fuzz --seconds 20

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
