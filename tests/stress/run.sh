#!/usr/bin/env bash
# Stress tests: each script runs once under /usr/bin/time (peak RSS, %M) with a time limit,
# prints its counts, and checks them exactly (the signal storm only bounds its count: the
# kernel coalesces pending signals).
#   tests/stress/run.sh [ASYNCRUN]       (default build/asyncrun, built if missing)
# STRESS_DIVISOR=D divides every count by D (e.g. 100 for a quick run or under valgrind);
# STRESS_WRAPPER="valgrind ..." runs each script's asyncrun under that command;
# STRESS_ONLY="sleepers queue" runs only those tests (procs-fallback: procs under
# ASYNCRUN_NO_PIDFD=1, the SIGCHLD fallback).
# Ends with "stress: N passed, M failed" (", K skipped" when the TCP test cannot get the
# descriptors it needs); exits non-zero if any failed.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2
bin=${1:-build/asyncrun}
here=tests/stress
div=${STRESS_DIVISOR:-1}
if [ ! -x "$bin" ]; then
    make -s build/asyncrun || { echo "stress: 0 passed, 1 failed"; exit 1; }
fi
if [ ! -x /usr/bin/time ]; then
    sudo=$([ "$(id -u)" = 0 ] || echo sudo)
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq time >/dev/null
fi
command -v ps >/dev/null || echo "stress: ps (procps) is missing: the zombie check of procs will fail"

passed=0 failed=0 skipped=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run NAME LIMIT_SECONDS SCRIPT ARGS...
run() {
    local name=$1 limit=$2 script=$3 rc rss wall
    shift 3
    if [ -n "${STRESS_ONLY:-}" ] && [[ " $STRESS_ONLY " != *" $name "* ]]; then
        return 0
    fi
    # shellcheck disable=SC2086
    /usr/bin/time -f "%M %e" -o "$tmp/time" timeout "$limit" ${STRESS_WRAPPER:-} "$bin" "$here/$script" "$@" \
        >"$tmp/out" 2>"$tmp/err"
    rc=$?
    read -r rss wall < <(tail -1 "$tmp/time")
    sed 's/^/  /' "$tmp/out"
    if [ "$rc" = 0 ] && [ ! -s "$tmp/err" ]; then
        echo "ok $name: peak RSS ${rss} KiB (/usr/bin/time %M), ${wall} s"
        passed=$((passed + 1))
    else
        [ "$rc" = 124 ] && echo "  (killed after ${limit} s)"
        sed 's/^/  # /' "$tmp/err" | head -20
        echo "not ok $name: exit $rc, peak RSS ${rss:-?} KiB, ${wall:-?} s"
        failed=$((failed + 1))
    fi
}

n() { echo $(($1 / div > 0 ? $1 / div : 1)); }

run sleepers 180 sleepers.lua "$(n 1000000)"
run queue 180 queue.lua "$(n 1000000)"
run procs 300 procs.lua "$(n 10000)" 64
ASYNCRUN_NO_PIDFD=1 run procs-fallback 300 procs.lua "$(n 10000)" 64

# TCP: a server process and a client process, each holding N connections, plus slack
conns=$(n 10000)
need=$((conns + 256))
hard=$(ulimit -Hn)
if [ -n "${STRESS_ONLY:-}" ] && [[ " $STRESS_ONLY " != *" tcp "* ]]; then
    :
elif [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
    echo "skip tcp: $conns connections need $need descriptors per process, but the hard limit" \
         "(ulimit -Hn) is $hard; raise it (as root: ulimit -Hn $need, or the container's nofile)"
    skipped=$((skipped + 1))
else
    soft=$(ulimit -Sn)
    if [ "$soft" != unlimited ] && [ "$soft" -lt "$need" ]; then
        ulimit -Sn "$need"
    fi
    echo "  (ulimit -n $(ulimit -Sn), hard $hard)"
    run tcp 300 tcp.lua "$conns"
fi

run signals 120 signals.lua "$(n 1000)"

if [ "$skipped" -gt 0 ]; then
    echo "stress: $passed passed, $failed failed, $skipped skipped"
else
    echo "stress: $passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
