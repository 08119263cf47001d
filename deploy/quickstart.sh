#!/usr/bin/env bash
# The README's quickstart: builds protogate and the demo upstream, starts the
# demo on 127.0.0.1:50051 and the gateway on 127.0.0.1:8080 (admin :9901)
# with conf/quickstart.yaml, prints what to try, and stops both on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cmake >/dev/null 2>&1; then
  echo "==> installing cmake and a C compiler (pingora's C parts need them)"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq cmake gcc g++ make >/dev/null
fi

echo "==> building (release; the first build compiles Pingora and takes a few minutes)"
cargo build --release --locked -p protogate -p protogate-demo

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

target/release/protogate-demo --listen 127.0.0.1:50051 &
pids+=($!)
target/release/protogate run --config conf/quickstart.yaml &
pids+=($!)

for _ in $(seq 1 100); do
  if curl -fsS http://127.0.0.1:9901/readyz >/dev/null 2>&1; then break; fi
  sleep 0.1
done
curl -fsS http://127.0.0.1:9901/readyz >/dev/null || { echo "protogate did not become ready"; exit 1; }

cat <<'TRY'

protogate is up: gRPC and HTTP on 127.0.0.1:8080, admin on 127.0.0.1:9901.

Try (grpcurl uses the demo's reflection through the gateway):
  grpcurl -plaintext 127.0.0.1:8080 list
  grpcurl -plaintext -d '{"id":"prod-1"}' 127.0.0.1:8080 ecommerce.v1.ProductService/GetProduct
  grpcurl -plaintext -d '{}' 127.0.0.1:8080 ecommerce.v1.ProductService/ListProducts
  grpcurl -plaintext 127.0.0.1:8080 grpc.health.v1.Health/Check

With plain curl: a raw gRPC call (5-byte frame prefix + GetProductRequest{id:"prod-1"}),
then the gateway's own answers:
  printf '\x00\x00\x00\x00\x08\x0a\x06prod-1' | curl -s --http2-prior-knowledge \
    -H 'content-type: application/grpc' -H 'te: trailers' --data-binary @- \
    http://127.0.0.1:8080/ecommerce.v1.ProductService/GetProduct -o - | xxd | head
  curl -s http://127.0.0.1:8080/v1/products/prod-1        # REST/JSON, transcoded to gRPC
  curl -s -X POST -d '{"name":"Lamp","priceCents":"2500"}' http://127.0.0.1:8080/v1/products
  curl -s http://127.0.0.1:8080/v1/products                  # a server stream, as NDJSON
  curl -s http://127.0.0.1:8080/v1/openapi.json | head       # the generated OpenAPI document
  curl -i http://127.0.0.1:8080/nowhere                  # JSON 404 from the gateway
  curl -s http://127.0.0.1:9901/metrics | grep grpc_server_handled_total
  target/release/protogate routes --config conf/quickstart.yaml

Ctrl-C stops both.
TRY
wait
