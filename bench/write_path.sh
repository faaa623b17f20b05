#!/usr/bin/env bash
# The WebSocket write path, `--ws-write direct` against `--ws-write writable`
# (docs/performance.md, "Write path (WebSocket)"), measured under the same
# load in one session:
#
#   bench/write_path.sh [--bin build/medstream] [--rounds 5] [--out DIR] [--no-callgrind]
#                       [--callgrind-only] [--modes "direct writable"]
#
# 1. throughput: bench/run.sh's scenario 2 (1,000 connections x 10 answers x
#    64 chunks of 16 bytes, synthetic provider, VoiceAssist dialect), a fresh
#    server per run, ROUNDS runs of each mode interleaved ABBA (direct,
#    writable, writable, direct, ...) so that drift in the machine's load
#    falls on both modes alike;
# 2. callgrind: bench/run.sh's scenario 4 (50 connections x 2 answers of 64
#    and of 640 chunks) for each mode: marginal instructions per chunk.
# Prints one JSON summary on stdout (medians, min and max per mode) and
# keeps every run's JSON in DIR. All traffic stays on loopback; every
# started process is stopped on exit.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/build/medstream
ROUNDS=5
MODES="direct writable"
OUT=$ROOT/build/write-path
CALLGRIND=1
while [ $# -gt 0 ]; do
    case $1 in
    --bin) BIN=$(realpath "$2"); shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --out) OUT=$(realpath -m "$2"); shift 2 ;;
    --no-callgrind) CALLGRIND=0; shift ;;
    --callgrind-only) ROUNDS=0; shift ;;
    --modes) MODES=$2; shift 2 ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "bench/write_path.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -x "$BIN" ] || { echo "bench/write_path.sh: $BIN is not built (make build)" >&2; exit 1; }

export SYN_CHUNKS=64 SYN_CHUNK_BYTES=16
export MEDSTREAM_PASSWORD=benchpass123 # a throw-away user of a throw-away data directory
WORK=$(mktemp -d /tmp/medstream-wp.XXXXXX)
PIDS=()
SRC_NET=100
mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.txt

