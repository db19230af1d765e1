#!/usr/bin/env bash
# Memory hygiene under valgrind (memcheck) of the plain build: api_fuzz.lua seeds,
# exec_valgrind.lua (async.exec and async.capture) and the sleepers, queue and procs stress
# scripts at reduced counts. valgrind 3.19 does not emulate pidfd_open: processes run on the
# SIGCHLD fallback here, chosen up front (ASYNCRUN_NO_PIDFD=1) to spare valgrind's warning. Any memcheck error or leak (definite, indirect or possible) fails
# the run. Ends with "valgrind: N passed, M failed".
#   tests/fuzz/valgrind.sh [ASYNCRUN] [SEEDS]     (default build/asyncrun, 8 seeds)
# api_fuzz runs with --fake-time here: its windows are in virtual time, so valgrind's
# slowness cannot look like a hang. FUZZ_SEED_BASE picks the first seed (default 1).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2
bin=${1:-build/asyncrun}
seeds=${2:-8}
base=${FUZZ_SEED_BASE:-1}
if ! command -v valgrind >/dev/null; then
    sudo=$([ "$(id -u)" = 0 ] || echo sudo)
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq valgrind >/dev/null
fi
[ -x "$bin" ] || make -s build/asyncrun || exit 1
case $bin in *asan*) echo "valgrind.sh: valgrind cannot run a sanitizer build ($bin)" >&2; exit 2 ;; esac

vg="valgrind -q --child-silent-after-fork=yes --leak-check=full --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=9"
passed=0 failed=0
mkdir -p build/fuzz/crashes
err=$(mktemp)
trap 'rm -f "$err"' EXIT
for seed in $(seq "$base" $((base + seeds - 1))); do
    # shellcheck disable=SC2086
    # (the SIGCHLD fallback: api_fuzz's ops.bytes starts programs, and valgrind knows no pidfd_open)
    ASYNCRUN_NO_PIDFD=1 timeout 300 $vg "$bin" --fake-time tests/fuzz/api_fuzz.lua "$seed" >/dev/null 2>"$err"
    rc=$?
    if [ "$rc" = 0 ] && [ ! -s "$err" ]; then
        echo "ok api_fuzz seed $seed"
        passed=$((passed + 1))
    else
        echo "not ok api_fuzz seed $seed (exit $rc)"
        sed 's/^/  # /' "$err" | head -30
        { echo "# reproduce: $vg $bin --fake-time tests/fuzz/api_fuzz.lua $seed" | tr -s ' \n' ' '
          echo; cat "$err"; } > "build/fuzz/crashes/valgrind-seed-$seed.log"
        failed=$((failed + 1))
    fi
done

# shellcheck disable=SC2086
ASYNCRUN_NO_PIDFD=1 timeout 300 $vg "$bin" tests/fuzz/exec_valgrind.lua >/dev/null 2>"$err"
rc=$?
if [ "$rc" = 0 ] && [ ! -s "$err" ]; then
    echo "ok exec_valgrind"
    passed=$((passed + 1))
else
    echo "not ok exec_valgrind (exit $rc)"
    sed 's/^/  # /' "$err" | head -30
    failed=$((failed + 1))
fi

# valgrind's own memory is far above the procs script's RSS bound: lifted here
out=$(STRESS_ONLY="sleepers queue procs" STRESS_DIVISOR=${STRESS_DIVISOR:-1000} STRESS_WRAPPER="$vg" \
      PROCS_RSS_LIMIT_KB=10000000 ASYNCRUN_NO_PIDFD=1 tests/stress/run.sh "$bin" 2>&1)
printf '%s\n' "$out" | grep -v '^stress: '
p=$(printf '%s\n' "$out" | grep -c '^ok ')
f=$(printf '%s\n' "$out" | grep -c '^not ok ')
passed=$((passed + p))
failed=$((failed + f))
echo "valgrind: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
