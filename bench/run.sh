#!/usr/bin/env bash
# bench/run.sh: protogate against its peers, in one run.
#
# The gRPC scenarios are run against five targets: straight to the upstream
# (protogate-demo, tonic), protogate, bare Pingora (bench/bare-pingora, the
# floor protogate builds on), nginx grpc_pass and haproxy. The REST scenario
# (rest-get: GET /v1/products/prod-1 over HTTP/1.1, transcoded to
# ecommerce.v1.ProductService/GetProduct) is run against protogate's
# transcoder and grpc-gateway v1 (bench/grpc-gateway) only; the gRPC-Web
# scenario (grpc-web-175, binary gRPC-Web over HTTP/1.1) against protogate
# and Pingora's own bridge (bare-pingora --grpc-web). The proxy under
# test runs on core 1, the upstream and h2load on core 0, one worker thread
# each. Each measurement starts fresh processes, warms up, then runs a fixed
# number of calls with h2load and reads the proxy's CPU time (utime + stime
# from /proc/PID/stat) before and after, and its peak RSS (VmHWM). Targets
# are interleaved over several rounds; the report quotes medians.
#
# h2load does not read grpc-status, so every call is verified: the upstream
# (`protogate-demo --count-calls`) must have answered warmup + n calls, all
# with grpc-status 0; h2load must report n succeeded and exactly the expected
# number of response body bytes (for REST: n 2xx responses, each the size of
# one probe response fetched with curl first). A scenario that fails this,
# or whose proxy does not start, is marked FAILED and the script exits 1 at
# the end.
#
# Usage (from the repository root):
#   bench/run.sh                 # full run: 5 rounds, about 11 minutes on 2 cores
#   QUICK=1 bench/run.sh         # smoke run: small counts, one round (~1 min)
# Knobs: ROUNDS=N,
#   TARGETS="direct protogate bare-pingora nginx haproxy grpc-gateway"
#   (also, for the gRPC scenarios and not in the default set:
#   protogate-rate-limit, protogate with a local rate limit that never
#   refuses; protogate-tracing, protogate with the tracing plugin at ratio
#   1.0 exporting every span over OTLP/HTTP to an nginx sink on the load
#   core),
#   SCENARIOS="unary-175 unary-64k stream-1000x175 rest-get rest-stream-1000
#   grpc-web-175" (also unary-175-tls: the unary call over TLS against
#   protogate, nginx and haproxy terminating it; not in the default set),
#   SKIP_BUILD=1
#   (skips cargo only: grpc-gateway is always built, from Go's build cache),
#   KEEP_WORK=1 (keep the scratch directory with every log).
# Writes bench/results/latest.md (the report, also printed) and
# bench/results/latest.tsv (one line per measurement).

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PATH="$PATH:/usr/sbin:/sbin"

QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then ROUNDS=${ROUNDS:-1}; else ROUNDS=${ROUNDS:-5}; fi
TARGETS=${TARGETS:-"direct protogate bare-pingora nginx haproxy grpc-gateway"}
SCENARIOS=${SCENARIOS:-"unary-175 unary-64k stream-1000x175 rest-get rest-stream-1000 grpc-web-175"}
H2LOAD_TIMEOUT=${H2LOAD_TIMEOUT:-$([[ $QUICK == 1 ]] && echo 60 || echo 300)}
PROXY_CORE=1
LOAD_CORE=0
RESULTS_DIR="$ROOT/bench/results"
REL="$ROOT/target/release"
GATEWAY_BIN='' # set by build() when grpc-gateway is measured

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- processes

WORK=$(mktemp -d /tmp/protogate-bench.XXXXXX)
chmod 755 "$WORK" # nginx workers may run as another user
PIDS=()

