#!/usr/bin/env bash
# bench/instructions.sh: what a plugin costs protogate per unary call, in
# CPU instructions counted by valgrind's callgrind. Counts repeat to a
# fraction of a percent run after run, where calls/s on this 2-core machine
# moves by 10-15% between rounds (bench/run.sh), so a cost of a few percent
# is only visible here.
#
# For each configuration, protogate runs under callgrind twice, serving
# SMALL and then LARGE unary calls (h2load, the bench's 175-byte UnaryCall,
# 4 connections x 16 streams) from the release demo upstream. The
# difference of the two totals divided by LARGE - SMALL is the instructions
# per call, start-up and shutdown cancelled out.
#
# Usage (from the repository root, after `cargo build --release -p protogate
# -p protogate-demo`):
#   bench/instructions.sh    # plain; rate_limit with and without its
#                            # RateLimit headers; ten header_map rules;
#                            # tracing at ratio 1.0, exporting to a sink
#   CONFIGS="plain rate-limit" bench/instructions.sh
#   CONFIGS="plain tls haproxy haproxy-tls" bench/instructions.sh
#                            # what TLS costs protogate and haproxy per call
#   KEEP_WORK=1 ...   # keep the callgrind files, for callgrind_annotate
# Needs valgrind, h2load (nghttp2-client) and, for `tracing`, nginx: it
# plays the OTLP/HTTP collector (answers every POST /v1/traces with 200),
# so the exporter's work (encoding, sending) is counted, the collector's
# is not.

set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PATH="$PATH:/usr/sbin:/sbin"
REL="$ROOT/target/release"
CONFIGS=${CONFIGS:-"plain rate-limit rate-limit-quiet header-map tracing"}
SMALL=${SMALL:-2000}
LARGE=${LARGE:-6000}
WORK=$(mktemp -d /tmp/protogate-instructions.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [[ ${KEEP_WORK:-0} == 1 ]]; then echo "callgrind files kept in $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_listen() { # PORT
  for _ in $(seq 1 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2
  return 1
}

# The 175-byte UnaryCall request bench/run.sh sends.
printf '\x00\x00\x00\x00\x03\x10\xaf\x01' >"$WORK/unary.bin"

OTLP_PORT=$(free_port)
if [[ " $CONFIGS " == *" tracing "* ]]; then
  mkdir -p "$WORK/nginx"
  cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    client_max_body_size 64m;
    server {
        listen 127.0.0.1:$OTLP_PORT;
        location /v1/traces { return 200 ""; }
    }
}
EOF
  nginx -e "$WORK/nginx/error.log" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" &
  PIDS+=($!)
  wait_listen "$OTLP_PORT"
fi

UP_PORT=$(free_port)
"$REL/protogate-demo" --listen "127.0.0.1:$UP_PORT" >/dev/null 2>&1 &
PIDS+=($!)
wait_listen "$UP_PORT"

# TLS configs: the same certificate for protogate and haproxy (ECDSA
# P-256, self-signed, made here).
if [[ " $CONFIGS " == *"tls "* ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$WORK/server.key" -out "$WORK/server.crt" -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
  cat "$WORK/server.crt" "$WORK/server.key" >"$WORK/haproxy.pem"
fi

# haproxy_config NAME PORT: haproxy in front of the same upstream, h2c or
# terminating TLS, for the cost of TLS in a proxy that is not protogate.
haproxy_config() {
  local bind="proto h2"
  [[ $1 == haproxy-tls ]] && bind="ssl crt $WORK/haproxy.pem alpn h2"
  cat <<EOF
global
    nbthread 1
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
frontend bench_in
    bind 127.0.0.1:$2 $bind
    default_backend bench_upstream
backend bench_upstream
    server s1 127.0.0.1:$UP_PORT proto h2
EOF
}

config() { # NAME PORT ADMIN
  local listen="{ address: \"127.0.0.1:$2\" }"
  [[ $1 == tls ]] && listen="{ address: \"127.0.0.1:$2\", tls: { cert: \"$WORK/server.crt\", key: \"$WORK/server.key\" } }"
  cat <<EOF
server:
  listen: [$listen]
  admin: "127.0.0.1:$3"
  threads: 1
upstreams:
  bench: { protocol: grpc, targets: ["127.0.0.1:$UP_PORT"] }
routes:
  - name: test-service
    match: { grpc_service: grpc.testing.TestService }
    upstream: bench
EOF
  case $1 in
    plain | tls) ;;
    rate-limit | rate-limit-quiet)
      cat <<EOF
    plugins:
      - rate_limit:
          headers: $([[ $1 == rate-limit ]] && echo true || echo false)
          key: [client_ip, grpc_method]
          limits:
            - { requests: 1000000, per: 1s }
            - { requests: 1000000000, per: 1h }
EOF
      ;;
    tracing)
      cat <<EOF
