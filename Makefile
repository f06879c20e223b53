# Hookgate. `make dev` runs the whole system locally; `make test` runs every test.
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

ROOT := $(abspath .)
BIN := $(ROOT)/bin
K8S_ASSETS := $(BIN)/k8s
CONTROLLER_GEN_VERSION ?= v0.22.0
HELM_VERSION ?= v3.22.0
CONTROLLER_GEN := $(BIN)/controller-gen
HELM := $(BIN)/helm
export KUBEBUILDER_ASSETS := $(K8S_ASSETS)
export PATH := $(BIN):$(PATH)

.PHONY: all
all: build

##@ Development

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs and RBAC into config/.
	$(CONTROLLER_GEN) crd rbac:roleName=hookgate-manager paths="./api/..." paths="./controllers/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	$(CONTROLLER_GEN) rbac:roleName=hookgate-receiver paths="./ingress/..." output:rbac:artifacts:config=config/rbac/receiver
	mkdir -p charts/hookgate/crds && cp config/crd/bases/*.yaml charts/hookgate/crds/

.PHONY: fmt
fmt:
	go fmt ./...

.PHONY: fmt-check
fmt-check: ## Fail when a Go file is not gofmt-formatted.
	@out="$$(gofmt -l $$(find . -name '*.go' -not -path './bin/*'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

.PHONY: vet
vet:
	go vet ./...

.PHONY: build
build: ## Build the hookgate binary.
	go build -o $(BIN)/hookgate ./cmd/hookgate

.PHONY: control-plane
control-plane: ## Build etcd, kube-apiserver and kubectl from the Go module proxy into bin/k8s.
	./hack/control-plane.sh

.PHONY: dev
dev: control-plane build ## Run the whole system locally: control plane, controller, receiver, sample endpoint.
	go run ./hack/dev

##@ Test

.PHONY: test
test: control-plane $(HELM) fmt-check vet verify-generated helm-lint ## Run every test against a real kube-apiserver and etcd.
	go test ./... -count=1 -timeout 20m

.PHONY: helm-lint
helm-lint: $(HELM) ## Lint the Helm chart.
	$(HELM) lint charts/hookgate --strict

.PHONY: verify-generated
verify-generated: generate manifests ## Fail when generated files are not committed.
	@if [ -d .git ] && git rev-parse HEAD >/dev/null 2>&1 && ! git diff --quiet -- api config charts/hookgate/crds; then \
		git --no-pager diff --stat -- api config charts/hookgate/crds; \
		echo "generated files are stale: run 'make generate manifests' and commit"; exit 1; fi

.PHONY: bench
bench: build ## Measure receiver ingest throughput and latency against a bare net/http handler.
	go run ./test/bench $(BENCH_ARGS)

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 30s).
	./hack/fuzz.sh $(or $(FUZZTIME),30s)

##@ Tools

$(CONTROLLER_GEN):
	GOBIN=$(BIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)

$(HELM):
	GOBIN=$(BIN) go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

.PHONY: help
help:
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-18s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
