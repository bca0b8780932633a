# Cairn — build, run and test. `make run` and `make test` work on a fresh Debian/Ubuntu machine
# with Go installed: they install PostgreSQL's server binaries when missing.

SHELL := /bin/bash
GO ?= go
BIN := bin/cairn
# ADDR is where `make run` listens: `make run ADDR=:9090`, or CAIRN_ADDR from the environment.
ADDR ?= $(or $(CAIRN_ADDR),:8080)
TEST_FLAGS ?= -count=1 -timeout 25m

.PHONY: all build run test postgres chromium geoip generate check-generate migration vet fmt clean stop-test-db

all: build

## build: compile the cairn binary into bin/
build:
	$(GO) build -o $(BIN) ./cmd/cairn

## postgres: make sure PostgreSQL server binaries (initdb, pg_ctl) are available
postgres:
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "PostgreSQL server binaries: found"; \
	elif command -v apt-get >/dev/null 2>&1; then \
		echo "PostgreSQL server binaries not found: installing Debian's postgresql package"; \
		SUDO=""; if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null && \
		{ $$SUDO systemctl disable --now postgresql >/dev/null 2>&1 || $$SUDO service postgresql stop >/dev/null 2>&1 || true; }; \
	else \
		echo "PostgreSQL server binaries (initdb, pg_ctl) not found: install PostgreSQL 15+ (e.g. brew install postgresql@16) or set DATABASE_URL"; exit 1; \
	fi

## chromium: make sure Debian's chromium is installed for the console's browser tests
chromium:
	@if [ -x /usr/bin/chromium ]; then \
		echo "chromium: found"; \
	elif command -v apt-get >/dev/null 2>&1; then \
		echo "chromium not found: installing Debian's chromium package (the console's browser tests drive it)"; \
		SUDO=""; if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "/usr/bin/chromium not found: install Chromium for the console's browser tests (internal/console)"; exit 1; \
	fi

## run: set everything up and start Cairn at http://localhost:8080 (ADDR=:9090 for another port; local Postgres under ./.cairn)
run: postgres build
	CAIRN_ADDR='$(ADDR)' ./$(BIN) serve --bootstrap-admin-key

# The openly licensed IP→country database (geo-whois-asn-country by sapics/ip-location-db,
# data CC BY 4.0 by the NRO, package CC0) from the npm registry, pinned by version and SHA-256.
# Cairn reads it from $(CAIRN_DATA_DIR)/geoip/ (.cairn/geoip/) unless CAIRN_GEOIP_DB says otherwise.
GEOIP_VERSION := 2.3.2026061719
GEOIP_SHA256 := 91757a1b06cdcd1955f292e4c4cfc54e091204f998e159a3187f7a2ef3724be0
GEOIP_PACKAGE := @ip-location-db/geo-whois-asn-country-mmdb@$(GEOIP_VERSION)
GEOIP_DIR := $(or $(CAIRN_DATA_DIR),.cairn)/geoip

## geoip: install the IP→country database for geolocation into .cairn/geoip (kept when present;
## offline, Cairn runs without geolocation and says so at start-up)
geoip:
	@if [ "$(CAIRN_GEOIP)" = off ]; then echo "GeoIP database: skipped (CAIRN_GEOIP=off)"; \
	elif [ -f "$(GEOIP_DIR)/geo-whois-asn-country.mmdb" ]; then echo "GeoIP database: found in $(GEOIP_DIR)"; \
	else \
		mkdir -p "$(GEOIP_DIR)" && pack=$$(mktemp -d "$(GEOIP_DIR)/download.XXXXXX") && \
		if ! command -v npm >/dev/null 2>&1 || ! (cd "$$pack" && npm pack --silent "$(GEOIP_PACKAGE)" >/dev/null 2>&1); then \
			rm -rf "$$pack"; echo "GeoIP database: npm could not fetch $(GEOIP_PACKAGE); Cairn runs without geolocation (retry with make geoip)"; exit 0; \
		fi; \
		tmp=$$(ls "$$pack"/*.tgz); \
		sum=$$( (sha256sum "$$tmp" 2>/dev/null || shasum -a 256 "$$tmp") | cut -d' ' -f1); \
		if [ "$$sum" != "$(GEOIP_SHA256)" ]; then rm -rf "$$pack"; echo "GeoIP database: checksum mismatch, not installed"; exit 1; fi; \
		tar -xzf "$$tmp" -C "$(GEOIP_DIR)" --strip-components=1 package/geo-whois-asn-country.mmdb package/NRO_LICENSE && \
		rm -rf "$$pack" && echo "GeoIP database: installed $(GEOIP_DIR)/geo-whois-asn-country.mmdb ($(GEOIP_VERSION))"; \
	fi

# make run installs the GeoIP database first (a prerequisite added to the rule above).
run: geoip

## test: run every test against a real local PostgreSQL (started and reused under ./.cairn/testpg)
test: postgres chromium
	$(GO) test $(TEST_FLAGS) ./...

## generate: regenerate ent, entgql and gqlgen code
generate:
	$(GO) generate ./...

## check-generate: fail when generated code is out of date
check-generate: generate
	@git diff --exit-code -- ent graph gqlgen.yml || { echo "generated code is out of date: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- ent graph)" || { git status --porcelain -- ent graph; echo "generation created untracked files: run 'make generate' and commit"; exit 1; }

## migration: write the next migration from the ent schema: make migration NAME=add_x DEV_URL=postgres://.../empty_db
migration:
	@test -n "$(NAME)" -a -n "$(DEV_URL)" || { echo "usage: make migration NAME=add_x DEV_URL=postgres://user@host/empty_scratch_db"; exit 1; }
	$(GO) run ./migrations/diff.go -dev-url "$(DEV_URL)" $(NAME)

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w $$(git ls-files '*.go')

## stop-test-db: stop the test cluster that `make test` leaves running for speed
stop-test-db:
	@if [ -f .cairn/testpg/data/postmaster.pid ]; then \
		PGCTL=$$(command -v pg_ctl || ls /usr/lib/postgresql/*/bin/pg_ctl | tail -1); \
		if [ "$$(id -u)" = 0 ]; then runuser -u postgres -- $$PGCTL stop -D .cairn/testpg/data -m fast; else $$PGCTL stop -D .cairn/testpg/data -m fast; fi; \
	fi

clean: stop-test-db
	rm -rf bin
