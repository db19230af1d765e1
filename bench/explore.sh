#!/usr/bin/env bash
# Runs-to-find of the planted order bugs (tests/seed/*.lua) under each --seed strategy:
# for a base seed S, `asyncrun --explore --seed=S` finds the bug at run i when seeds S..S+i-2
# pass and seed S+i-1 fails. Each seed is run once (a fresh process, as --explore does) and
# the runs-to-find of the base seeds 1..BASES are derived from those outcomes.
# Prints a markdown table: per strategy and bug, the median, mean and worst runs-to-find
# and the share of seeds that fail. bench/EXPLORE.md holds its output.
#
# usage: bench/explore.sh
# env:   ASYNCRUN (default build/asyncrun), BASES (default 100), LIMIT (default 1000)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ASYNCRUN=${ASYNCRUN:-$ROOT/build/asyncrun}
BASES=${BASES:-100}
LIMIT=${LIMIT:-1000} # seeds tried past the last base seed before a bug counts as not found
BUGS=(depth1 pairs deadlock hang rounds zigzag)
[ -x "$ASYNCRUN" ] || { echo "bench/explore.sh: $ASYNCRUN not found: build it first (make)" >&2; exit 1; }

# fails STRATEGY BUG SEED: status 0 when that seed shows the bug
fails() {
  local opts=(--fake-time)
  # the hang's heartbeat keeps real time going: only the timeout ends it
  [ "$2" = hang ] && opts=(--timeout=0.3)
  ! ASYNCRUN_SEED_STRATEGY=$1 "$ASYNCRUN" "${opts[@]}" --seed="$3" "$ROOT/tests/seed/$2.lua" \
      >/dev/null 2>&1
}

echo "| strategy | bug | median | mean | worst | seeds failing |"
echo "|---|---|---:|---:|---:|---:|"
for strategy in mixed shuffle pct; do
  for bug in "${BUGS[@]}"; do
    out=() # out[s] = 1 when seed s fails, for s = 1.. until a failure after BASES
    s=1 nfail=0
    while :; do
      if fails "$strategy" "$bug" "$s"; then out[s]=1; nfail=$((nfail + 1)); else out[s]=0; fi
      [ "$s" -ge "$BASES" ] && [ "${out[s]}" = 1 ] && break
      [ "$s" -ge $((BASES + LIMIT)) ] && break
      s=$((s + 1))
    done
    last=$s
    runs=()
    for ((b = BASES; b >= 1; b--)); do # next failure at or after b, from the right
      if [ "${out[b]}" = 1 ]; then next=$b; elif [ "$b" = "$BASES" ]; then
        next=$BASES; while [ "$next" -le "$last" ] && [ "${out[next]}" = 0 ]; do next=$((next + 1)); done
      fi
      runs[b]=$((next - b + 1)) # past $last: not found in the seeds run
    done
    printf '%s\n' "${runs[@]}" | sort -n | awk -v st="$strategy" -v bug="$bug" -v nf="$nfail" \
        -v n="$last" -v limit="$LIMIT" '
      function show(x) { return x > limit ? "> " limit : sprintf("%g", x) }
      { v[NR] = $1; sum += $1 }
      END { med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            mean = v[NR] > limit ? "-" : sprintf("%.2f", sum / NR)
            printf "| %s | %s | %s | %s | %s | %d of %d |\n", st, bug, show(med), mean, show(v[NR]), nf, n }'
  done
done