# Every process this script started (and its children, e.g. nginx workers)
# is stopped by pid on exit.
cleanup() {
  local status=$?
  local pid
  for pid in "${PIDS[@]}"; do
    stop_tree "$pid" TERM 2 || true
  done
  if [[ ${KEEP_WORK:-0} == 1 || $status != 0 ]]; then
    log "logs kept in $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# children PID: direct children of PID.
children() {
  if command -v pgrep >/dev/null; then
    pgrep -P "$1" || true
  else
    local f
    for f in /proc/[0-9]*/stat; do
      awk -v p="$1" '{ sub(/.*\) /, ""); if ($2 == p) print FILENAME }' "$f" 2>/dev/null |
        sed -E 's#/proc/([0-9]+)/stat#\1#'
    done
  fi
}

# tree PID: PID and all its descendants.
tree() {
  local pid=$1 child
  echo "$pid"
  for child in $(children "$pid"); do tree "$child"; done
}

alive() { kill -0 "$1" 2>/dev/null; }

# stop_tree PID SIGNAL SECONDS: signal PID, wait, then SIGKILL whatever of
# its tree is left, and reap it.
stop_tree() {
  local pid=$1 sig=$2 secs=$3 p i
  local all
  all=$(tree "$pid")
  kill "-$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < secs * 20; i++)); do
    local any=0
    for p in $all; do alive "$p" && any=1; done
    ((any)) || break
    sleep 0.05
  done
  for p in $all; do
    if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  wait "$pid" 2>/dev/null || true
}

forget() { # forget PID: drop it from the cleanup list
  local keep=() p
  for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

# A free loopback port below the ephemeral range (so no outgoing
# connection can hold it), not listening anywhere, not handed out yet.
USED_PORTS=" "
free_port() {
  local low port
  low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  ((low > 12000)) || low=32768
  local listening
  listening=$(listening_ports)
  for _ in $(seq 1 200); do
    port=$((10000 + RANDOM % (low - 10000)))
    [[ $USED_PORTS == *" $port "* ]] && continue
    grep -qx "$port" <<<"$listening" && continue
    USED_PORTS+="$port "
    echo "$port"
    return 0
  done
  die "no free port found"
}

listening_ports() { # every TCP port in LISTEN state, in decimal
  local hex
  awk 'FNR > 1 && $4 == "0A" { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null |
    while read -r hex; do echo $((16#$hex)); done
}

# wait_listen PORT PID NAME: until something listens on PORT; returns 1
# (with the end of NAME's stderr logged) if PID dies or after 10 s.
wait_listen() {
  local port=$1 pid=$2 name=$3 i
  for ((i = 0; i < 200; i++)); do
    if listening_ports | grep -qx "$port"; then return 0; fi
    if ! alive "$pid"; then
      tail -20 "$WORK/$name.err" >&2 || true
      log "$name exited during startup"
      return 1
    fi
    sleep 0.05
  done
  tail -20 "$WORK/$name.err" >&2 || true
  log "$name does not listen on $port after 10 s"
  return 1
}

# cpu_ticks PIDS...: utime + stime summed, in clock ticks (a process that
# is gone counts 0; measure() checks that they are all alive).
cpu_ticks() {
  local total=0 p t
  for p in "$@"; do
    t=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }') || t=0
    total=$((total + ${t:-0}))
  done
  echo "$total"
}

# peak_rss_kb PIDS...: the largest VmHWM among them.
peak_rss_kb() {
  local max=0 p v
  for p in "$@"; do
    v=$(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || v=0
    ((${v:-0} > max)) && max=$v
  done
  echo "$max"
}

all_alive() { # all_alive PIDS...
  local p
  for p in "$@"; do alive "$p" || return 1; done
}

# ---------------------------------------------------------------- setup

install_missing() {
  local need=()
  command -v h2load >/dev/null || need+=(nghttp2-client)
  command -v nginx >/dev/null || need+=(nginx)
  command -v haproxy >/dev/null || need+=(haproxy)
  command -v taskset >/dev/null || need+=(util-linux)
  command -v curl >/dev/null || need+=(curl)
  ((${#need[@]})) || return 0
  local sudo=()
  [[ $(id -u) == 0 ]] || sudo=(sudo)
  log "installing ${need[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
}

build() {
  if [[ ${SKIP_BUILD:-0} == 1 ]]; then
    log "SKIP_BUILD=1: using the binaries in $REL"
  else
    log "building release binaries (the first build compiles Pingora: 10+ minutes)"
    cargo build --release -p protogate -p protogate-demo -p bare-pingora >&2
  fi
  local b
  for b in protogate protogate-demo bare-pingora; do
    [[ -x $REL/$b ]] || die "$REL/$b is missing"
  done
  # grpc-gateway (Go, from Debian's packages): only when it is measured.
  if [[ " $TARGETS " == *" grpc-gateway "* && " $SCENARIOS " == *" rest-"* ]]; then
    GATEWAY_BIN="$WORK/bin/grpc-gateway-bench"
    log "building grpc-gateway (bench/grpc-gateway/build.sh)"
    "$ROOT/bench/grpc-gateway/build.sh" "$GATEWAY_BIN"
  fi
}

# Request bodies: gRPC frames (flag 0, 4-byte big-endian length, message).
write_requests() {
  # SimpleRequest{response_size: 175}: field 2 varint = 10 af 01
  printf '\x00\x00\x00\x00\x03\x10\xaf\x01' >"$WORK/unary-175.bin"
  cp "$WORK/unary-175.bin" "$WORK/grpc-web-175.bin"
  # SimpleRequest{response_size: 65536}: 10 80 80 04
  printf '\x00\x00\x00\x00\x04\x10\x80\x80\x04' >"$WORK/unary-64k.bin"
  # StreamingOutputCallRequest{response_parameters: 1000 x {size: 175}}:
  # each entry is field 2, length 3, {field 1 varint 175} = 12 03 08 af 01;
  # 5000 bytes = 0x1388.
  {
    printf '\x00\x00\x00\x13\x88'
    for _ in $(seq 1 1000); do printf '\x12\x03\x08\xaf\x01'; done
  } >"$WORK/stream-1000x175.bin"
  [[ $(stat -c %s "$WORK/stream-1000x175.bin") == 5005 ]] || die "bad streaming request file"
}

# Scenario table. Response bytes per call are the DATA payload h2load must
# count: a 175-byte payload is Payload{body} 178 bytes, SimpleResponse (or
# StreamingOutputCallResponse) 181, plus the 5-byte frame header = 186;
# 64 KiB: 65540, 65544, + 5 = 65549. S_KIND is grpc (h2c, POST of
# $S_REQ) or rest (HTTP/1.1 GET, h2load --h1, one request in flight per
# connection); for rest, S_BYTES is measured per target at run time.
# S_BASE is the target the "vs" column divides by.
scenario() { # sets S_* for scenario $1
  S_NAME=$1 S_KIND=grpc S_BASE=bare-pingora S_PROBE_ID=prod-1 S_TLS=0 S_SCHEME=http
  case $1 in
    unary-175-tls)
      # The same calls over TLS (h2 by ALPN): each proxy terminates TLS
      # with the same certificate and speaks h2c to the upstream.
      S_TITLE="Unary call, 175-byte response, over TLS"
      S_TLS=1 S_SCHEME=https S_BASE=haproxy
      S_PATH=/grpc.testing.TestService/UnaryCall
      S_BYTES=186 S_MSGS=1
      if [[ $QUICK == 1 ]]; then S_N=20000 S_WARM=1000; else S_N=200000 S_WARM=5000; fi
      S_C=4 S_M=16
      ;;
    unary-175)
      S_TITLE="Unary call, 175-byte response"
      S_PATH=/grpc.testing.TestService/UnaryCall
      S_BYTES=186 S_MSGS=1
      if [[ $QUICK == 1 ]]; then S_N=20000 S_WARM=1000; else S_N=200000 S_WARM=5000; fi
      S_C=4 S_M=16
      ;;
    unary-64k)
      S_TITLE="Unary call, 64 KiB response"
      S_PATH=/grpc.testing.TestService/UnaryCall
      S_BYTES=65549 S_MSGS=1
      if [[ $QUICK == 1 ]]; then S_N=2000 S_WARM=200; else S_N=20000 S_WARM=1000; fi
      S_C=4 S_M=4
      ;;
    stream-1000x175)
      S_TITLE="Server streaming, 1000 messages of 175 bytes per call"
      S_PATH=/grpc.testing.TestService/StreamingOutputCall
      S_BYTES=186000 S_MSGS=1000
      if [[ $QUICK == 1 ]]; then S_N=200 S_WARM=20; else S_N=2000 S_WARM=100; fi
      S_C=4 S_M=4
      ;;
    rest-get)
      S_TITLE="REST GET transcoded to a unary gRPC call (JSON response)"
      S_KIND=rest S_BASE=grpc-gateway
      S_PATH=/v1/products/prod-1
      S_BYTES='' S_MSGS=1
      if [[ $QUICK == 1 ]]; then S_N=10000 S_WARM=1000; else S_N=100000 S_WARM=5000; fi
      # HTTP/1.1: 100 connections with one request each = 100 in flight.
      S_C=100 S_M=1
      ;;
    rest-stream-1000)
      S_TITLE="REST GET of a server stream: 1000 products as NDJSON per call"
      S_KIND=rest S_BASE=grpc-gateway
      S_PATH='/v1/products?page_size=1000'
      S_BYTES='' S_MSGS=1000 S_PROBE_ID=p-1
      if [[ $QUICK == 1 ]]; then S_N=200 S_WARM=20; else S_N=2000 S_WARM=100; fi
      S_C=4 S_M=1
      ;;
    grpc-web-175)
      S_TITLE="gRPC-Web unary call from HTTP/1.1, 175-byte response"
      S_KIND=grpcweb
      S_PATH=/grpc.testing.TestService/UnaryCall
      S_BYTES='' S_MSGS=1
      if [[ $QUICK == 1 ]]; then S_N=10000 S_WARM=1000; else S_N=100000 S_WARM=5000; fi
      # Browsers' HTTP/1.1: 100 connections with one call each = 100 in flight.
      S_C=100 S_M=1
      ;;
    *) die "unknown scenario $1" ;;
  esac
  S_REQ="$WORK/${1%-tls}.bin"
}

