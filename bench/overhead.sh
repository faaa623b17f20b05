#!/usr/bin/env bash
# Gateway overhead on the OpenAI-compatible path (issue 9, "Benchmark";
# docs/performance.md "Gateway overhead"), in one run:
#
#   upstream  nginx from Debian on loopback: `return 200` with a fixed
#             OpenAI SSE body (default_type text/event-stream), 1 worker;
#   gateway   medstream with one `openai` provider pointing at it, on a route
#             with "retrieval": false, so only the gateway is measured
#             (API key check, body parsing, persistence of the question and
#             answer, PHI stage, routing, the upstream call over libcurl,
#             SSE parsing, the SSE response);
#   load      wrk (Debian) with a Lua script POSTing the same streamed
#             chat-completions body, at 1, 64 and 1,024 connections, against
#             the gateway and against nginx directly, alternately, in the
#             same run; then a paced run at a fixed 1,000 requests/s with
#             hey (Debian; `-q` is the rate per worker), against both.
#
# Added latency = gateway percentile - direct percentile of the same run.
# The machine is shared: the ratios matter more than the absolute numbers.
#
# usage: bench/overhead.sh [--bin build/medstream] [--duration 10] [--out FILE] [--tmpfs]
#   --tmpfs  puts medstream's data directory in /dev/shm: its fsyncs (the
#            question is durable before the model is asked) then cost nothing,
#            which separates the disk's share of the overhead from the CPU's.
# needs: nginx (nginx-light is enough), wrk, hey, curl:
#   apt-get install --no-install-recommends nginx-light wrk hey curl
set -euo pipefail

BIN=build/medstream
DURATION=10
OUT=""
TMPFS=""
while [ $# -gt 0 ]; do
    case "$1" in
    --bin) BIN="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --tmpfs) TMPFS=1; shift ;;
    -h | --help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "bench/overhead.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
for tool in nginx wrk hey curl; do
    command -v "$tool" >/dev/null || {
        echo "bench/overhead.sh: '$tool' is missing:" \
            "apt-get install --no-install-recommends nginx-light wrk hey curl" >&2
        exit 2
    }