tracing:
  otlp: { endpoint: "http://127.0.0.1:$OTLP_PORT" }
  # Full batches, as under load: callgrind runs ~50x slower, so the
  # default 200 ms would send a batch every few calls.
  batch: { size: 512, delay: 30s, queue: 4096 }
plugins:
  - tracing: { sample_ratio: 1.0 }
EOF
      ;;
    header-map)
      cat <<EOF
    plugins:
      - header_map:
          request:
            remove: [x-internal-debug, x-forwarded-proto]
            rename: { x-tenant: customerid }
            set: { x-gateway: protogate, x-client-ip: "\${client_ip}", x-caller: "\${header.user-agent}", grpc-region: eu }
            add: { x-via: protogate, x-hop: "1", x-trace-bin: "AAECAw" }
EOF
      ;;
    *) echo "unknown config $1" >&2; exit 2 ;;
  esac
}

# instructions NAME CALLS: total instructions of one protogate run.
instructions() {
  local port admin out pid
  port=$(free_port)
  admin=$(free_port)
  local cmd scheme=http
  [[ $1 == *tls ]] && scheme=https
  case $1 in
    haproxy | haproxy-tls)
      haproxy_config "$1" "$port" >"$WORK/$1.cfg"
      cmd=(haproxy -db -f "$WORK/$1.cfg")
      ;;
    *)
      config "$1" "$port" "$admin" >"$WORK/$1.yaml"
      cmd=("$REL/protogate" run --config "$WORK/$1.yaml")
      ;;
  esac
  out="$WORK/callgrind.$1.$2"
  RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$out" \
    "${cmd[@]}" >"$WORK/$1.log" 2>&1 &
  pid=$!
  wait_listen "$port"
  h2load -n "$2" -c 4 -m 16 -t 1 -d "$WORK/unary.bin" \
    -H 'content-type: application/grpc' -H 'te: trailers' \
    "$scheme://127.0.0.1:$port/grpc.testing.TestService/UnaryCall" >"$WORK/h2load.$1.$2" 2>&1
  grep -q "$2 succeeded" "$WORK/h2load.$1.$2" || {
    echo "h2load did not complete $2 calls for $1:" >&2
    cat "$WORK/h2load.$1.$2" >&2
    exit 1
  }
  kill -TERM "$pid"
  wait "$pid" || true
  awk '/^(summary|totals):/ { print $2; exit }' "$out"
}

printf '%-12s %14s %14s %16s\n' config "Ir ($SMALL)" "Ir ($LARGE)" "instr/call"
declare -A PER_CALL
for name in $CONFIGS; do
  small=$(instructions "$name" "$SMALL")
  large=$(instructions "$name" "$LARGE")
  PER_CALL[$name]=$(( (large - small) / (LARGE - SMALL) ))
  printf '%-12s %14d %14d %16d\n' "$name" "$small" "$large" "${PER_CALL[$name]}"
done
if [[ -n ${PER_CALL[haproxy]:-} && -n ${PER_CALL[haproxy-tls]:-} ]]; then
  awk -v a="${PER_CALL[haproxy-tls]}" -v b="${PER_CALL[haproxy]}" \
    'BEGIN { printf "haproxy-tls: %+d instructions per call (%+.1f%% of haproxy)\n", a - b, 100 * (a - b) / b }'
fi
if [[ -n ${PER_CALL[plain]:-} ]]; then
  for name in $CONFIGS; do
    [[ $name == plain || $name == haproxy* ]] && continue
    awk -v n="$name" -v a="${PER_CALL[$name]}" -v b="${PER_CALL[plain]}" \
      'BEGIN { printf "%s: %+d instructions per call (%+.1f%% of plain)\n", n, a - b, 100 * (a - b) / b }'
  done
fi
