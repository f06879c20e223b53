#!/usr/bin/env bash
# Builds a real etcd, kube-apiserver and kubectl from the Go module proxy into
# bin/k8s (the KUBEBUILDER_ASSETS folder for envtest, and the kubectl used by
# `make dev` and the e2e tests). setup-envtest's download needs the open
# internet; this needs only the module proxy. Results are cached by version.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
K8S_VERSION="${K8S_VERSION:-1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-3.5.17}"
ETCD_CLIENT_V2_VERSION="${ETCD_CLIENT_V2_VERSION:-2.305.17}"
GATEWAY_API_VERSION="${GATEWAY_API_VERSION:-v1.6.3}"
OUT="${KUBEBUILDER_ASSETS_DIR:-$ROOT/bin/k8s}"
WORK="$ROOT/bin/.k8s-build"
STAMP="$OUT/.versions"
WANT="kubernetes=v$K8S_VERSION etcd=v$ETCD_VERSION gateway-api=$GATEWAY_API_VERSION"

log() { printf '[control-plane] %s\n' "$*" >&2; }

# progress turns `go build -v` package lines into a periodic count, so a
# cold build of several minutes shows it is moving.
progress() {
  awk -v what="$1" '/ |^#/ { print > "/dev/stderr"; next }
                    { n++; if (n % 100 == 0) { printf "[control-plane]   %s: %d packages compiled\n", what, n; fflush() } }
                    END { printf "[control-plane]   %s: %d packages compiled\n", what, n }' >&2
}

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" && -x "$OUT/etcd" && -x "$OUT/kube-apiserver" && -x "$OUT/kubectl" && -d "$OUT/gateway-api" ]]; then
  log "cached in $OUT ($WANT)"
  exit 0
fi

mkdir -p "$OUT" "$WORK/etcd" "$WORK/kube"
export GOFLAGS="-mod=mod"
export CGO_ENABLED=0

build_etcd() {
  if [[ -x "$OUT/etcd" ]] && "$OUT/etcd" --version 2>/dev/null | grep -q "etcd Version: $ETCD_VERSION"; then
    log "etcd v$ETCD_VERSION already built"; return
  fi
  log "building etcd v$ETCD_VERSION (about 1 minute on a cold cache)"
  cd "$WORK/etcd"
  cat > go.mod <<MOD
module hookgate.local/etcdbuild

go 1.24

require (
	go.etcd.io/etcd/api/v3 v$ETCD_VERSION
	go.etcd.io/etcd/client/pkg/v3 v$ETCD_VERSION
	go.etcd.io/etcd/client/v2 v$ETCD_CLIENT_V2_VERSION
	go.etcd.io/etcd/client/v3 v$ETCD_VERSION
	go.etcd.io/etcd/pkg/v3 v$ETCD_VERSION
	go.etcd.io/etcd/raft/v3 v$ETCD_VERSION
	go.etcd.io/etcd/server/v3 v$ETCD_VERSION
)
MOD
  cat > tools.go <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
  go mod tidy >&2
  go build -v -o "$OUT/etcd" go.etcd.io/etcd/server/v3 2>&1 | progress etcd
  log "etcd built"
}

build_kube() {
  if [[ -x "$OUT/kube-apiserver" && -x "$OUT/kubectl" ]] && "$OUT/kube-apiserver" --version 2>/dev/null | grep -q "v$K8S_VERSION\$"; then
    log "kube-apiserver v$K8S_VERSION already built"; return
  fi
  log "building kube-apiserver and kubectl v$K8S_VERSION (about 3-5 minutes on a cold cache)"
  cd "$WORK/kube"
  # k8s.io/kubernetes replaces its staging modules with ./staging paths; swap
  # each for the published k8s.io/<name> v0.Y.Z of the same release.
  local kmod
  kmod="$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
  local minor="v0.${K8S_VERSION#*.}"
  {
    echo "module hookgate.local/kubebuild"
    echo
    echo "go 1.25"
    echo
    echo "require k8s.io/kubernetes v$K8S_VERSION"
    echo
    grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$kmod" | awk -v v="$minor" '{print "replace " $1 " => " $1 " " v}'
  } > go.mod
  cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  go mod tidy >&2
  local major minor_num ldflags
  major="$(cut -d. -f1 <<<"$K8S_VERSION")"
  minor_num="$(cut -d. -f2 <<<"$K8S_VERSION")"
  ldflags="-X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor_num"
  ldflags="$ldflags -X k8s.io/client-go/pkg/version.gitVersion=v$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=$major -X k8s.io/client-go/pkg/version.gitMinor=$minor_num"
  go build -v -ldflags "$ldflags" -o "$OUT/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver 2>&1 | progress kube-apiserver
  log "kube-apiserver built"
  go build -v -ldflags "$ldflags" -o "$OUT/kubectl" k8s.io/kubernetes/cmd/kubectl 2>&1 | progress kubectl
  log "kubectl built"
}

# Gateway API CRDs, for the controller tests that create HTTPRoutes. The
# module zip carries the CRD manifests of the release.
fetch_gateway_api() {
  local dir
  dir="$(go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')"
  mkdir -p "$OUT/gateway-api"
  cp "$dir/config/crd/standard/gateway.networking.k8s.io_httproutes.yaml" "$OUT/gateway-api/"
  log "Gateway API $GATEWAY_API_VERSION HTTPRoute CRD in $OUT/gateway-api"
}

build_etcd
build_kube
fetch_gateway_api
echo "$WANT" > "$STAMP"
log "ready: KUBEBUILDER_ASSETS=$OUT"