log() { printf '[write-path %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    sleep 1
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM
ulimit -n "$(ulimit -Hn)"

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_http() { # PORT SECONDS PID
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/health" && return 0
        kill -0 "$3" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
stop() {
    local p=$1 i
    kill "$p" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$p" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
}

# The server flags of bench/run.sh (admission limits lifted for the load
# generator's one user); WP_LIFT replaces them (for an older binary).
read -r -a LIFT <<<"${WP_LIFT:---log-level warn --login-rate-per-min 1000 --max-connections 19000 --max-live-turns 1000000 --max-turns-per-user 100000 --user-turns-per-min 1000000 --ws-rate-per-s 0 --ws-max-inflight 1000}"

# serve MODE NAME [PREFIX...]: a fresh server (PORT, PID).
serve() {
    local mode=$1 name=$2
    shift 2
    PORT=$(free_port)
    mkdir -p "$WORK/$name"
    "$@" "$BIN" serve --provider synthetic --listen "127.0.0.1:$PORT" --data-dir "$WORK/$name/data" \
        "${LIFT[@]}" --ws-write "$mode" >"$WORK/$name/server.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    wait_http "$PORT" 120 "$PID"
}

# load NAME ARGS...: one `medstream bench --json` run into $OUT/NAME.json.
load() {
    local name=$1
    shift
    SRC_NET=$((SRC_NET + 1))
    local la
    la=$(cut -d' ' -f1-3 /proc/loadavg)
    "$BIN" bench --url "ws://127.0.0.1:$PORT/api/realtime/ws" --dialect voiceassist "$@" \
        --pid "$PID" --source-base "127.0.$SRC_NET.1" --json --quiet >"$WORK/out.json" 2>"$WORK/err.txt"
    /usr/bin/python3 - "$WORK/out.json" "$OUT/$name.json" "$la" <<'EOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception:
    r = {}
r["loadavg_before"] = sys.argv[3]
json.dump(r, open(sys.argv[2], "w"), indent=1)
EOF
}

log "throughput: $ROUNDS rounds x (direct, writable), ABBA"
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then order=(direct writable); else order=(writable direct); fi
    for mode in "${order[@]}"; do
        name="tp-$mode-$r"
        if serve "$mode" "$name" env; then
            load "$name" --email bench@example.org --register -c 1000 -m 10 --timeout-s 180
            log "$name: $(/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r.get("chunks_per_s"), "chunk frames/s")' "$OUT/$name.json")"
        else
            log "$name: the server did not start"
        fi
        stop "$PID"
    done
done

# cg MODE CHUNKS: instructions of one fixed workload under callgrind (as bench/run.sh).
cg() {
    local mode=$1 chunks=$2 name="cg-$1-$2"
    if ! serve "$mode" "$name" env SYN_CHUNKS="$chunks" valgrind --tool=callgrind \
        --callgrind-out-file="$WORK/$name/callgrind.out.%p"; then
        log "$name: medstream did not start under valgrind"
        stop "$PID"
        return
    fi
    local tok
    tok=$(curl -s --max-time 120 -X POST "http://127.0.0.1:$PORT/api/auth/register" \
        -H 'Content-Type: application/json' \
        -d '{"email":"bench@example.org","password":"benchpass123"}' |
        /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    "$BIN" bench --url "ws://127.0.0.1:$PORT/api/realtime/ws" --dialect voiceassist --token "$tok" \
        -c 2 -m 1 --quiet --json >/dev/null 2>&1 # warm-up
    callgrind_control -z "$PID" >/dev/null 2>&1
    load "$name" --token "$tok" -c 50 -m 2 --timeout-s 600
    callgrind_control -d "$PID" >/dev/null 2>&1
    sleep 1
    local dump
    dump=$(ls "$WORK/$name"/callgrind.out.*.1 2>/dev/null | head -1)
    if [ -n "$dump" ]; then
        callgrind_annotate --inclusive=yes --threshold=99.5 "$dump" >"$OUT/$name.txt" 2>/dev/null
        cp "$dump" "$OUT/$name.callgrind" # for callgrind_annotate (self cost) later
    fi
    stop "$PID"
}
if [ $CALLGRIND = 1 ] && command -v callgrind_control >/dev/null; then
    for mode in $MODES; do
        log "callgrind: $mode"
        cg "$mode" 64
        cg "$mode" 640
    done
fi

/usr/bin/python3 - "$OUT" "$ROUNDS" <<'EOF'
import json, os, re, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def load(n):
    try:
        return json.load(open(os.path.join(out, n + ".json")))
    except Exception:
        return {}
def ir(n):
    try:
        t = open(os.path.join(out, n + ".txt")).read()
    except OSError:
        return None
    m = re.search(r"^\s*([\d,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS", t, re.M)
    return int(m.group(1).replace(",", "")) if m else None
summary = {}
for mode in ("direct", "writable"):
    runs = [load("tp-%s-%d" % (mode, r)) for r in range(1, rounds + 1)]
    v = [r["chunks_per_s"] for r in runs if r.get("chunks_per_s") and not r.get("timed_out")]
    cpu = [r["server"]["cpu_pct"] for r in runs if r.get("server", {}).get("cpu_pct") is not None]
    s = {"runs": v, "median": statistics.median(v) if v else None,
         "min": min(v) if v else None, "max": max(v) if v else None,
         "server_cpu_pct": cpu,
         "errors_total": [r.get("errors_total") for r in runs],
         "loadavg_before": [r.get("loadavg_before") for r in runs]}
    a, b = ir("cg-%s-64" % mode), ir("cg-%s-640" % mode)
    ra, rb = load("cg-%s-64" % mode), load("cg-%s-640" % mode)
    if a and b and rb.get("chunks") and ra.get("chunks"):
        s["callgrind"] = {"ir_64": a, "ir_640": b, "chunks_64": ra["chunks"],
                          "chunks_640": rb["chunks"],
                          "ir_per_extra_chunk": round((b - a) / (rb["chunks"] - ra["chunks"]))}
    summary[mode] = s
print(json.dumps(summary, indent=1))
EOF