done
[ -x "$BIN" ] || { echo "bench/overhead.sh: no medstream binary at $BIN (make build)" >&2; exit 2; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

BASE=/tmp
[ -n "$TMPFS" ] && BASE=/dev/shm
WORK=$(mktemp -d "$BASE/medstream-overhead.XXXXXX")
NGINX_PID="" MS_PID=""
cleanup() {
    [ -n "$MS_PID" ] && kill "$MS_PID" 2>/dev/null && wait "$MS_PID" 2>/dev/null || true
    [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null || true
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n 20000 2>/dev/null || true

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
UP_PORT=$(free_port)
MS_PORT=$(free_port)

# ---- the upstream: a fixed OpenAI stream (role chunk, 3 deltas, the final
# chunk, the usage chunk, [DONE]), as OpenAI's API reference shows one.
C='"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench"'
SSE="data: {$C,\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}

data: {$C,\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hemochromatosis\"},\"finish_reason\":null}]}

data: {$C,\"choices\":[{\"index\":0,\"delta\":{\"content\":\" is treated with\"},\"finish_reason\":null}]}

data: {$C,\"choices\":[{\"index\":0,\"delta\":{\"content\":\" phlebotomy.\"},\"finish_reason\":null}]}

data: {$C,\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}

data: {$C,\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":6,\"total_tokens\":18}}

data: [DONE]

"
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    server {
        listen 127.0.0.1:$UP_PORT backlog=4096;
        location / {
            default_type text/event-stream;
            return 200 '$SSE';
        }
    }
}
EOF
nginx -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
NGINX_PID=$!

# ---- the gateway
cat >"$WORK/medstream.json" <<EOF
{
  "providers": [
    {"name": "nginx", "kind": "openai", "base_url": "http://127.0.0.1:$UP_PORT/v1",
     "model": "bench", "local": true}
  ],
  "routes": {"bench": {"providers": ["nginx"], "retrieval": false}},
  "default_route": "bench"
}
EOF
mkdir -p "$WORK/data"
"$BIN" serve --listen "127.0.0.1:$MS_PORT" --data-dir "$WORK/data" --config "$WORK/medstream.json" \
    --log-level warn --max-live-turns 100000 --max-turns-per-user 100000 \
    --user-turns-per-min 1000000 --login-rate-per-min 100000 --max-connections 19000 \
    >"$WORK/medstream.out" 2>"$WORK/medstream.err" &
MS_PID=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$MS_PORT/ready" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf "http://127.0.0.1:$MS_PORT/ready" >/dev/null || { cat "$WORK/medstream.err" >&2; exit 1; }
curl -sf "http://127.0.0.1:$UP_PORT/" >/dev/null || { cat "$WORK/nginx/error.log" >&2; exit 1; }
curl -sf -XPOST "http://127.0.0.1:$MS_PORT/api/auth/register" -H 'content-type: application/json' \
    -d '{"email":"bench@example.test","password":"correct horse battery staple"}' >/dev/null
KEY=$("$BIN" apikey create --email bench@example.test --name bench --data-dir "$WORK/data" 2>/dev/null)

BODY='{"model":"bench","stream":true,"messages":[{"role":"user","content":"How is hereditary hemochromatosis treated?"}]}'
printf '%s' "$BODY" >"$WORK/body.json"
cat >"$WORK/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
EOF
MS_URL="http://127.0.0.1:$MS_PORT/v1/chat/completions"
UP_URL="http://127.0.0.1:$UP_PORT/v1/chat/completions"

# A sanity check: the gateway streams the upstream's text and [DONE].
SAMPLE=$(curl -sf -N "$MS_URL" -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
    -d "$BODY" || true)
case "$SAMPLE" in
*phlebotomy*"data: [DONE]"*) ;;
*) echo "the gateway does not stream the upstream's text: $SAMPLE" >&2; cat "$WORK/medstream.err" >&2; exit 1 ;;
esac

# wrk's --latency percentiles in ms: prints "p50 p99 rps non2xx errors".
to_ms() {
    awk '{ v=$1; if (v ~ /us$/) { sub(/us$/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v) }
           else if (v ~ /m$/) { sub(/m$/,"",v); v*=60000 } else if (v ~ /s$/) { sub(/s$/,"",v); v*=1000 }
           printf "%.3f", v }'
}
run_wrk() { # url conns
    local threads=2
    [ "$2" -lt 2 ] && threads=1
    wrk -t"$threads" -c"$2" -d"${DURATION}s" --timeout 10s --latency -s "$WORK/post.lua" "$1" \
        >"$WORK/wrk.txt" 2>&1 || true
    local p50 p99 rps non2xx errs
    p50=$(awk '$1=="50%"{print $2}' "$WORK/wrk.txt" | to_ms)
    p99=$(awk '$1=="99%"{print $2}' "$WORK/wrk.txt" | to_ms)
    rps=$(awk '$1=="Requests/sec:"{print $2}' "$WORK/wrk.txt")
    non2xx=$(awk '/Non-2xx/{print $NF}' "$WORK/wrk.txt")
    errs=$(awk '/Socket errors/{print $0}' "$WORK/wrk.txt" | sed 's/.*errors: //')
    echo "$p50 $p99 $rps ${non2xx:-0} ${errs:-none}" | tr ',' ';' | sed 's/ connect /_connect_/;s/ read /_read_/;s/ write /_write_/;s/ timeout /_timeout_/'
}

# hey at a fixed rate: 50 workers x 20 req/s = 1,000 req/s for DURATION s (each worker
# waits for its answer, so 50 of them hold the rate while latency stays under 50 ms).
run_hey() { # url
    hey -z "${DURATION}s" -c 50 -q 20 -m POST -T application/json -H "Authorization: Bearer $KEY" \
        -D "$WORK/body.json" "$1" >"$WORK/hey.txt" 2>&1 || true
    local p50 p99 rps
    p50=$(awk '$1=="50%%"||$1=="50%"{print $3*1000}' "$WORK/hey.txt")
    p99=$(awk '$1=="99%%"||$1=="99%"{print $3*1000}' "$WORK/hey.txt")
    rps=$(awk '$1=="Requests/sec:"{print $2}' "$WORK/hey.txt")
    local codes
    codes=$(awk '/Status code distribution/{f=1;next} f&&/\[/{printf "%s%s", sep, $1$2; sep=";"} f&&!/\[/{f=0}' "$WORK/hey.txt")
    echo "$p50 $p99 $rps $codes"
}

# The gateway's own measure, x-medstream-overhead-ms, over 300 sequential requests.
header_sample() {
    for _ in $(seq 300); do
        curl -s -o /dev/null -D - "$MS_URL" -H "authorization: Bearer $KEY" \
            -H 'content-type: application/json' -d "$BODY" | tr -d '\r' |
            awk -F': ' 'tolower($1)=="x-medstream-overhead-ms"{print $2}'
    done | sort -n | awk '{a[NR]=$1} END { printf "%.2f %.2f %.2f", a[int(NR*0.5+0.5)], a[int(NR*0.99+0.5)], a[NR] }'
}

# Warm-up (connections, SQLite pages, libcurl's connection pool).
wrk -t1 -c8 -d2s -s "$WORK/post.lua" "$MS_URL" >/dev/null 2>&1 || true

{
    echo "### Run of $(date -u +%Y-%m-%dT%H:%MZ), ${DURATION} s per point, $(nproc) cores (shared), data on $(df --output=fstype "$WORK" | tail -1)"
    echo
    echo "\`bench/overhead.sh --duration $DURATION${TMPFS:+ --tmpfs}\` (\`make bench-overhead\`); medstream $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo '?'), nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), $(wrk --version 2>&1 | head -1 | awk '{print $1, $2}'), hey 0.1.4."
    echo
    echo "| load | direct p50 ms | direct p99 ms | direct req/s | gateway p50 ms | gateway p99 ms | gateway req/s | added p50 ms | added p99 ms | req/s ratio | gateway non-2xx / errors |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
} >"$WORK/table.md"

for c in 1 64 1024; do
    read -r dp50 dp99 drps _ _ <<<"$(run_wrk "$UP_URL" "$c")"
    read -r gp50 gp99 grps gnon gerr <<<"$(run_wrk "$MS_URL" "$c")"
    awk -v c="$c" -v dp50="$dp50" -v dp99="$dp99" -v drps="$drps" -v gp50="$gp50" -v gp99="$gp99" \
        -v grps="$grps" -v gnon="$gnon" -v gerr="$gerr" 'BEGIN {
        printf "| wrk, %d connection%s | %.3f | %.3f | %.0f | %.3f | %.3f | %.0f | %.3f | %.3f | %.3f | %s / %s |\n",
            c, (c == 1 ? "" : "s"), dp50, dp99, drps, gp50, gp99, grps, gp50 - dp50, gp99 - dp99,
            (drps > 0 ? grps / drps : 0), gnon, gerr }' >>"$WORK/table.md"
done
read -r dp50 dp99 drps _ <<<"$(run_hey "$UP_URL")"
read -r gp50 gp99 grps gcodes <<<"$(run_hey "$MS_URL")"
awk -v dp50="$dp50" -v dp99="$dp99" -v drps="$drps" -v gp50="$gp50" -v gp99="$gp99" -v grps="$grps" \
    -v gc="$gcodes" 'BEGIN {
    printf "| hey, fixed 1,000 req/s (50 x 20) | %.3f | %.3f | %.0f | %.3f | %.3f | %.0f | %.3f | %.3f | %.3f | %s |\n",
        dp50, dp99, drps, gp50, gp99, grps, gp50 - dp50, gp99 - dp99, (drps > 0 ? grps / drps : 0), gc }' >>"$WORK/table.md"
read -r hp50 hp99 hmax <<<"$(header_sample)"
{
    echo
    echo "x-medstream-overhead-ms over 300 sequential streamed requests (curl): p50 $hp50 ms, p99 $hp99 ms, max $hmax ms."
    echo "hey prints its percentiles in seconds with 4 decimals: 0.1 ms resolution."
} >>"$WORK/table.md"

cat "$WORK/table.md"
[ -n "$OUT" ] && cp "$WORK/table.md" "$OUT"
if grep -q '"level":"error"' "$WORK/medstream.err"; then
    echo "medstream logged errors:" >&2
    grep '"level":"error"' "$WORK/medstream.err" | head -5 >&2
fi
exit 0
