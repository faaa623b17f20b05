#!/usr/bin/env bash
# Runs every libFuzzer target built in DIR (or those named) for a bounded
# time each, and fails if any finds a crash, a leak, a timeout or an
# out-of-memory.
#
#   fuzz/run.sh [--build DIR] [--seconds N] [target ...]
#
# Each target fuzz_<name> (built by `make fuzz` in build-fuzz/) starts from
# its committed seed corpus fuzz/corpus/<name> (read only) and keeps what it
# finds in DIR/corpus/<name>, so later runs on this machine start further
# on. The dictionary is fuzz/dict/<name>.dict, else fuzz/dict/<prefix>.dict
# (the part of the name before the first '_'), if present. A failing input
# is saved as DIR/artifacts/<name>/crash-... (or leak-, timeout-, oom-):
# reproduce with `DIR/fuzz/fuzz_<name> <that file>`, and once fixed add it
# to fuzz/corpus/<name>/ as a regression seed.
#
# Environment: FUZZ_SECONDS (per target, default 30), FUZZ_TIMEOUT (seconds
# one input may take, default 10), FUZZ_RSS_MB (default 2048; also the
# largest single allocation), FUZZ_ARGS (more libFuzzer flags). Targets run
# one after another: each uses one core.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=build-fuzz
SECONDS_EACH=${FUZZ_SECONDS:-30}
while [ $# -gt 0 ]; do
    case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --seconds) SECONDS_EACH=$2; shift 2 ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) break ;;
    esac
done
if [ $# -gt 0 ]; then
    targets=("$@")
else
    # Every target this tree built (some exist only where their module does);
    # each must have a seed corpus.
    targets=()
    for b in "$BUILD"/fuzz/fuzz_*; do
        [ -x "$b" ] || continue
        t=$(basename "$b")
        t=${t#fuzz_}
        if [ ! -d "fuzz/corpus/$t" ]; then
            echo "fuzz: $t has no seed corpus fuzz/corpus/$t" >&2
            exit 1
        fi
        targets+=("$t")
    done
    if [ ${#targets[@]} -eq 0 ]; then
        echo "fuzz: no targets in $BUILD/fuzz (make fuzz builds them)" >&2
        exit 1
    fi
fi

# Sanitizers: any report is fatal; leaks are checked after each input.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_one() {
    local t=$1 bin="$BUILD/fuzz/fuzz_$1" dict="" work="$BUILD/corpus/$1" art="$BUILD/artifacts/$1"
    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin is missing (make fuzz builds it)" >&2
        return 1
    fi
    if [ -f "fuzz/dict/$t.dict" ]; then
        dict="fuzz/dict/$t.dict"
    elif [ -f "fuzz/dict/${t%%_*}.dict" ]; then
        dict="fuzz/dict/${t%%_*}.dict"
    fi
    mkdir -p "$work" "$art"
    local log="$BUILD/artifacts/$t.log" start=$SECONDS rc
    touch "$art/.start" # artifacts newer than this are this run's
    # shellcheck disable=SC2086
    "$bin" -max_total_time="$SECONDS_EACH" -timeout="${FUZZ_TIMEOUT:-10}" \
        -rss_limit_mb="${FUZZ_RSS_MB:-2048}" -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$art/" ${dict:+-dict="$dict"} ${FUZZ_ARGS:-} \
        "$work" "fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    local stats
    stats=$(grep -aE '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$log" |
        sed 's/^stat:://; s/: */=/' | tr '\n' ' ')
    if [ $rc -ne 0 ]; then
        echo "FAIL $t after $((SECONDS - start)) s (exit $rc): $(find "$art" -type f -newer "$art/.start" | tr '\n' ' ')"
        grep -aE '==ERROR|==fuzz==|SUMMARY|Test unit written' "$log" | cut -c1-400 | head -20
        echo "     full log: $log"
        return 1
    fi
    echo "ok   $t $((SECONDS - start)) s: $stats"
}

fail=0
for t in "${targets[@]}"; do run_one "$t" || fail=1; done
if [ $fail -ne 0 ]; then
    echo "fuzz: failures above; inputs in $BUILD/artifacts/" >&2
    exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${SECONDS_EACH} s each, no crash, leak or timeout"