# applies SCENARIO TARGET: whether TARGET takes part in SCENARIO. rest-get
# compares the two REST->gRPC transcoders; grpc-gateway only speaks REST.
# gRPC-Web: protogate against Pingora's own bridge (bare-pingora --grpc-web).
applies() {
  if [[ $1 == *-tls ]]; then
    # TLS termination: protogate against nginx and haproxy.
    [[ $2 == protogate || $2 == nginx || $2 == haproxy ]]
  elif [[ $2 == protogate-rate-limit || $2 == protogate-tracing ]]; then
    # protogate with a plugin that changes no answer: gRPC only.
    [[ $1 != rest-* && $1 != grpc-web-* ]]
  elif [[ $1 == rest-* ]]; then
    [[ $2 == protogate || $2 == grpc-gateway ]]
  elif [[ $1 == grpc-web-* ]]; then
    [[ $2 == protogate || $2 == bare-pingora ]]
  else
    [[ $2 != grpc-gateway ]]
  fi
}

# ---------------------------------------------------------------- targets

# A self-signed certificate for the TLS scenarios (ECDSA P-256, as a
# modern edge would serve), and haproxy's cert+key bundle.
make_tls_files() {
  mkdir -p "$WORK/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$WORK/tls/server.key" -out "$WORK/tls/server.crt" -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
  cat "$WORK/tls/server.crt" "$WORK/tls/server.key" >"$WORK/tls/haproxy.pem"
}

# The `tls:` of protogate's listener in the TLS scenarios.
tls_listen_yaml() {
  if [[ $S_TLS == 1 ]]; then
    printf '\n      tls: { cert: "%s", key: "%s" }' "$WORK/tls/server.crt" "$WORK/tls/server.key"
  fi
}

# An OTLP/HTTP collector that costs next to nothing: nginx on the load
# core answering every POST /v1/traces with 200 (protogate-tracing).
start_otlp_sink() {
  OTLP_PORT=$(free_port)
  mkdir -p "$WORK/otlp"
  cat >"$WORK/otlp/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/otlp/nginx.pid;
error_log $WORK/otlp/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $WORK/otlp/body;
    client_max_body_size 64m;
    server {
        listen 127.0.0.1:$OTLP_PORT;
        location /v1/traces { return 200 ""; }
    }
}
EOF
  taskset -c "$LOAD_CORE" nginx -e "$WORK/otlp/error.log" -p "$WORK/otlp" \
    -c "$WORK/otlp/nginx.conf" 2>"$WORK/otlp-sink.err" &
  local pid=$!
  PIDS+=("$pid")
  wait_listen "$OTLP_PORT" "$pid" otlp-sink
}

UP_PID='' UP_PORT='' PX_PID='' PX_PORT=''

start_upstream() {
  UP_PORT=$(free_port)
  TOKIO_WORKER_THREADS=1 RUST_LOG=warn taskset -c "$LOAD_CORE" \
    "$REL/protogate-demo" --listen "127.0.0.1:$UP_PORT" --count-calls --extra-products 1000 \
    >"$WORK/upstream.out" 2>"$WORK/upstream.err" &
  UP_PID=$!
  PIDS+=("$UP_PID")
  wait_listen "$UP_PORT" "$UP_PID" upstream || die "the upstream did not start"
}

# stop_upstream: SIGTERM, then echo its "calls: N ok: N failed: N" line.
stop_upstream() {
  stop_tree "$UP_PID" TERM 15
  forget "$UP_PID"
  grep -m1 '^calls:' "$WORK/upstream.out" || echo "calls: ? ok: ? failed: ?"
}

