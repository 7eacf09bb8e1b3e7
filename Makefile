# syncer — see README.md.
GO      ?= go
BIN     ?= bin/syncer
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  = -X main.version=$(VERSION)

.PHONY: build test demo bench lint clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) .

# The test command CI runs: format, vet, then every test (the race detector
# on, so the concurrent packages are checked too). scripts/test-deps.sh
# installs the S3 test server (versitygw, into ~/.cache) and rclone.
test: lint
	gw=$$(scripts/test-deps.sh) && SYNCER_VERSITYGW=$$gw $(GO) test -race -count=1 -timeout 60m ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Builds syncer, creates demo/src and applies examples/local.hcl to it.
demo: build
	./scripts/demo-data.sh demo
	$(BIN) apply -auto-approve -config examples/local.hcl
	$(BIN) plan -config examples/local.hcl

# Prints wall time and peak RSS of syncer beside cp -r and rclone (installed
# from Debian's packages when missing).
bench: build
	@command -v rclone >/dev/null && test -x /usr/bin/time || { apt-get update -qq && apt-get install -y -qq rclone time; }
	$(GO) run ./bench -syncer $(BIN) $(BENCHFLAGS)

clean:
	rm -rf bin demo
