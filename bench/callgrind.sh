#!/usr/bin/env bash
# Instruction counts of asyncrun on W2 (spawn) and W3 (ping-pong) at a small size, under
# valgrind's callgrind: stable numbers (unlike wall times on a shared machine) to compare
# two commits. Prints one line per workload:
#   W2 instructions: N      (W2_N tasks spawned and gathered)
#   W3 instructions: N      (W3_N round trips through two async.queue)
# and, with --top, the functions with the most instructions (self and inclusive) of each.
#
# usage: bench/callgrind.sh [--top]
# env:   ASYNCRUN (default build/asyncrun), W2_N (default 20000), W3_N (default 20000),
#        CALLGRIND_RUNS (runs per workload, default 3), CALLGRIND_OUT (where the
#        callgrind.out files go; default a new directory in /tmp)
# The counts include start-up and shutdown (W1, printed with --top). The runs are pinned
# (pinned.sh: no ASLR, time() fixed, so the same string-hash seed): W2 repeats exactly and
# W3 within ~0.01 %; the minimum of CALLGRIND_RUNS runs is printed.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
ASYNCRUN=${ASYNCRUN:-$ROOT/build/asyncrun}
W2_N=${W2_N:-20000}
W3_N=${W3_N:-20000}
RUNS=${CALLGRIND_RUNS:-3}
TOP=
[ "${1:-}" = "--top" ] && TOP=1

command -v valgrind >/dev/null || { echo "bench/callgrind.sh: valgrind not found (apt-get install valgrind)" >&2; exit 1; }
[ -x "$ASYNCRUN" ] || { echo "bench/callgrind.sh: $ASYNCRUN not found: build it first (make)" >&2; exit 1; }
OUT=${CALLGRIND_OUT:-$(mktemp -d /tmp/asyncrun-callgrind.XXXXXX)}
mkdir -p "$OUT"
cd "$BENCH_DIR"

# no ASLR, time() pinned: the same hash seed in every run
. "$BENCH_DIR/pinned.sh"
pinned_setup "$OUT"

# the top functions of a callgrind_annotate listing
top() {
  awk -v n="$1" '/file:function/{on=1; getline; next} on && NF{print "    " $0; if (++k >= n) exit}'
}

count() { # name script args...
  local name=$1 best= bestfile= i file n; shift
  for ((i = 1; i <= RUNS; i++)); do
    file="$OUT/callgrind.out.$name.$i"
    if ! "${NORAND[@]}" valgrind --tool=callgrind --callgrind-out-file="$file" \
        "$ASYNCRUN" "$@" > "$OUT/$name.log" 2>&1; then
      echo "bench/callgrind.sh: $name failed:" >&2
      tail -n 20 "$OUT/$name.log" >&2
      exit 1
    fi
    n=$(sed -n 's/^summary: *//p' "$file" | head -n1)
    if [ -z "$best" ] || [ "$n" -lt "$best" ]; then best=$n; bestfile=$file; fi
  done
  echo "$name instructions: $best"
  if [ -n "$TOP" ] && command -v callgrind_annotate >/dev/null; then
    echo "  top self:"
    { callgrind_annotate --threshold=100 "$bestfile" 2>/dev/null || true; } | top 15
    echo "  top inclusive:"
    { callgrind_annotate --inclusive=yes --threshold=100 "$bestfile" 2>/dev/null || true; } | top 30
  fi
}

count W2 w2_spawn.lua "$W2_N"
count W3 w3_switch.lua "$W3_N"
if [ -n "$TOP" ]; then
  count W1 w1_startup.lua
  echo "(callgrind files in $OUT; open with callgrind_annotate or kcachegrind)"
fi
