# Tessera build, test, demo and benchmarks. Every target installs what it needs (scripts/deps.sh).
SHELL := /bin/bash
NODE := node
TSX := $(NODE) --import tsx
UNIT_TESTS = $(shell find src bench scripts -name '*.test.ts' | sort)

.PHONY: all deps build test test-vm unit integration demo bench layers lint format bench-datastore bench-cni bench-dataplane bench-policy bench-policy-cli bench-bgp bench-agent bench-cli bench-scale bench-controllers clean typecheck

all: build

deps:
	@scripts/deps.sh

build: deps
	@npx tsc -p tsconfig.json
	@scripts/build-bin.sh

# Types, then the import rules of ../shared/DESIGN.md (no cycle, imports point down the layers).
typecheck: deps
	@npx tsc -p tsconfig.json --noEmit
	@$(MAKE) --no-print-directory layers

layers:
	@$(TSX) scripts/layers/main.ts

# ESLint's and typescript-eslint's recommended rules, and the formatter's check (`make format` fixes).
lint: deps
	@npx eslint --max-warnings 0 'src/**/*.ts' 'test/**/*.ts' 'bench/**/*.ts' 'scripts/**/*.ts'
	@npx prettier --check --log-level warn 'src/**/*.ts' 'test/**/*.ts' 'bench/**/*.ts' 'scripts/**/*.ts'

format: deps
	@npx prettier --write --log-level warn 'src/**/*.ts' 'test/**/*.ts' 'bench/**/*.ts' 'scripts/**/*.ts'

test: build
	@$(MAKE) --no-print-directory layers lint unit integration

unit:
	$(TSX) --test --test-concurrency=2 $(UNIT_TESTS)

# Host suites one file at a time; the VM-kernel suites (test/vm-*) alongside at nice 10.
integration:
	@scripts/test/integration.sh

# The VM-kernel suites with every public conformance case (make test runs their SCTP cases);
# see README "A lab in a real kernel".
test-vm: build
	TESSERA_VM_TESTS=1 $(TSX) --test --test-concurrency=1 $(shell find test -name 'vm-*.test.ts' | sort)

demo: build
	./bin/tessera lab demo

bench: bench-datastore bench-cni bench-dataplane bench-policy bench-bgp bench-agent bench-cli bench-scale bench-controllers

bench-datastore: build
	$(TSX) bench/datastore/main.ts

bench-cni: build
	$(TSX) bench/cni/main.ts

bench-dataplane: build
	$(TSX) bench/dataplane/main.ts
	$(TSX) bench/dataplane/ipip-vm.ts

bench-policy: build
	$(TSX) bench/policy/main.ts

# Only bench-policy's "apply-from-command" measure (the real `tessera apply -f`, issue 18).
bench-policy-cli: build
	BENCH_POLICY_PARTS=apply-from-command $(TSX) bench/policy/main.ts

bench-bgp: build
	$(TSX) bench/bgp/main.ts

bench-agent: build
	$(TSX) bench/agent/main.ts

bench-cli: build
	$(TSX) bench/cli/main.ts

bench-scale: build
	$(TSX) bench/scale/main.ts

bench-controllers: build
	$(TSX) bench/controllers/main.ts

clean:
	rm -rf dist
