#!/usr/bin/env bash
# What the diagnostics cost (issue "Diagnostics", section Cost):
#  1. instructions executed (valgrind --tool=callgrind, pinned runs: stable on a noisy
#     machine) by the normal build with tracing off against a build without the hooks
#     (-DASYNCRUN_NO_TRACE_HOOKS), on spawn+await, queue switches and sleep(0) switches;
#  2. the wall-clock slowdown of --trace=json --trace-file on 1,000,000 spawn+await and on
#     1,000,000 sleep(0) switches (median of 5 runs each; the trace goes to a file).
# Prints the figures and writes them to TRACE_COST_MD (default bench/TRACE_COST.md).
# usage: bench/trace_cost.sh BUILD NO_HOOKS_BUILD
set -eu
bin=$(realpath "$1") base=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
out=${TRACE_COST_MD:-$here/TRACE_COST.md}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$here/pinned.sh"
pinned_setup "$work"

cat > "$work/spawn.lua" <<'LUA'
local n = tonumber(arg[1]) local ts, f = {}, function() end
for i = 1, n do ts[i] = async.spawn(f) end
for i = 1, n do ts[i]:await() end
LUA
cat > "$work/switch.lua" <<'LUA'
local n = tonumber(arg[1]) local a, b = async.queue(1), async.queue(1)
local pong = async.spawn(function() for _ = 1, n do b:put(a:get()) end end)
for i = 1, n do a:put(i) b:get() end
pong:await()
LUA
cat > "$work/sleep0.lua" <<'LUA'
local n = tonumber(arg[1])
local function spin() for _ = 1, n do async.sleep(0) end end
local t = async.spawn(spin) spin() t:await()
LUA

instructions() {
    "${NORAND[@]}" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 |
        sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
wall() {
    for _ in 1 2 3 4 5; do
        /usr/bin/env time -f %e "$@" 2>&1 >/dev/null | tail -1
    done | median
}

{
    echo "# What tracing costs"
    echo
    echo "Written by \`bench/trace_cost.sh\` (\`make bench-trace-cost\`) on $(date -u '+%Y-%m-%d %H:%M UTC'),"
    echo "commit $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) CPU."
    echo
    echo "## Tracing compiled in but off"
    echo
    echo "Instructions (callgrind, pinned runs) of the normal build, with no diagnostics"
    echo "option, against a build without the hooks (\`-DASYNCRUN_NO_TRACE_HOOKS\`). Goal: ≤ 3 %."
    echo
    echo "| workload | normal build | no hooks | difference |"
    echo "|---|---|---|---|"
    for w in "spawn 20000" "switch 20000" "sleep0 100000"; do
        set -- $w
        on=$(instructions "$bin" "$work/$1.lua" "$2")
        off=$(instructions "$base" "$work/$1.lua" "$2")
        awk -v w="$1 $2" -v a="$on" -v b="$off" \
            'BEGIN { printf "| %s | %d | %d | %+.2f %% |\n", w, a, b, 100 * (a - b) / b }'
    done
    echo
    echo "## --trace=json into a file"
    echo
    echo "Wall seconds, median of 5 runs. Goal: under 3×."
    echo
    echo "| workload | off | --trace=json --trace-file | slowdown | trace size |"
    echo "|---|---|---|---|---|"
    for w in "spawn 1000000 spawn+await" "sleep0 500000 sleep(0)_switches"; do
        set -- $w
        plain=$(wall "$bin" "$work/$1.lua" "$2")
        traced=$(wall "$bin" --trace=json --trace-file="$work/t.json" "$work/$1.lua" "$2")
        size=$(du -m "$work/t.json" | cut -f1)
        awk -v w="1,000,000 ${3//_/ }" -v a="$plain" -v b="$traced" -v s="$size" \
            'BEGIN { printf "| %s | %.2f s | %.2f s | %.1f× | %d MB |\n", w, a, b, b / a, s }'
        rm -f "$work/t.json"
    done
} | tee "$out"