# start_proxy TARGET: sets PX_PID, PX_PORT (the port to load); returns 1 if
# the proxy does not start.
start_proxy() {
  local target=$1
  if [[ $target == direct ]]; then
    PX_PID='' PX_PORT=$UP_PORT
    return 0
  fi
  PX_PORT=$(free_port)
  local cmd
  case $target in
    protogate | protogate-rate-limit | protogate-tracing)
      local admin
      admin=$(free_port)
      if [[ $S_KIND == rest ]]; then
        # REST/JSON on /v1/ transcoded by the transcoder plugin, with the
        # bindings from product.proto's google.api.http annotations.
        cat >"$WORK/protogate.yaml" <<EOF
server:
  listen:
    - address: "127.0.0.1:$PX_PORT"
  admin: "127.0.0.1:$admin"
  threads: 1
descriptors:
  - path: "$ROOT/protos/ecommerce/v1/product.proto"
    import_paths: ["$ROOT/protos"]
upstreams:
  bench:
    protocol: grpc
    targets: ["127.0.0.1:$UP_PORT"]
    connect_timeout: 1s
routes:
  - name: products-rest
    match: { path_prefix: /v1/ }
    upstream: bench
    plugins:
      - transcoder: { services: [ecommerce.v1.ProductService] }
EOF
      else
        cat >"$WORK/protogate.yaml" <<EOF
server:
  listen:
    - address: "127.0.0.1:$PX_PORT"$(tls_listen_yaml)
  admin: "127.0.0.1:$admin"
  threads: 1
upstreams:
  bench:
    protocol: grpc
    targets: ["127.0.0.1:$UP_PORT"]
    connect_timeout: 1s
routes:
  - name: test-service
    match: { grpc_service: grpc.testing.TestService }
    upstream: bench
EOF
        if [[ $target == protogate-rate-limit ]]; then
          # Checked on every call, never refusing: the cost of the check,
          # the key and the RateLimit headers on each answer.
          cat >>"$WORK/protogate.yaml" <<EOF
    plugins:
      - rate_limit:
          key: [client_ip, grpc_method]
          limits:
            - { requests: 1000000, per: 1s }
            - { requests: 1000000000, per: 1h }
EOF
        elif [[ $target == protogate-tracing ]]; then
          # Every call traced and both of its spans exported, the
          # exporter's thread on the proxy's core.
          cat >>"$WORK/protogate.yaml" <<EOF
    plugins:
      - tracing: { sample_ratio: 1.0 }
tracing:
  otlp: { endpoint: "http://127.0.0.1:$OTLP_PORT" }
EOF
        fi
      fi
      cmd=("$REL/protogate" run --config "$WORK/protogate.yaml")
      ;;
    bare-pingora)
      cmd=("$REL/bare-pingora" "127.0.0.1:$PX_PORT" "127.0.0.1:$UP_PORT")
      [[ $S_KIND == grpcweb ]] && cmd+=(--grpc-web)
      ;;
    nginx)
      mkdir -p "$WORK/nginx"
      cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    # Without these, nginx closes every client and upstream connection
    # after 1000 requests (h2load does not reconnect).
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    upstream bench_upstream {
        server 127.0.0.1:$UP_PORT;
        # nginx sends one call per upstream connection at a time; keep
        # enough idle connections for every concurrent stream.
        keepalive 256;
        keepalive_requests 100000000;
        keepalive_timeout 300s;
    }
    server {
        listen 127.0.0.1:$PX_PORT $([[ $S_TLS == 1 ]] && echo "ssl ")http2;
$([[ $S_TLS == 1 ]] && printf '        ssl_certificate %s;\n        ssl_certificate_key %s;\n' "$WORK/tls/server.crt" "$WORK/tls/server.key")
        location / {
            grpc_pass grpc://bench_upstream;
        }
    }
}
EOF
      cmd=(nginx -e "$WORK/nginx/error.log" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf")
      ;;
    haproxy)
      cat >"$WORK/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s

frontend bench_in
    bind 127.0.0.1:$PX_PORT $([[ $S_TLS == 1 ]] && echo "ssl crt $WORK/tls/haproxy.pem alpn h2" || echo "proto h2")
    default_backend bench_upstream

backend bench_upstream
    server s1 127.0.0.1:$UP_PORT proto h2
EOF
      cmd=(haproxy -db -f "$WORK/haproxy.cfg")
      ;;
    grpc-gateway)
      # Go: GOMAXPROCS=1 is its one worker thread.
      cmd=(env GOMAXPROCS=1 "$GATEWAY_BIN" -listen "127.0.0.1:$PX_PORT" -upstream "127.0.0.1:$UP_PORT")
      ;;
    *) die "unknown target $target" ;;
  esac
  RUST_LOG=warn taskset -c "$PROXY_CORE" "${cmd[@]}" \
    >"$WORK/$target.out" 2>"$WORK/$target.err" &
  PX_PID=$!
  PIDS+=("$PX_PID")
  wait_listen "$PX_PORT" "$PX_PID" "$target"
}

stop_proxy() { # stop_proxy TARGET
  [[ -n $PX_PID ]] || return 0
  # Pingora: SIGINT is the fast shutdown (SIGTERM drains for the grace
  # period). nginx, haproxy and grpc-gateway: SIGTERM is the fast one.
  case $1 in
    protogate | bare-pingora) stop_tree "$PX_PID" INT 10 ;;
    *) stop_tree "$PX_PID" TERM 10 ;;
  esac
  forget "$PX_PID"
  PX_PID=
}

