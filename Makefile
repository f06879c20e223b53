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
NATS_SERVER := $(BIN)/nats-server
export KUBEBUILDER_ASSETS := $(K8S_ASSETS)
# What `make generate manifests` writes; the chart renders its CRD from files/crds.
GENERATED := api config charts/hookgate/files/crds
export PATH := $(BIN):$(PATH)

.PHONY: all
all: build

##@ Development

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs and RBAC into config/.
	$(CONTROLLER_GEN) crd rbac:roleName=hookgate-manager paths="./api/..." paths="./controllers/..." paths="./internal/eventsapi/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	$(CONTROLLER_GEN) rbac:roleName=hookgate-receiver paths="./ingress/..." output:rbac:artifacts:config=config/rbac/receiver
	rm -rf charts/hookgate/files/crds && mkdir -p charts/hookgate/files/crds && cp config/crd/bases/*.yaml charts/hookgate/files/crds/

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

VERSION ?= 0.0.0-dev

.PHONY: plugin
plugin: ## Build the kubectl plugin into bin/kubectl-hookgate (put it on PATH: kubectl hookgate ...).
	go build -ldflags "-X github.com/hookgate/hookgate/internal/plugin.Version=v$(patsubst v%,%,$(VERSION))" -o $(BIN)/kubectl-hookgate ./cmd/kubectl-hookgate

.PHONY: krew-manifest
krew-manifest: ## Cross-build the plugin, pack the krew archives and write bin/dist/hookgate.yaml (VERSION=x.y.z).
	go run ./hack/krew -version v$(patsubst v%,%,$(VERSION)) -dist $(BIN)/dist

.PHONY: control-plane
control-plane: ## Build etcd, kube-apiserver and kubectl from the Go module proxy into bin/k8s.
	./hack/control-plane.sh

.PHONY: dev
dev: control-plane build plugin ## Run the whole system locally: control plane, controller, receiver, sample endpoint.
	go run ./hack/dev

##@ Test

.PHONY: test
test: control-plane $(HELM) nats-server fmt-check vet verify-generated helm-lint ## Run every test against a real kube-apiserver and etcd (with the fault suite's smoke profile).
	go test ./... -count=1 -timeout 20m

.PHONY: helm-lint
helm-lint: $(HELM) ## Lint the Helm chart.
	$(HELM) lint charts/hookgate --strict

.PHONY: verify-generated
verify-generated: generate manifests ## Fail when generated files (also new or deleted ones) are not committed.
	@if [ -d .git ] && git rev-parse HEAD >/dev/null 2>&1 && [ -n "$$(git status --porcelain -- $(GENERATED))" ]; then \
		git --no-pager status --short -- $(GENERATED); \
		echo "generated files are stale: run 'make generate manifests' and commit"; exit 1; fi

.PHONY: chaos
chaos: control-plane $(HELM) nats-server ## Run the full fault suite on a 3-node NATS cluster (about 12 min); the table lands in bin/chaos-report.md.
	HOOKGATE_CHAOS_REPORT=$(BIN)/chaos-report.md go test ./test/chaos/ -run . -count=1 -timeout 60m -v -chaos.full

.PHONY: bench
bench: control-plane ## Measure the data plane (ingest vs bare and floor, delivery, N endpoints); flags in BENCH_ARGS, e.g. BENCH_ARGS="-endpoints 1000,10000".
	go run ./test/bench $(BENCH_ARGS)

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 30s).
	./hack/fuzz.sh $(or $(FUZZTIME),30s)

##@ Image and release

# The image: `make image` needs no container engine (hack/image). Same commit,
# Go toolchain and CA bundle give the same digest.
IMAGE_REPO ?= ghcr.io/hookgate/hookgate
VERSION ?= $(patsubst v%,%,$(shell git describe --tags --match 'v[0-9]*' --always --dirty 2>/dev/null || echo dev))
IMAGE ?= $(IMAGE_REPO):$(VERSION)
PLATFORMS ?= linux/amd64,linux/arm64
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
IMAGE_DIR := $(BIN)/image
IMAGE_FLAGS = -platforms $(PLATFORMS) -revision $(REVISION) -version $(VERSION) \
	-out $(IMAGE_DIR)/oci -archive $(IMAGE_DIR)/hookgate.oci.tar -digest-file $(IMAGE_DIR)/digest
CHART_DIR := $(BIN)/chart

.PHONY: image
image: ## Build the linux/amd64+arm64 image index into bin/image (OCI layout and oci-archive).
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) go run ./hack/image $(IMAGE_FLAGS)

.PHONY: image-push
image-push: ## Build the image and push it to IMAGE (default ghcr.io/hookgate/hookgate:<version>), e.g. IMAGE=localhost:5000/hookgate:dev.
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) go run ./hack/image $(IMAGE_FLAGS) -push $(IMAGE)

.PHONY: chart-package
chart-package: $(HELM) ## Package the chart into bin/chart (push it with helm push ... oci://).
	mkdir -p $(CHART_DIR) && $(HELM) package charts/hookgate -d $(CHART_DIR)

##@ Tools

$(CONTROLLER_GEN):
	GOBIN=$(BIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)

$(HELM):
	GOBIN=$(BIN) go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

.PHONY: nats-server
nats-server: ## Build nats-server, at the version go.mod pins, into bin/ (skipped when present).
	./hack/nats-server.sh $(NATS_SERVER)

.PHONY: help
help:
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-18s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
