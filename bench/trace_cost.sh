#!/usr/bin/env bash
# What the diagnostics cost: instructions executed (valgrind --tool=callgrind, stable on a
# noisy machine) by the normal build with tracing off against a build without the hooks,
# then the wall-clock slowdown of --trace=json into a file.
# usage: bench/trace_cost.sh BUILD NO_HOOKS_BUILD
set -u
bin=$1 base=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
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
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 |
        sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}
echo "instructions, tracing off vs no hooks (callgrind):"
for w in "spawn 20000" "switch 20000" "sleep0 100000"; do
    set -- $w
    on=$(instructions "$bin" "$work/$1.lua" "$2")
    off=$(instructions "$base" "$work/$1.lua" "$2")
    awk -v w="$1 $2" -v a="$on" -v b="$off" \
        'BEGIN { printf "  %-14s %12d vs %12d  %+.2f%%\n", w, a, b, 100 * (a - b) / b }'
done
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
wall() {
    for _ in 1 2 3 4 5; do
        /usr/bin/env time -f %e "$@" 2>&1 >/dev/null | tail -1
    done | median
}
echo "wall seconds, median of 5 (1,000,000 sleep(0) switches):"
plain=$(wall "$bin" "$work/sleep0.lua" 500000)
traced=$(wall "$bin" --trace=json --trace-file="$work/t.json" "$work/sleep0.lua" 500000)
awk -v a="$plain" -v b="$traced" 'BEGIN { printf "  off %.2f s, --trace=json %.2f s: %.1fx\n", a, b, b / a }'