# h2load RUN N OUT [LOGFILE]
h2load_run() {
  local n=$1 out=$2 logfile=${3:-}
  local extra=()
  [[ -n $logfile ]] && extra=(--log-file="$logfile")
  if [[ $S_KIND == rest ]]; then
    extra+=(--h1)
  elif [[ $S_KIND == grpcweb ]]; then
    extra+=(--h1 -d "$S_REQ" -H 'content-type: application/grpc-web+proto' -H 'x-grpc-web: 1')
  else
    extra+=(-d "$S_REQ" -H 'content-type: application/grpc' -H 'te: trailers')
  fi
  local status=0
  timeout "$H2LOAD_TIMEOUT" taskset -c "$LOAD_CORE" h2load \
    -n "$n" -c "$S_C" -m "$S_M" -t 1 \
    "${extra[@]}" "$S_SCHEME://127.0.0.1:$PX_PORT$S_PATH" >"$out" 2>&1 || status=$?
  return "$status"
}

# rest_probe OUT: one GET of $S_PATH with curl, the body to OUT. Sets
# S_BYTES to its size (what every measured response must have, since the
# JSON encoding differs between transcoders), and PROBE_PROBLEM to what is
# wrong, or to nothing if the answer is a 200 with product prod-1.
rest_probe() {
  local out=$1 code
  rm -f "$out"
  code=$(curl -sS -o "$out" -w '%{http_code}' --max-time 10 "http://127.0.0.1:$PX_PORT$S_PATH" 2>&1) || true
  S_BYTES=$(stat -c %s "$out" 2>/dev/null || echo 0)
  PROBE_PROBLEM=''
  if [[ $code != 200 ]]; then
    PROBE_PROBLEM="probe GET $S_PATH: HTTP ${code:-?}: $(head -c 200 "$out" 2>/dev/null)"
  elif ! grep -q "\"id\": *\"$S_PROBE_ID\"" "$out"; then
    PROBE_PROBLEM="probe GET $S_PATH: no \"id\":\"$S_PROBE_ID\" in $(head -c 200 "$out")"
  fi
}

# grpcweb_probe OUT: one gRPC-Web call of $S_PATH with curl, the body to
# OUT. Sets S_BYTES to its size (the trailer frame's text differs between
# bridges) and PROBE_PROBLEM as rest_probe does: the answer must be a 200
# whose trailer frame says grpc-status 0.
grpcweb_probe() {
  local out=$1 code
  rm -f "$out"
  code=$(curl -sS -o "$out" -w '%{http_code}' --max-time 10 --data-binary "@$S_REQ" \
    -H 'content-type: application/grpc-web+proto' -H 'x-grpc-web: 1' \
    "http://127.0.0.1:$PX_PORT$S_PATH" 2>&1) || true
  S_BYTES=$(stat -c %s "$out" 2>/dev/null || echo 0)
  PROBE_PROBLEM=''
  if [[ $code != 200 ]]; then
    PROBE_PROBLEM="probe POST $S_PATH: HTTP ${code:-?}"
  elif ! grep -aqE 'grpc-status: ?0' "$out"; then
    PROBE_PROBLEM="probe POST $S_PATH: no grpc-status 0 trailer frame in $(head -c 300 "$out" | od -c | head -5)"
  fi
}

# ---------------------------------------------------------------- one measurement

TSV="$WORK/results.tsv"
FAILURES=()

