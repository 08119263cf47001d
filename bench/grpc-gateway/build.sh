#!/usr/bin/env bash
# bench/grpc-gateway/build.sh OUTPUT: builds bench/grpc-gateway/main.go
# (the grpc-gateway v1 runtime mux for ecommerce.v1.ProductService) into
# OUTPUT, offline, from Debian's Go packages only.
#
# Installs what is missing with apt-get (through sudo when not root), then,
# in a scratch GOPATH that is removed afterwards, generates product.pb.go
# (with the gRPC stubs) and product.pb.gw.go from
# protos/ecommerce/v1/product.proto, and runs `go build` in GOPATH mode
# with GOPATH=<scratch>:/usr/share/gocode and GOPROXY=off, so Go fetches
# nothing. Safe to run again: every run starts from a fresh scratch dir,
# and Go's build cache makes the second build quick.

set -euo pipefail

[[ $# == 1 ]] || { echo "usage: $0 OUTPUT" >&2; exit 2; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$1
[[ $OUT == /* ]] || OUT="$PWD/$OUT"

log() { printf '[grpc-gateway build] %s\n' "$*" >&2; }

# Debian 12: grpc-gateway 1.6.4, grpc-go 1.33, golang/protobuf 1.3.5
# (protoc-gen-go with plugins=grpc), genproto (google.api annotations).
PACKAGES=(
  golang-go
  protobuf-compiler
  golang-goprotobuf-dev
  golang-grpc-gateway
  golang-github-grpc-ecosystem-grpc-gateway-dev
  golang-google-grpc-dev
  golang-google-genproto-dev
)
install_missing() {
  local need=() p
  for p in "${PACKAGES[@]}"; do
    [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || need+=("$p")
  done
  ((${#need[@]})) || return 0
  local sudo=()
  [[ $(id -u) == 0 ]] || sudo=(sudo)
  log "installing ${need[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
}
install_missing

SCRATCH=$(mktemp -d /tmp/grpc-gateway-build.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT

# The generated package: import path protogate.bench/ecommerce/v1.
PKG=protogate.bench/ecommerce/v1
GEN="$SCRATCH/gopath/src/$PKG"
mkdir -p "$GEN" "$SCRATCH/gopath/src/protogate.bench/gateway" "$SCRATCH/out"
MAP="Mecommerce/v1/product.proto=$PKG"
MAP+=",Mgoogle/api/annotations.proto=google.golang.org/genproto/googleapis/api/annotations"
MAP+=",Mgoogle/api/http.proto=google.golang.org/genproto/googleapis/api/annotations"
# protoc 3.21's well-known types name the APIv2 packages (google.golang.org/
# protobuf/types/known/...), which golang/protobuf 1.3 predates: map them to
# the 1.3-era packages Debian ships.
MAP+=",Mgoogle/protobuf/empty.proto=github.com/golang/protobuf/ptypes/empty"
MAP+=",Mgoogle/protobuf/timestamp.proto=github.com/golang/protobuf/ptypes/timestamp"
MAP+=",Mgoogle/protobuf/field_mask.proto=google.golang.org/genproto/protobuf/field_mask"
log "generating Go stubs from protos/ecommerce/v1/product.proto"
protoc -I "$ROOT/protos" -I /usr/include \
  --go_out="plugins=grpc,paths=source_relative,$MAP:$SCRATCH/out" \
  --grpc-gateway_out="logtostderr=true,paths=source_relative,$MAP:$SCRATCH/out" \
  "$ROOT/protos/ecommerce/v1/product.proto"
mv "$SCRATCH/out/ecommerce/v1/"*.go "$GEN/"
cp "$HERE/main.go" "$SCRATCH/gopath/src/protogate.bench/gateway/"

export GO111MODULE=off GOPROXY=off GOFLAGS='' CGO_ENABLED=0
export GOPATH="$SCRATCH/gopath:/usr/share/gocode"
if [[ -z $(go env GOCACHE 2>/dev/null) ]]; then export GOCACHE="$SCRATCH/cache"; fi
log "go build -> $OUT"
mkdir -p "$(dirname "$OUT")"
(cd "$SCRATCH/gopath/src/protogate.bench/gateway" && go build -trimpath -o "$OUT" .)
log "built $OUT ($(go version | awk '{ print $3 }'), grpc-gateway $(dpkg-query -W -f='${Version}' golang-github-grpc-ecosystem-grpc-gateway-dev))"
