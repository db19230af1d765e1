#!/usr/bin/env bash
# Runs every suite against one binary: the bats CLI tests, then each Lua test script (a
# script passes when it exits 0), each line with its time. Writes "passed failed" to RESULTS
# and fails if any failed.
# usage: tests/run.sh BINARY RESULTS
set -u
bin=$(realpath "$1")
results=$2
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0
export ASYNCRUN="$bin"

# SKIP_SUITES: bats files (names without .bats) that test files, not this binary, and ran
# with another binary of the same check
suites=()
for f in "$here"/*.bats; do
    case " ${SKIP_SUITES:-} " in *" $(basename "$f" .bats) "*) continue ;; esac
    suites+=("$f")
done
[ -z "${SKIP_SUITES:-}" ] || echo "# not run again with this binary: ${SKIP_SUITES}"

log=$(mktemp)
bats --tap --timing "${suites[@]}" | tee "$log"
passed=$((passed + $(grep -c '^ok ' "$log")))
failed=$((failed + $(grep -c '^not ok ' "$log")))
rm -f "$log"

for script in "$here"/lua/*.lua "$here"/regress/*.lua; do
    [ -e "$script" ] || continue
    name=${script#"$here"/}
    t0=$(date +%s%N)
    if out=$(cd "$here/lua" && LUA_PATH="$here/lib/?.lua;;" timeout 120 "$bin" "$script" 2>&1); then
        echo "ok lua $name in $(( ($(date +%s%N) - t0) / 1000000 ))ms"
        passed=$((passed + 1))
    else
        echo "not ok lua $name (exit $?)"
        printf '%s\n' "$out" | sed 's/^/#   /'
        failed=$((failed + 1))
    fi
done

echo "$passed $failed" > "$results"
echo "$(basename "$bin"): $passed passed, $failed failed"
[ "$failed" -eq 0 ]
