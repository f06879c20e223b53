#!/usr/bin/env bash
# Builds the nats-server binary at the version go.mod pins into bin/ (or the
# path given as $1), for the fault suite's 3-node JetStream cluster. Only the
# Go module proxy is needed. Skips the build when the binary already reports
# that version.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/bin/nats-server}"
VERSION="$(awk '$1 == "github.com/nats-io/nats-server/v2" { print $2; exit }' "$ROOT/go.mod")"
if [[ -z "$VERSION" ]]; then
  echo "[nats-server] github.com/nats-io/nats-server/v2 is not in go.mod" >&2
  exit 1
fi

if [[ -x "$OUT" ]] && [[ "$("$OUT" --version 2>/dev/null)" == "nats-server: $VERSION" ]]; then
  exit 0
fi

echo "[nats-server] building $VERSION into $OUT" >&2
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
# Outside the module so go.mod's replace/exclude lines play no part.
(cd "$TMP" && CGO_ENABLED=0 GOFLAGS= GOBIN="$TMP" go install "github.com/nats-io/nats-server/v2@$VERSION")
mkdir -p "$(dirname "$OUT")"
mv "$TMP/nats-server" "$OUT"
"$OUT" --version >&2
