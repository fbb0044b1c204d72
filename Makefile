# pathguard: `make test` and `make demo` do every set-up step a fresh Debian
# machine needs (Debian packages, npm ci, build) and then run.

SHELL := /bin/bash
DEB_PACKAGES := nftables iptables iproute2 iputils-ping iputils-tracepath tcpdump curl conntrack procps
NPM_STAMP := node_modules/.package-lock.json

.PHONY: all deps debs build lint typecheck test test-unit test-integration bench demo clean

all: build

# Installs the Debian packages that are missing (and only those).
debs:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
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

clean:
	rm -rf dist
