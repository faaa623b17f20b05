#!/usr/bin/env bash
# `make bench`: medstream against the two VoiceAssist-dialect peers
# (../shared/peers: FastAPI/uvicorn and Node ws) under the same load, in one
# run, with `medstream bench` as the load generator; writes the "## Load"
# section of docs/performance.md (bench/perf_doc.py).
#
#   bench/run.sh [--bin build/medstream] [--write docs/performance.md] [--quick]
#
# Scenarios (counts overridable through the environment, see below):
#   1 idle      18,000 authenticated idle connections: server RSS per connection
#   2 stream    1,000 connections x 64 chunks x 16 bytes, no pause: chunk frames/s
#   3 paced     10,000 connections at 50 chunks/s (SYN_INTERVAL_MS=20): TTFC,
#               jitter, server CPU; plus the same at 1,000, 2,000 and 3,000
#               connections (PACED_SWEEP), to find each server's capacity
#   4 callgrind instructions per delivered chunk (medstream under valgrind)
#   5 floor     tcp-floor: the kernel's own cost per small loopback TCP
#               message, one send() each (no server, no WebSocket)
#
# Every server gets a fresh process and data directory per scenario; all
# traffic stays on loopback; every started process is killed on exit. The
# whole run is bounded (each bench has --timeout-s) and takes about 10 to 15
# minutes on 2 cores.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/build-bench/medstream
WRITE=$ROOT/docs/performance.md
QUICK=0
while [ $# -gt 0 ]; do
    case $1 in
    --bin) BIN=$(realpath "$2"); shift 2 ;;
    --write) WRITE=$(realpath -m "$2"); shift 2 ;;
    --quick) QUICK=1; shift ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

# Load sizes. --quick is a smoke test of the script itself, not a result.
if [ $QUICK = 1 ]; then
    : "${IDLE_N:=500}" "${IDLE_HOLD_S:=2}" "${TP_N:=100}" "${TP_M:=2}"
    : "${PACED_N:=300}" "${PACED_SWEEP:=100}" "${PACED_M:=1}" "${CG_N:=5}" "${CG_M:=1}"
    : "${FLOOR_S:=1}"
fi
: "${IDLE_N:=18000}" "${IDLE_HOLD_S:=10}"
: "${TP_N:=1000}" "${TP_M:=10}"
: "${PACED_N:=10000}" "${PACED_SWEEP:=1000 2000 3000}" "${PACED_M:=2}" "${PACED_RAMP_MS:=1000}"
: "${FLOOR_S:=3}"
: "${PACED_TIMEOUT_S:=100}"
: "${CG_N:=50}" "${CG_M:=2}"
export SYN_CHUNKS=64 SYN_CHUNK_BYTES=16

PEERS=$ROOT/../shared/peers
NODE_DIR=$ROOT/build-bench/peers/node-ws # a copy: never write into ../shared
RESULTS=$ROOT/build-bench/bench-results
WORK=$(mktemp -d /tmp/medstream-bench.XXXXXX)
BENCH_EMAIL=bench@example.org
BENCH_PASSWORD=benchpass123 # a throw-away user of a throw-away data directory
export MEDSTREAM_PASSWORD=$BENCH_PASSWORD
PIDS=()
SRC_NET=0 # each bench gets its own 127.0.x.0/24 source addresses: fresh ports

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

