# pathguard: `make test` and `make demo` do every set-up step a fresh Debian
# machine needs (Debian packages, npm ci, build) and then run.

SHELL := /bin/bash
DEB_PACKAGES := nftables iptables iproute2 iputils-ping iputils-tracepath tcpdump curl conntrack procps chromium
NPM_STAMP := node_modules/.package-lock.json

.PHONY: all deps debs build lint typecheck test test-unit test-integration bench demo image clean

all: build

# Installs the Debian packages that are missing (and only those), and
# Debian's kubectl (kubernetes-client, 1.20 with kustomize v2.0.3) when no
# kubectl exists: the deploy tests render the manifests with it.
debs:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	command -v kubectl >/dev/null 2>&1 || missing="$$missing kubernetes-client"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# npm ci when node_modules is missing or older than the lock file.
$(NPM_STAMP): package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: debs $(NPM_STAMP)

build: $(NPM_STAMP)
	npx tsc -p tsconfig.json

lint: $(NPM_STAMP)
	node scripts/lint-layers.mjs

typecheck: $(NPM_STAMP)
	npx tsc -p tsconfig.json --noEmit

test: deps build lint
	npm test

test-unit: deps build
	npm run test:unit

test-integration: deps build
	npm run test:integration

bench: deps build
	npm run bench

demo: deps build
	./bin/pathguard demo

# The agent's container image (Dockerfile), with docker or podman, whichever
# works here; IMAGE names it.
IMAGE ?= pathguard:$(shell node -p "require('./package.json').version" 2>/dev/null || echo dev)
image:
	@engine=""; for e in docker podman; do \
	  if command -v $$e >/dev/null 2>&1 && $$e info >/dev/null 2>&1; then engine=$$e; break; fi; \
	done; \
	if [ -z "$$engine" ]; then \
	  echo "make image: no container engine answers here (docker or podman, with its daemon or socket running); nothing built" >&2; exit 1; \
	fi; \
	echo "building $(IMAGE) with $$engine"; \
	$$engine build -t $(IMAGE) .

clean:
	rm -rf dist
