# Portico: the commands a developer needs.
.PHONY: run test lint build bench

GO ?= go
STATICCHECK_VERSION ?= v0.8.2

# Run Portico with zero configuration (./portico-data, https://localhost:8443).
run:
	$(GO) run ./cmd/portico serve

# The whole test suite, with a throwaway PostgreSQL and Chromium (installed if missing).
test:
	./scripts/test.sh

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

build:
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=auto -o bin/portico ./cmd/portico

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