cleanup() {
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    sleep 1
    for p in "${PIDS[@]}"; do
        kill -9 "$p" 2>/dev/null
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM

# Servers hold up to 18,000 sockets: give them the hard open-files limit.
ulimit -n "$(ulimit -Hn)"

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_http PORT PATH SECONDS PID: until GET answers, or the process died.
wait_http() {
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1$2" && return 0
        kill -0 "$4" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

stop() { # PID: TERM, then KILL after 10 s
    local p=$1 i
    kill "$p" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$p" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    return 0
}

# The load generator is one user on many connections: every server run
# lifts the per-user and per-connection admission limits (each to its
# configured maximum) so that they measure the gateway, not the limits.
LIFT=(--log-level warn --login-rate-per-min 1000 --max-connections 19000
    --max-live-turns 1000000 --max-turns-per-user 100000 --user-turns-per-min 1000000
    --ws-rate-per-s 0 --ws-max-inflight 1000)

# start_medstream NAME [ENV=VALUE...]: sets PORT and PID.
start_medstream() {
    local name=$1
    shift
    PORT=$(free_port)
    mkdir -p "$WORK/$name"
    env "$@" "$BIN" serve --provider synthetic --listen "127.0.0.1:$PORT" \
        --data-dir "$WORK/$name/data" "${LIFT[@]}" >"$WORK/$name/server.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    wait_http "$PORT" /health 30 "$PID" || { log "medstream did not start: $(tail -3 "$WORK/$name/server.log")"; return 1; }
}

start_node() {
    PORT=$(free_port)
    (cd "$NODE_DIR" && exec env "$@" PORT="$PORT" node server.js) >"$WORK/node.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    wait_http "$PORT" /health 30 "$PID" || { log "node-ws did not start: $(tail -3 "$WORK/node.log")"; return 1; }
}

start_uvicorn() {
    PORT=$(free_port)
    env "$@" PORT="$PORT" /usr/bin/python3 "$PEERS/fastapi/server.py" >"$WORK/uvicorn.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    wait_http "$PORT" /health 30 "$PID" || { log "uvicorn did not start: $(tail -3 "$WORK/uvicorn.log")"; return 1; }
}

# The dialect medstream is measured with: VoiceAssist when it serves
# /api/realtime/ws (another issue adds it), else its native protocol.
medstream_target() { # PORT -> sets MS_ARGS
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
        -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
        -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "http://127.0.0.1:$1/api/realtime/ws")
    if [ "$code" = 101 ]; then
        MS_DIALECT=voiceassist
        MS_ARGS=(--url "ws://127.0.0.1:$1/api/realtime/ws" --dialect voiceassist)
    else
        MS_DIALECT=native
        MS_ARGS=(--url "ws://127.0.0.1:$1/api/ws" --dialect native)
    fi
    MS_ARGS+=(--email "$BENCH_EMAIL" --register)
}

# bench NAME SERVER PID ARGS...: one `medstream bench --json` run into
# $RESULTS/NAME.json, with the command line, the server and the machine's
# load recorded next to it. Never fails the script.
bench() {
    local name=$1 server=$2 pid=$3
    shift 3
    SRC_NET=$((SRC_NET + 1))
    local args=("$@" --pid "$pid" --source-base "127.0.$SRC_NET.1" --json --quiet)
    local shown=() prev=
    for a in "${args[@]}"; do # never log a token
        if [ "$prev" = --token ]; then shown+=('$TOKEN'); else shown+=("$a"); fi
        prev=$a
    done
    log "$name: $server: medstream bench ${shown[*]}"
    local load
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    "$BIN" bench "${args[@]}" >"$WORK/out.json" 2>"$WORK/err.txt"
    local rc=$?
    /usr/bin/python3 - "$WORK/out.json" "$RESULTS/$name.json" "$server" "$rc" "$load" \
        "$(cat "$WORK/err.txt")" "medstream bench ${shown[*]}" <<'EOF'
import json, sys
src, dst, server, rc, load, err, cmd = sys.argv[1:8]
try:
    r = json.load(open(src))
except Exception:
    r = {}
r.update({"server_name": server, "exit_status": int(rc), "loadavg_before": load,
          "stderr": err.strip()[-500:], "command": cmd.strip()})
json.dump(r, open(dst, "w"), indent=1)
EOF
    if [ $rc -ne 0 ] && [ $rc -ne 3 ]; then log "$name: bench failed ($rc): $(cat "$WORK/err.txt")"; fi
}

# --- preparation -------------------------------------------------------------

mkdir -p "$RESULTS"
rm -f "$RESULTS"/*.json "$RESULTS"/*.txt
[ -x "$BIN" ] || { echo "bench/run.sh: $BIN is not built (make build)" >&2; exit 1; }

HAVE_UVICORN=1
if ! /usr/bin/python3 -c 'import fastapi, uvicorn, websockets, httptools, uvloop' 2>/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        log "installing the FastAPI peer's Debian packages"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            python3-fastapi python3-uvicorn python3-websockets python3-httptools python3-uvloop >/dev/null ||
            HAVE_UVICORN=0
    else
        log "uvicorn peer skipped: apt-get install python3-fastapi python3-uvicorn python3-websockets python3-httptools python3-uvloop"
        HAVE_UVICORN=0
    fi
fi
HAVE_NODE=1
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    log "node-ws peer skipped: node and npm are not installed"
    HAVE_NODE=0
elif [ ! -d "$NODE_DIR/node_modules/ws" ] || ! cmp -s "$PEERS/node-ws/server.js" "$NODE_DIR/server.js"; then
    rm -rf "$NODE_DIR"
    mkdir -p "$(dirname "$NODE_DIR")"
    cp -r "$PEERS/node-ws" "$NODE_DIR"
    (cd "$NODE_DIR" && timeout 300 npm install --no-audit --no-fund --loglevel=error >/dev/null) || {
        log "node-ws peer skipped: npm install failed"
        HAVE_NODE=0
    }
fi

# machine.json: what the numbers were measured on.
/usr/bin/python3 - "$RESULTS/machine.json" "$QUICK" <<'EOF'
import json, os, platform, subprocess, sys
def sh(c):
    try:
        return subprocess.run(c, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return ""
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
json.dump({"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
           "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
           "nofile": sh("ulimit -Hn"), "lws": sh("pkg-config --modversion libwebsockets"),
           "libuv": sh("pkg-config --modversion libuv"), "node": sh("node --version"),
           "ws": sh("cd build-bench/peers/node-ws 2>/dev/null && node -p \"require('ws/package.json').version\""),
           "uvicorn": sh("/usr/bin/python3 -c 'import uvicorn; print(uvicorn.__version__)'"),
           "fastapi": sh("/usr/bin/python3 -c 'import fastapi; print(fastapi.__version__)'"),
           "python": sh("/usr/bin/python3 --version"), "git": sh("git rev-parse --short HEAD"),
           "quick": sys.argv[2] == "1",
           "date": sh("date -u +%Y-%m-%dT%H:%MZ"),
           "busy_before": sh("top -b -n 2 -d 1 -w 200 | awk '/^top -/{f++} f==2 && $1 ~ /^[0-9]+$/ && $9+0 >= 5 {print $12 \" \" $9 \"%\"}' | head -4 | paste -sd ';'")},
          open(sys.argv[1], "w"), indent=1)
EOF

# run_peers SCENARIO ENV... -- BENCH_ARGS...: the same bench against both peers.
run_peers() {
    local sc=$1
    shift
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    if [ $HAVE_NODE = 1 ] && start_node "${envs[@]}"; then
        bench "$sc-node" node-ws "$PID" --url "ws://127.0.0.1:$PORT/api/realtime/ws" --dialect voiceassist "$@"
        stop "$PID"
    fi
    if [ $HAVE_UVICORN = 1 ] && start_uvicorn "${envs[@]}"; then
        bench "$sc-uvicorn" uvicorn "$PID" --url "ws://127.0.0.1:$PORT/api/realtime/ws" --dialect voiceassist "$@"
        kill -0 "$PID" 2>/dev/null || echo "uvicorn exited during $sc: $(tail -2 "$WORK/uvicorn.log")" >"$RESULTS/$sc-uvicorn.txt"
        stop "$PID"
    fi
}

# --- 1. idle connections ------------------------------------------------------
log "1/5 idle: $IDLE_N connections held ${IDLE_HOLD_S}s"
IDLE=(-c "$IDLE_N" --idle --hold-s "$IDLE_HOLD_S" --concurrency 200 --timeout-s 240)
if start_medstream idle; then
    medstream_target "$PORT"
    bench idle-medstream medstream "$PID" "${MS_ARGS[@]}" "${IDLE[@]}"
    stop "$PID"
fi
run_peers idle -- "${IDLE[@]}"

# --- 2. throughput ---------------------------------------------------------------
log "2/5 stream: $TP_N connections x $TP_M answers x 64 chunks"
TP=(-c "$TP_N" -m "$TP_M" --timeout-s 180)
if start_medstream stream; then
    medstream_target "$PORT"
    bench stream-medstream medstream "$PID" "${MS_ARGS[@]}" "${TP[@]}"
    stop "$PID"
fi
# The same with the data directory on tmpfs: separates the gateway from fsync.
if [ -d /dev/shm ]; then
    mkdir -p "$WORK/shm"
    SHM=$(mktemp -d /dev/shm/medstream-bench.XXXXXX)
    PORT=$(free_port)
    "$BIN" serve --provider synthetic --listen "127.0.0.1:$PORT" --data-dir "$SHM/data" \
        "${LIFT[@]}" >"$WORK/shm/server.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    if wait_http "$PORT" /health 30 "$PID"; then
        medstream_target "$PORT"
        bench stream-medstream-tmpfs "medstream (data on tmpfs)" "$PID" "${MS_ARGS[@]}" "${TP[@]}"
    fi
    stop "$PID"
    rm -rf "$SHM"
fi
run_peers stream -- "${TP[@]}"

# --- 3. paced streams ------------------------------------------------------------
for N in "$PACED_N" $PACED_SWEEP; do
    log "3/5 paced: $N connections x $PACED_M answers at 50 chunks/s"
    PACED=(-c "$N" -m "$PACED_M" --ramp-ms "$PACED_RAMP_MS" --expect-interval-ms 20
        --timeout-s "$PACED_TIMEOUT_S")
    if start_medstream "paced$N" SYN_INTERVAL_MS=20; then
        medstream_target "$PORT"
        bench "paced$N-medstream" medstream "$PID" "${MS_ARGS[@]}" "${PACED[@]}"
        stop "$PID"
    fi
    run_peers "paced$N" SYN_INTERVAL_MS=20 -- "${PACED[@]}"
done

# --- 4. instructions per chunk -----------------------------------------------------
# callgrind_run NAME SYN_CHUNKS: one fixed workload against medstream under
# callgrind, counting only the workload (zeroed after a warm-up, dumped at the
# end). Two sizes of answer separate the cost per chunk from the cost per answer.
callgrind_run() {
    local name=$1 chunks=$2
    PORT=$(free_port)
    mkdir -p "$WORK/$name"
    SYN_CHUNKS=$chunks valgrind --tool=callgrind --callgrind-out-file="$WORK/$name/callgrind.out.%p" \
        "$BIN" serve --provider synthetic --listen "127.0.0.1:$PORT" --data-dir "$WORK/$name/data" \
        "${LIFT[@]}" >"$WORK/$name/server.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    if ! wait_http "$PORT" /health 120 "$PID"; then
        log "medstream did not start under valgrind"
        stop "$PID"
        return
    fi
    TOKEN=$(curl -s --max-time 120 -X POST "http://127.0.0.1:$PORT/api/auth/register" \
        -H 'Content-Type: application/json' \
        -d "{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\"}" |
        /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    medstream_target "$PORT"
    local cg=("${MS_ARGS[@]:0:4}" --token "$TOKEN")
    # The warm-up: pool threads open their database connections, caches fill.
    "$BIN" bench "${cg[@]}" -c 2 -m 1 --quiet --json >/dev/null 2>&1
    callgrind_control -z "$PID" >/dev/null 2>&1
    bench "$name-medstream" medstream "$PID" "${cg[@]}" -c "$CG_N" -m "$CG_M" --timeout-s 600
    callgrind_control -d "$PID" >/dev/null 2>&1
    sleep 1
    local dump
    dump=$(ls "$WORK/$name"/callgrind.out.*.1 2>/dev/null | head -1)
    if [ -n "$dump" ]; then
        callgrind_annotate --inclusive=yes --threshold=99.5 "$dump" >"$RESULTS/$name-inclusive.txt" 2>/dev/null
        callgrind_annotate --threshold=90 "$dump" >"$RESULTS/$name-self.txt" 2>/dev/null
    fi
    stop "$PID"
}

log "4/5 callgrind: $CG_N connections x $CG_M answers against medstream under valgrind"
if command -v valgrind >/dev/null && command -v callgrind_control >/dev/null; then
    callgrind_run callgrind 64
    callgrind_run callgrind640 640
else
    log "callgrind skipped: valgrind is not installed"
fi

# --- 5. the kernel's floor ----------------------------------------------------------
# One send() per chunk frame is what a paced stream needs; tcp-floor measures
# what the kernel alone charges for that (sender and receiver), at the paced
# scenario's connection count (as far as the open-files limit allows) and
# with a VoiceAssist chunk frame's size on the wire (116 bytes).
FLOOR=$(dirname "$BIN")/tcp-floor
if [ -x "$FLOOR" ]; then
    FN=$(( ($(ulimit -n) - 64) / 2 ))
    [ "$FN" -gt "$PACED_N" ] && FN=$PACED_N
    log "5/5 floor: tcp-floor --connections $FN --bytes 116 --seconds $FLOOR_S"
    SRC_NET=$((SRC_NET + 1))
    FARGS=(--connections "$FN" --bytes 116 --seconds "$FLOOR_S" --source-base "127.0.$SRC_NET.1" --json)
    if "$FLOOR" "${FARGS[@]}" >"$WORK/floor.json" 2>"$WORK/err.txt"; then
        /usr/bin/python3 - "$WORK/floor.json" "$RESULTS/floor.json" "tcp-floor ${FARGS[*]}" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
r["command"] = sys.argv[3]
json.dump(r, open(sys.argv[2], "w"), indent=1)
EOF
    else
        log "tcp-floor failed: $(cat "$WORK/err.txt")"
    fi
else
    log "floor skipped: $FLOOR is not built"
fi

# --- the report ----------------------------------------------------------------------
log "writing $WRITE"
/usr/bin/python3 "$ROOT/bench/perf_doc.py" --results "$RESULTS" --write "$WRITE"
log "done; raw results in $RESULTS"