# measure SCENARIO TARGET ROUND: appends one line to $TSV.
measure() {
  local target=$2 round=$3
  scenario "$1"
  log "round $round/$ROUNDS  $S_NAME  $target"
  start_upstream
  if ! start_proxy "$target"; then
    # Recorded as a failed measurement (all figures 0), so the other
    # targets and scenarios still run.
    local why="$target did not start (its stderr: $WORK/failed-$S_NAME-$target-$round.err)"
    cp "$WORK/$target.err" "$WORK/failed-$S_NAME-$target-$round.err" 2>/dev/null || true
    stop_proxy "$target"
    stop_upstream >/dev/null
    FAILURES+=("$S_NAME $target round $round: $why")
    printf '%s\t%s\t%s\t%s\t%s\t0\t0\t0\t0\t0\t0\t0\t0\t0\t%s\t0\t0\t0\n' \
      "$S_NAME" "$target" "$round" "$S_N" "$S_MSGS" "FAILED: $why" >>"$TSV"
    log "  FAILED: $why"
    return 0
  fi

  local warm_out="$WORK/h2load-warm.out" out="$WORK/h2load.out" lat="$WORK/latency.log"
  rm -f "$warm_out" "$out" "$lat"
  local h2status=0 probes=0
  PROBE_PROBLEM=''
  if [[ $S_KIND == rest ]]; then
    # One GET first: its body size is what every measured response must
    # have (checked through h2load's data byte count), and the upstream
    # counts it as one more call.
    rest_probe "$WORK/rest-probe-$target.json"
    probes=1
    log "  probe: $S_BYTES-byte JSON response"
  elif [[ $S_KIND == grpcweb ]]; then
    grpcweb_probe "$WORK/grpcweb-probe-$target.bin"
    probes=1
    log "  probe: $S_BYTES-byte gRPC-Web response"
  fi
  h2load_run "$S_WARM" "$warm_out" || h2status=$?

  local px_pids=() up_pids
  [[ -n $PX_PID ]] && mapfile -t px_pids < <(tree "$PX_PID")
  mapfile -t up_pids < <(tree "$UP_PID")
  local px0=0 up0
  ((${#px_pids[@]})) && px0=$(cpu_ticks "${px_pids[@]}")
  up0=$(cpu_ticks "${up_pids[@]}")

  rm -f "$lat"
  local busy0 busy1 t0 t1 h2cpu=0
  busy0=$(machine_busy_ticks)
  t0=$(date +%s%N)
  if ((h2status == 0)); then
    # h2load's own CPU (user + sys of the timed command and its children).
    local TIMEFORMAT='%3U %3S'
    { time h2load_run "$S_N" "$out" "$lat" || h2status=$?; } 2>"$WORK/h2load.time"
    h2cpu=$(awk '{ printf "%d", ($1 + $2) * 1000000 }' "$WORK/h2load.time")
  fi
  t1=$(date +%s%N)
  busy1=$(machine_busy_ticks)

  local died=()
  all_alive "${px_pids[@]}" || died+=("$target exited during the run")
  all_alive "${up_pids[@]}" || died+=("upstream exited during the run")
  local px1=0 up1 px_rss=0 up_rss
  ((${#px_pids[@]})) && px1=$(cpu_ticks "${px_pids[@]}") && px_rss=$(peak_rss_kb "${px_pids[@]}")
  up1=$(cpu_ticks "${up_pids[@]}")
  up_rss=$(peak_rss_kb "${up_pids[@]}")

  stop_proxy "$target"
  local calls
  calls=$(stop_upstream)

  # h2load's summary.
  local rps=0 succeeded=0 failed=0 errored=0 timeouts=0 data=0 p50=0 p99=0 ok2xx=0
  if [[ -s $out ]]; then
    ok2xx=$(sed -nE 's/^status codes: ([0-9]+) 2xx.*/\1/p' "$out")
    rps=$(awk '/^finished in/ { for (i = 1; i <= NF; i++) if ($(i) == "req/s,") print $(i - 1) }' "$out")
    read -r succeeded failed errored timeouts < <(awk '/^requests:/ {
      for (i = 1; i <= NF; i++) { if ($(i) ~ /^succeeded/) s = $(i - 1); if ($(i) ~ /^failed/) f = $(i - 1);
        if ($(i) ~ /^errored/) e = $(i - 1); if ($(i) ~ /^timeout/) t = $(i - 1) }
      print s, f, e, t }' "$out")
    data=$(sed -nE 's/^traffic:.*\(([0-9]+)\) data.*/\1/p' "$out")
  fi
  if [[ -s $lat ]]; then
    read -r p50 p99 < <(awk '{ print $3 }' "$lat" | sort -n | awk '{ v[NR] = $1 }
      END { i50 = int(NR * 0.50 + 0.5); i99 = int(NR * 0.99 + 0.5); if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1;
            print v[i50], v[i99] }')
  fi
  rm -f "$lat"

  # Verification.
  local up_ok up_failed problems=()
  read -r up_ok up_failed < <(awk '{ print $4, $6 }' <<<"$calls")
  local expect_calls=$((S_WARM + S_N + probes)) expect_data=$((S_N * ${S_BYTES:-0}))
  [[ -z $PROBE_PROBLEM ]] || problems+=("$PROBE_PROBLEM")
  ((h2status == 0)) || problems+=("h2load exit $h2status$([[ $h2status == 124 ]] && echo ' (timed out)')")
  [[ ${succeeded:-0} == "$S_N" ]] || problems+=("h2load succeeded ${succeeded:-?}/$S_N")
  [[ $S_KIND == grpc || ${ok2xx:-0} == "$S_N" ]] || problems+=("h2load 2xx ${ok2xx:-?}/$S_N")
  [[ "${failed:-0}/${errored:-0}/${timeouts:-0}" == 0/0/0 ]] || problems+=("h2load failed/errored/timeout ${failed}/${errored}/${timeouts}")
  [[ ${data:-0} == "$expect_data" ]] || problems+=("response bytes ${data:-?}, expected $expect_data")
  [[ $up_ok == "$expect_calls" ]] || problems+=("upstream ok $up_ok, expected $expect_calls")
  [[ $up_failed == 0 ]] || problems+=("upstream failed $up_failed")
  problems+=("${died[@]}")
  local verdict=ok
  if ((${#problems[@]})); then
    verdict="FAILED: $(IFS=';'; echo "${problems[*]}")"
    FAILURES+=("$S_NAME $target round $round: ${verdict#FAILED: }")
    log "  $verdict"
    local shown=$out
    [[ -s $out ]] || shown=$warm_out
    log "  h2load output: $(tr '\n' ' ' <"$shown" 2>/dev/null | tail -c 600)"
    cp "$shown" "$WORK/failed-$S_NAME-$target-$round.h2load" 2>/dev/null || true
    cp "$WORK/$target.err" "$WORK/failed-$S_NAME-$target-$round.err" 2>/dev/null || true
  fi

  local clk px_us up_us wall_us other_us
  clk=$(getconf CLK_TCK)
  px_us=$(((px1 - px0) * 1000000 / clk))
  up_us=$(((up1 - up0) * 1000000 / clk))
  wall_us=$(((t1 - t0) / 1000))
  # CPU the whole machine spent in the window that is none of ours.
  other_us=$(((busy1 - busy0) * 1000000 / clk - px_us - up_us - h2cpu))
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$S_NAME" "$target" "$round" "$S_N" "$S_MSGS" "${rps:-0}" "$p50" "$p99" \
    "$px_us" "$up_us" "$px_rss" "$up_rss" "${succeeded:-0}" "$up_ok" "$verdict" \
    "$wall_us" "$h2cpu" "$other_us" >>"$TSV"
  log "  $(awk -F'\t' 'END { printf "%s req/s  p50 %s us  p99 %s us  proxy %.2f us/call  upstream %.2f us/call  h2load %.2f us/call  other %.0f%%  rss %s KiB  upstream ok %s  %s",
    $6, $7, $8, $9 / $4, $10 / $4, $17 / $4, ($16 > 0 ? 100 * $18 / $16 : 0), $11, $14, $15 }' "$TSV")"
}

# machine_busy_ticks: user + nice + system + irq + softirq of all CPUs.
machine_busy_ticks() {
  awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat
}

# ---------------------------------------------------------------- report

median() { # median of the numbers on stdin
  sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# col SCENARIO TARGET FIELD: that field of every round, one per line.
col() { awk -F'\t' -v s="$1" -v t="$2" -v f="$3" '$1 == s && $2 == t { print $(f) }' "$TSV"; }

machine_info() {
  local cpu kernel commit dirty=""
  cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  kernel=$(uname -sr)
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  [[ -n $(git status --porcelain 2>/dev/null) ]] && dirty=" (with uncommitted changes)"
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); protogate commit $commit$dirty"
  echo "- machine: $(nproc) CPUs, $cpu; $kernel$(grep -q hypervisor /proc/cpuinfo && echo ', virtual machine')"
  echo "- protogate $("$REL/protogate" --version 2>/dev/null | awk '{ print $2 }'), Pingora $(lock_version pingora-core), upstream protogate-demo on tonic $(lock_version tonic) / hyper $(lock_version hyper)"
  echo "- $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(haproxy -v 2>&1 | head -1 | awk '{ print "HAProxy " $3 }'), $(h2load --version 2>&1 | head -1), $(rustc --version 2>/dev/null || echo 'rustc ?')"
  if [[ -n $GATEWAY_BIN ]]; then
    echo "- grpc-gateway $(dpkg-query -W -f='${Version}' golang-github-grpc-ecosystem-grpc-gateway-dev 2>/dev/null) with grpc-go $(dpkg-query -W -f='${Version}' golang-google-grpc-dev 2>/dev/null) (Debian packages), $(go version 2>/dev/null | awk '{ print $3 }'), GOMAXPROCS=1"
  fi
  echo "- other processes during the measured windows: median $(other_pct | median)%, at most $(other_pct | sort -g | tail -1)% of one core (anything else running skews calls/s and latency more than CPU per call)"
  echo "- pinning: proxy on core $PROXY_CORE; upstream (TOKIO_WORKER_THREADS=1) and h2load (-t 1) on core $LOAD_CORE; one worker thread per proxy; $ROUNDS round(s), targets interleaved, medians quoted$([[ $QUICK == 1 ]] && echo '; QUICK=1 smoke run, small counts')"
}

# base_ratio SCENARIO TARGET BASE: the target's CPU over BASE's (bare
# Pingora, or grpc-gateway for REST) in the same round, median [min-max]
# over the rounds; "–" without BASE.
base_ratio() {
  local ratios
  ratios=$(awk -F'\t' -v s="$1" -v t="$2" -v base="$3" '$1 == s && $2 == base { b[$3] = $9 }
    $1 == s && $2 == t { c[$3] = $9 }
    END { for (r in c) if (b[r] > 0) printf "%.4f\n", c[r] / b[r] }' "$TSV")
  if [[ -z $ratios ]]; then echo "–"; return; fi
  echo "$(fmt "$(median <<<"$ratios")" 2)x [$(fmt "$(sort -g <<<"$ratios" | head -1)" 2)-$(fmt "$(sort -g <<<"$ratios" | tail -1)" 2)]"
}

other_pct() { # other CPU of each measurement, in % of one core
  awk -F'\t' '$16 > 0 { o = $18 < 0 ? 0 : $18; printf "%.0f\n", 100 * o / $16 }' "$TSV"
}

lock_version() {
  awk -v n="$1" '$0 == "name = \"" n "\"" { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

fmt() { awk -v v="$1" -v d="$2" 'BEGIN { printf "%." d "f", v }'; }

report() {
  echo "# protogate benchmark"
  echo
  machine_info
  echo
  echo "CPU is the proxy's own utime + stime over the measured calls (nginx: master +"
  echo "worker), divided by the calls (or streamed messages). Latency is per call, to the"
  echo "end of the response (the whole stream for streaming), from h2load's per-request log."
  echo "Peak RSS is VmHWM of the proxy process (nginx: the worker). \"upstream\" is the tonic"
  echo "upstream's CPU per call, the same work whichever proxy is in front."
  echo "CPU is given as median [min-max] over the rounds. \"vs bare Pingora\": the proxy's CPU"
  echo "over bare Pingora's in the same round, median [min-max] over the rounds; consecutive"
  echo "measurements on a shared VM differ by 10-30%, so only larger gaps mean something."
  echo "\"calls verified\": in how many rounds h2load saw every call succeed with exactly the"
  echo "expected response bytes and the upstream answered every call (warmup included) with"
  echo "grpc-status 0."
  echo "REST (rest-get): HTTP/1.1 over 100 connections, one request in flight on each;"
  echo "protogate's transcoder against grpc-gateway v1, and \"vs grpc-gateway\" in place of"
  echo "\"vs bare Pingora\". A call is verified when h2load saw a 2xx with exactly the bytes"
  echo "of one probe response fetched with curl before the warmup (JSON encodings differ"
  echo "between transcoders), and the upstream answered probe + warmup + calls with status 0."
  echo "gRPC-Web (grpc-web-175): binary gRPC-Web over HTTP/1.1, 100 connections with one"
  echo "call in flight on each; protogate against Pingora's own GrpcWebBridge module"
  echo "(bare-pingora --grpc-web). Verified like REST, against one probe call's bytes."
  echo "TLS (unary-175-tls): the unary calls over TLS 1.3 (ECDSA P-256 certificate made"
  echo "by the script), each proxy terminating it and speaking h2c upstream; \"vs haproxy\""
  echo "in place of \"vs bare Pingora\". What TLS costs a proxy per call is its CPU here"
  echo "minus its CPU in the cleartext unary-175 run."
  echo "\"core use\": CPU over the wall time of the measured run, for the proxy (core 1)"
  echo "and for the upstream plus h2load (core 0); the side near 100% is what limits calls/s."
  local s t
  for s in $SCENARIOS; do
    scenario "$s"
    echo
    echo "## $S_TITLE"
    echo
    local h1='' what=$S_PATH vs="vs bare Pingora"
    [[ $S_KIND == rest ]] && h1='--h1 ' what="GET $S_PATH" vs="vs grpc-gateway"
    [[ $S_TLS == 1 ]] && h1='(TLS, h2 by ALPN) ' vs="vs haproxy"
    [[ $S_KIND == grpcweb ]] && h1='--h1 ' what="POST $S_PATH (application/grpc-web+proto)"
    echo "h2load $h1-n $S_N -c $S_C -m $S_M (after $S_WARM warmup calls), \`$what\`"
    echo
    if ((S_MSGS > 1)); then
      echo "| target | calls/s | msgs/s | p50 ms | p99 ms | proxy CPU µs/msg | $vs | upstream CPU µs/msg | core use proxy / load | proxy peak RSS MiB | calls verified |"
      echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    else
      echo "| target | calls/s | p50 ms | p99 ms | proxy CPU µs/call | $vs | upstream CPU µs/call | core use proxy / load | proxy peak RSS MiB | calls verified |"
      echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    fi
    local per=$((S_N * S_MSGS))
    for t in $TARGETS; do
      [[ -n $(col "$s" "$t" 2) ]] || continue
      local rps p50 p99 cpu cpumin cpumax up rss verified rounds okrounds
      rps=$(col "$s" "$t" 6 | median)
      p50=$(col "$s" "$t" 7 | median)
      p99=$(col "$s" "$t" 8 | median)
      cpu=$(col "$s" "$t" 9 | median)
      cpumin=$(col "$s" "$t" 9 | sort -g | head -1)
      cpumax=$(col "$s" "$t" 9 | sort -g | tail -1)
      up=$(col "$s" "$t" 10 | median)
      rss=$(col "$s" "$t" 11 | median)
      rounds=$(col "$s" "$t" 15 | wc -l)
      okrounds=$(col "$s" "$t" 15 | grep -cx ok || true)
      if ((okrounds == rounds)); then
        verified="yes ($rounds/$rounds)"
      else
        verified="**FAILED** ($((rounds - okrounds))/$rounds)"
      fi
      local cpu_s rel rss_s
      if [[ $t == direct ]]; then
        cpu_s="–" rel="–" rss_s="–"
      else
        cpu_s="$(fmt "$(awk -v c="$cpu" -v n="$per" 'BEGIN { print c / n }')" 2) [$(fmt "$(awk -v c="$cpumin" -v n="$per" 'BEGIN { print c / n }')" 2)-$(fmt "$(awk -v c="$cpumax" -v n="$per" 'BEGIN { print c / n }')" 2)]"
        rel=$(base_ratio "$s" "$t" "$S_BASE")
        rss_s=$(fmt "$(awk -v r="$rss" 'BEGIN { print r / 1024 }')" 1)
      fi
      local up_s busy_px busy_load use_s
      up_s=$(fmt "$(awk -v c="$up" -v n="$per" 'BEGIN { print c / n }')" 2)
      busy_px=$(awk -F'\t' -v s="$s" -v t="$t" '$1 == s && $2 == t && $16 > 0 { printf "%.0f\n", 100 * $9 / $16 }' "$TSV" | median)
      busy_load=$(awk -F'\t' -v s="$s" -v t="$t" '$1 == s && $2 == t && $16 > 0 { printf "%.0f\n", 100 * ($10 + $17) / $16 }' "$TSV" | median)
      use_s="$(fmt "$busy_px" 0)% / $(fmt "$busy_load" 0)%"
      [[ $t == direct ]] && use_s="– / $(fmt "$busy_load" 0)%"
      if ((S_MSGS > 1)); then
        echo "| $t | $(fmt "$rps" 0) | $(fmt "$(awk -v r="$rps" -v m="$S_MSGS" 'BEGIN { print r * m }')" 0) | $(fmt "$(awk -v v="$p50" 'BEGIN { print v / 1000 }')" 2) | $(fmt "$(awk -v v="$p99" 'BEGIN { print v / 1000 }')" 2) | $cpu_s | $rel | $up_s | $use_s | $rss_s | $verified |"
      else
        echo "| $t | $(fmt "$rps" 0) | $(fmt "$(awk -v v="$p50" 'BEGIN { print v / 1000 }')" 3) | $(fmt "$(awk -v v="$p99" 'BEGIN { print v / 1000 }')" 3) | $cpu_s | $rel | $up_s | $use_s | $rss_s | $verified |"
      fi
    done
  done
  if ((${#FAILURES[@]})); then
    echo
    echo "## FAILED"
    echo
    local f
    for f in "${FAILURES[@]}"; do echo "- $f"; done
  fi
}

# ---------------------------------------------------------------- main

[[ $(nproc) -ge 2 ]] || die "needs at least 2 CPUs (proxy on core 1, load on core 0)"
install_missing
build
write_requests
: >"$TSV"
OTLP_PORT=''
if [[ " $TARGETS " == *" protogate-tracing "* ]]; then start_otlp_sink; fi
if [[ " $SCENARIOS " == *"-tls "* ]]; then make_tls_files; fi

for ((round = 1; round <= ROUNDS; round++)); do
  for s in $SCENARIOS; do
    target_list=()
    for t in $TARGETS; do
      if applies "$s" "$t"; then target_list+=("$t"); fi
    done
    # Rotate the target order every round so no target always goes first.
    n=${#target_list[@]}
    for ((i = 0; i < n; i++)); do
      measure "$s" "${target_list[$(((i + round - 1) % n))]}" "$round"
    done
  done
done

mkdir -p "$RESULTS_DIR"
{
  printf 'scenario\ttarget\tround\tcalls\tmsgs_per_call\treq_per_s\tp50_us\tp99_us\tproxy_cpu_us\tupstream_cpu_us\tproxy_rss_kib\tupstream_rss_kib\th2load_succeeded\tupstream_ok\tverdict\twall_us\th2load_cpu_us\tother_cpu_us\n'
  cat "$TSV"
} >"$RESULTS_DIR/latest.tsv"
report | tee "$RESULTS_DIR/latest.md"
log "wrote $RESULTS_DIR/latest.md and latest.tsv"

if ((${#FAILURES[@]})); then
  log "FAILED: ${#FAILURES[@]} measurement(s) did not verify:"
  for f in "${FAILURES[@]}"; do log "  $f"; done
  exit 1
fi
