#!/usr/bin/env bash
# asyncrun against its peers on the workloads W1-W8 (bench/README.md), in one run,
# and bench/RESULTS.md written from it.
#
# usage: bench/run.sh [FILTER]     FILTER: a grep -E pattern matching whole workload
#                                  names (w1 w2 w3 w4 w4rss w5 w5s w6 w7 w8), e.g. 'w2|w3'; default all
# env:   BENCH_QUICK=1   smaller sizes, 3 runs (a few minutes in all)
#        RUNS            timed runs per row (default 5; 3 in quick mode)
#        ASYNCRUN        the binary (default build/asyncrun; copied first, so a rebuild
#                        during the run does not mix two binaries)
#        PEERS           the peer programs (default ../shared/bench/peers beside the repo)
#        PY LUA LUAJIT NODE   the peers' interpreters (default /usr/bin/python3 lua5.4
#                        luajit node)
#        RESULTS_MD      where to write the report (default bench/RESULTS.md)
#        BENCH_OUT       raw samples and logs (default a new directory under /tmp)
#        BENCH_TIMEOUT   seconds after which one run is killed and its row failed (600)
#
# Method. Rows of one workload are measured alternately: round 1 runs every row once,
# round 2 every row again, and so on, so drift in the machine's load hits all of them
# alike. Wall = hyperfine -N (no shell) per run; the reported wall is the median of the
# runs. The first run of each row is a warm-up and is dropped, unless it took more than
# 10 s: then it counts and the row gets 3 runs in all. Peak RSS = /usr/bin/time -f %M
# (max resident set of the process, KiB) of the same runs, median. W1 (a few ms per start)
# is measured in rounds of 20 starts per row and its RSS by separate /usr/bin/time runs,
# so that the wrapper's own fork+exec does not count in its wall.
# A peer that is not installed is skipped with a note in the report; a row whose run
# fails or times out is reported as failed with the end of its log.
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
ASYNCRUN=${ASYNCRUN:-$ROOT/build/asyncrun}
PEERS=${PEERS:-$ROOT/../shared/bench/peers}
PY=${PY:-/usr/bin/python3}
LUA=${LUA:-lua5.4}
LUAJIT=${LUAJIT:-luajit}
NODE=${NODE:-node}
QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 0 ] && QUICK=
RESULTS_MD=${RESULTS_MD:-$BENCH_DIR/RESULTS.md}
TIMEOUT=${BENCH_TIMEOUT:-600}
FILTER=${1:-.*}
LONG=10      # s: a row whose first run takes longer gets LONG_RUNS runs, no warm-up
LONG_RUNS=3

if [ -n "$QUICK" ]; then
  RUNS=${RUNS:-3}
  W1_BATCH=10                     # starts per row per round
  W2_N=100000
  W3_N=100000
  W4_N=20000; W4_MS=100
  W4RSS_N=20000
  W5_C=20; W5_R=500
  W6_N=500; W6_J=32
  W7_N=200000
  W8_N=500; W8_J=32
  MODE="quick (BENCH_QUICK=1)"
else
  RUNS=${RUNS:-5}
  W1_BATCH=20
  W2_N=1000000
  W3_N=1000000
  W4_N=100000; W4_MS=100
  W4RSS_N=100000
  W5_C=100; W5_R=1000
  W6_N=2000; W6_J=32
  W7_N=1000000
  W8_N=2000; W8_J=32
  MODE="full"
fi

die() { echo "bench/run.sh: $*" >&2; exit 1; }
command -v hyperfine >/dev/null || die "hyperfine not found (make bench-deps)"
[ -x /usr/bin/time ] || die "/usr/bin/time not found (make bench-deps)"
command -v timeout >/dev/null || die "timeout (coreutils) not found"
[ -x "$ASYNCRUN" ] || die "$ASYNCRUN not found: build it first (make)"

OUT=${BENCH_OUT:-$(mktemp -d /tmp/asyncrun-bench.XXXXXX)}
mkdir -p "$OUT"
cp "$ASYNCRUN" "$OUT/asyncrun"
A="$OUT/asyncrun"
cd "$BENCH_DIR"
PEERS=$(cd "$PEERS" 2>/dev/null && pwd || echo "$PEERS")

# --- what is installed --------------------------------------------------------------
declare -A HAVE WHY
have() { HAVE[$1]=1; }
lack() { HAVE[$1]=; WHY[$1]=$2; }
have asyncrun
if [ -d "$PEERS" ]; then have peers; else lack peers "peer programs not found at $PEERS"; fi
{
  if command -v "$LUA" >/dev/null; then have lua; else lack lua "$LUA not installed"; fi
  if command -v "$LUAJIT" >/dev/null; then have luajit; else lack luajit "$LUAJIT not installed (optional floor; apt-get install luajit)"; fi
  if [ -n "${HAVE[lua]}" ] && "$LUA" -e 'require "luv"' 2>/dev/null; then have luv; else lack luv "luv for $LUA not installed (lua-luv)"; fi
  if [ -n "${HAVE[lua]}" ] && "$LUA" -e 'require "cqueues"' 2>/dev/null; then have cqueues; else lack cqueues "cqueues for $LUA not installed (lua-cqueues)"; fi
  if [ -x "$PY" ] && "$PY" -c 'import asyncio' 2>/dev/null; then have py; else lack py "$PY not found"; fi
  if [ -n "${HAVE[py]}" ] && "$PY" -c 'import uvloop' 2>/dev/null; then have uvloop; else lack uvloop "uvloop for $PY not installed (python3-uvloop)"; fi
  if command -v "$NODE" >/dev/null; then have node; else lack node "$NODE not installed"; fi
  if [ -n "${HAVE[py]}" ] && "$PY" -c 'import aiohttp' 2>/dev/null; then have aiohttp; else lack aiohttp "aiohttp for $PY not installed (python3-aiohttp)"; fi
  if command -v nginx >/dev/null && command -v curl >/dev/null; then have nginx; else lack nginx "nginx or curl not installed (nginx-light, curl)"; fi
}

# --- rows -----------------------------------------------------------------------------
# row ID REQUIREMENT LABEL CMD...: one runtime on one workload
declare -A CMD LABEL REQ FAILED
row() {
  local id=$1 req=$2 label=$3 a; shift 3
  for a in "$@"; do   # a row that runs a peer program needs the peers folder too
    case $a in "$PEERS"/*) [ -n "${HAVE[peers]}" ] || req=peers ;; esac
  done
  CMD[$id]=$(printf '%q ' "$@"); CMD[$id]=${CMD[$id]% }
  LABEL[$id]=$label; REQ[$id]=$req
}
P=$PEERS
row w1_asyncrun     asyncrun "asyncrun"                 "$A" w1_startup.lua
row w1_lua_e        lua      "Lua floor (lua5.4 -e '')" "$LUA" -e ''
row w1_lua_plain    lua      "Lua floor (empty file)"   "$LUA" "$P/w1_startup/lua_plain.lua"
row w1_luv          luv      "luv"                      "$LUA" "$P/w1_startup/lua_luv.lua"
row w1_cqueues      cqueues  "cqueues"                  "$LUA" "$P/w1_startup/lua_cqueues.lua"
row w1_py_asyncio   py       "asyncio"                  "$PY" "$P/w1_startup/py_asyncio.py"
row w1_py_uvloop    uvloop   "uvloop"                   "$PY" "$P/w1_startup/py_uvloop.py"
row w1_node         node     "Node"                     "$NODE" "$P/w1_startup/node.js"

row w2_asyncrun     asyncrun "asyncrun"                 "$A" w2_spawn.lua "$W2_N"
row w2_node         node     "Node"                     "$NODE" "$P/w2_spawn/node.js" "$W2_N"
row w2_lua_plain    lua      "Lua 5.4 floor (coroutines)" "$LUA" "$P/w2_spawn/lua_plain.lua" "$W2_N"
row w2_luajit_plain luajit   "LuaJIT floor (coroutines)" "$LUAJIT" "$P/w2_spawn/lua_plain.lua" "$W2_N"
row w2_luv          luv      "luv + ready queue"        "$LUA" "$P/w2_spawn/lua_luv.lua" "$W2_N"
row w2_cqueues      cqueues  "cqueues"                  "$LUA" "$P/w2_spawn/lua_cqueues.lua" "$W2_N"
row w2_py_asyncio   py       "asyncio"                  "$PY" "$P/w2_spawn/py_asyncio.py" "$W2_N"
row w2_py_uvloop    uvloop   "uvloop"                   "$PY" "$P/w2_spawn/py_uvloop.py" "$W2_N"

row w3_asyncrun     asyncrun "asyncrun (2 async.queue)" "$A" w3_switch.lua "$W3_N"
row w3_node         node     "Node (promise channel)"   "$NODE" "$P/w3_switch/node.js" "$W3_N"
row w3_lua_plain    lua      "Lua 5.4 floor (resume/yield)" "$LUA" "$P/w3_switch/lua_plain.lua" "$W3_N"
row w3_luajit_plain luajit   "LuaJIT floor (resume/yield)" "$LUAJIT" "$P/w3_switch/lua_plain.lua" "$W3_N"
row w3_luv          luv      "luv + ready queue"        "$LUA" "$P/w3_switch/lua_luv.lua" "$W3_N"
row w3_cqueues      cqueues  "cqueues (FIFO + condition)" "$LUA" "$P/w3_switch/lua_cqueues.lua" "$W3_N"
row w3_py_asyncio   py       "asyncio (2 asyncio.Queue)" "$PY" "$P/w3_switch/py_asyncio.py" "$W3_N"
row w3_py_uvloop    uvloop   "uvloop"                   "$PY" "$P/w3_switch/py_uvloop.py" "$W3_N"

row w4_asyncrun     asyncrun "asyncrun"                 "$A" w4_timers.lua "$W4_N" "$W4_MS" random
row w4_node         node     "Node (timers/promises)"   "$NODE" "$P/w4_timers/node.js" "$W4_N" "$W4_MS" random
row w4_luv          luv      "luv (1 uv_timer per sleep)" "$LUA" "$P/w4_timers/lua_luv.lua" "$W4_N" "$W4_MS" random
row w4_cqueues      cqueues  "cqueues (cqueues.sleep)"  "$LUA" "$P/w4_timers/lua_cqueues.lua" "$W4_N" "$W4_MS" random
row w4_py_asyncio   py       "asyncio"                  "$PY" "$P/w4_timers/py_asyncio.py" "$W4_N" "$W4_MS" random
row w4_py_uvloop    uvloop   "uvloop"                   "$PY" "$P/w4_timers/py_uvloop.py" "$W4_N" "$W4_MS" random

W4RSS_RT=(asyncrun node luv cqueues py_asyncio py_uvloop)
for rt in "${W4RSS_RT[@]}"; do
  for n in "$W4RSS_N" 0; do
    id=w4rss_${rt}_$([ "$n" = 0 ] && echo 0 || echo n)
    case $rt in
      asyncrun)   row "$id" asyncrun "asyncrun" "$A" w4_timers.lua "$n" 1000 fixed ;;
      node)       row "$id" node     "Node"     "$NODE" "$P/w4_timers/node.js" "$n" 1000 fixed ;;
      luv)        row "$id" luv      "luv"      "$LUA" "$P/w4_timers/lua_luv.lua" "$n" 1000 fixed ;;
      cqueues)    row "$id" cqueues  "cqueues"  "$LUA" "$P/w4_timers/lua_cqueues.lua" "$n" 1000 fixed ;;
      py_asyncio) row "$id" py       "asyncio"  "$PY" "$P/w4_timers/py_asyncio.py" "$n" 1000 fixed ;;
      py_uvloop)  row "$id" uvloop   "uvloop"   "$PY" "$P/w4_timers/py_uvloop.py" "$n" 1000 fixed ;;
    esac
  done
done

row w5_asyncrun     asyncrun "asyncrun"                 "$A" w5_tcp_echo.lua "$W5_C" "$W5_R"
row w5_py_uvloop    uvloop   "uvloop streams"           "$PY" "$P/w5_tcp_echo/py_uvloop.py" "$W5_C" "$W5_R"
row w5_node         node     "Node net"                 "$NODE" "$P/w5_tcp_echo/node.js" "$W5_C" "$W5_R"
row w5_luv          luv      "luv (coroutine per conn)" "$LUA" "$P/w5_tcp_echo/lua_luv.lua" "$W5_C" "$W5_R"
row w5_cqueues      cqueues  "cqueues sockets"          "$LUA" "$P/w5_tcp_echo/lua_cqueues.lua" "$W5_C" "$W5_R"
row w5_py_asyncio   py       "asyncio streams"          "$PY" "$P/w5_tcp_echo/py_asyncio.py" "$W5_C" "$W5_R"
# W5s: W5 over TLS, every row trusting the same self-signed certificate (made at the run)
W5S_CERT=$OUT/w5s_cert.pem W5S_KEY=$OUT/w5s_key.pem
row w5s_asyncrun    asyncrun "asyncrun (async.tls)"     "$A" w5s_tls_echo.lua "$W5_C" "$W5_R" "$W5S_CERT" "$W5S_KEY"
row w5s_node        node     "Node tls"                 "$NODE" "$P/w5s_tls_echo/node.js" "$W5_C" "$W5_R" "$W5S_CERT" "$W5S_KEY"
row w5s_py_uvloop   uvloop   "uvloop + ssl"             "$PY" "$P/w5s_tls_echo/py_uvloop.py" "$W5_C" "$W5_R" "$W5S_CERT" "$W5S_KEY"

# W6 in both ways of seeing a child exit: pidfds, and the SIGCHLD fallback
row w6_asyncrun     asyncrun "asyncrun (pidfd)"         "$A" w6_exec.lua "$W6_N" "$W6_J"
row w6_asyncrun_sigchld asyncrun "asyncrun (SIGCHLD fallback)" env ASYNCRUN_NO_PIDFD=1 "$A" w6_exec.lua "$W6_N" "$W6_J"
row w6_xargs        asyncrun "xargs -P (no capture)"    sh "$P/w6_exec/xargs.sh" "$W6_N" "$W6_J"
row w6_py_asyncio   py       "asyncio"                  "$PY" "$P/w6_exec/py_asyncio.py" "$W6_N" "$W6_J"
row w6_node         node     "Node (execFile)"          "$NODE" "$P/w6_exec/node.js" "$W6_N" "$W6_J"
# W7: every row reads the same generated lines from a pipe (cat file | prog), output to /dev/null
W7_IN=$OUT/w7_lines.txt
w7() { row "$1" "$2" "$3" sh -c 'cat "$0" | "$@" >/dev/null' "$W7_IN" "${@:4}"; }
w7 w7_asyncrun   asyncrun "asyncrun (async.stdin:lines, async.stdout:write)" "$A" w7_lines.lua
w7 w7_lua_plain  lua      "Lua 5.4 floor (io.lines, io.write)" "$LUA" "$P/w7_lines/lua_plain.lua"
w7 w7_node       node     "Node readline"            "$NODE" "$P/w7_lines/node.js"
w7 w7_py_asyncio py       "asyncio StreamReader"     "$PY" "$P/w7_lines/py_asyncio.py"
w7 w7_py         py       "python3 for line in sys.stdin" "$PY" "$P/w7_lines/py.py"
w7 w7_awk        peers    "awk toupper"              sh "$P/w7_lines/awk.sh"

W1_ROWS=(w1_asyncrun w1_lua_e w1_lua_plain w1_luv w1_cqueues w1_py_asyncio w1_py_uvloop w1_node)
W2_ROWS=(w2_asyncrun w2_node w2_lua_plain w2_luajit_plain w2_luv w2_cqueues w2_py_asyncio w2_py_uvloop)
W3_ROWS=(w3_asyncrun w3_node w3_lua_plain w3_luajit_plain w3_luv w3_cqueues w3_py_asyncio w3_py_uvloop)
W4_ROWS=(w4_asyncrun w4_node w4_luv w4_cqueues w4_py_asyncio w4_py_uvloop)
W4RSS_ROWS=()
for rt in "${W4RSS_RT[@]}"; do W4RSS_ROWS+=("w4rss_${rt}_n" "w4rss_${rt}_0"); done
W5_ROWS=(w5_asyncrun w5_py_uvloop w5_node w5_luv w5_cqueues w5_py_asyncio)
W5S_ROWS=(w5s_asyncrun w5s_node w5s_py_uvloop)
W6_ROWS=(w6_asyncrun w6_asyncrun_sigchld w6_xargs w6_py_asyncio w6_node)
W7_ROWS=(w7_asyncrun w7_lua_plain w7_node w7_py_asyncio w7_py w7_awk)
# W8's rows name the ports of the nginx that serve.sh starts once the workload is wanted
W8_ROWS=(w8_asyncrun w8_curl w8_py_aiohttp w8_node w8s_asyncrun w8s_curl w8s_py_aiohttp w8s_node)
w8_rows() { # http_url https_url cafile
  row w8_asyncrun    nginx   "asyncrun (async.http)"     "$A" w8_http.lua "$W8_N" "$W8_J" "$1"
  row w8_curl        nginx   "curl --parallel"           sh "$P/w8_http/curl_parallel.sh" "$W8_N" "$W8_J" "$1"
  row w8_py_aiohttp  aiohttp "aiohttp"                   "$PY" "$P/w8_http/py_aiohttp.py" "$W8_N" "$W8_J" "$1"
  row w8_node        node    "Node fetch"                "$NODE" "$P/w8_http/node_fetch.js" "$W8_N" "$W8_J" "$1"
  row w8s_asyncrun   nginx   "asyncrun (async.http)"     "$A" w8_http.lua "$W8_N" "$W8_J" "$2" "$3"
  row w8s_curl       nginx   "curl --parallel"           sh "$P/w8_http/curl_parallel.sh" "$W8_N" "$W8_J" "$2" --cacert "$3"
  row w8s_py_aiohttp aiohttp "aiohttp"                   "$PY" "$P/w8_http/py_aiohttp.py" "$W8_N" "$W8_J" "$2" "$3"
  row w8s_node       node    "Node fetch"                env NODE_EXTRA_CA_CERTS="$3" "$NODE" "$P/w8_http/node_fetch.js" "$W8_N" "$W8_J" "$2"
}
w8_rows http://127.0.0.1:0/1k.txt https://localhost:0/1k.txt /dev/null

# --- measuring ----------------------------------------------------------------------
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
runnable() { [ -n "${HAVE[${REQ[$1]}]}" ] && [ -z "${FAILED[$1]:-}" ]; }
# the JSON field of hyperfine's export (first result)
jfield() { sed -n "s/^ *\"$2\": *\([-0-9.e]*\),*$/\1/p" "$1" | head -n1; }
# every number of the "times" array
jtimes() { awk '/"times"/{on=1; next} on && /\]/{exit} on{gsub(/[ ,]/,""); print}' "$1"; }

fail_row() { # id reason
  FAILED[$1]=$2
  log "  $1 FAILED: $2"
}

# one timed run of a row, wrapped in /usr/bin/time (RSS) and timeout
sample() {
  local id=$1 json="$OUT/$1.last.json" rc
  local cmd="timeout -k 5 $TIMEOUT /usr/bin/time -a -o $OUT/$id.rss -f %M ${CMD[$id]}"
  echo "+ ${CMD[$id]}" >> "$OUT/$id.log"
  hyperfine -N --runs 1 --show-output --export-json "$json" -- "$cmd" \
    >> "$OUT/$id.log" 2>&1
  rc=$?
  if [ $rc -ne 0 ]; then
    if grep -q "exit code: 124\|exit code 124" "$OUT/$id.log"; then
      fail_row "$id" "timed out after $TIMEOUT s"
    else
      fail_row "$id" "the run failed (hyperfine status $rc)"
    fi
    return 1
  fi
  LAST_WALL=$(jfield "$json" mean)
  echo "$LAST_WALL" >> "$OUT/$id.wall"
  awk -v u="$(jfield "$json" user)" -v s="$(jfield "$json" system)" 'BEGIN{print u + s}' \
    >> "$OUT/$id.cpu"
}

# alternate the rows of one workload: a warm-up/probe round, then rounds of one run each
measure_runs() {
  local id round more
  declare -A need
  for id in "$@"; do
    runnable "$id" || continue
    : > "$OUT/$id.wall"; : > "$OUT/$id.rss"; : > "$OUT/$id.cpu"
  done
  log "probe/warm-up round: $*"
  for id in "$@"; do
    runnable "$id" || continue
    sample "$id" || continue
    if awk -v w="$LAST_WALL" -v l="$LONG" 'BEGIN{exit !(w > l)}'; then
      need[$id]=$((LONG_RUNS - 1))          # long: the first run counts, 3 in all
      log "  $id: ${LAST_WALL}s > ${LONG}s: $LONG_RUNS runs, no warm-up"
    else
      need[$id]=$RUNS
      : > "$OUT/$id.wall"; : > "$OUT/$id.cpu"   # warm-up: wall dropped (RSS kept)
    fi
  done
  for ((round = 1; ; round++)); do
    more=
    for id in "$@"; do
      runnable "$id" || continue
      [ "${need[$id]:-0}" -gt 0 ] || continue
      more=1
      sample "$id" || continue
      need[$id]=$((need[$id] - 1))
    done
    [ -n "$more" ] || break
    log "round $round done"
  done
}

# W1: rounds of W1_BATCH starts per row (hyperfine, unwrapped), RSS by separate runs
measure_starts() {
  local id round json
  for id in "$@"; do
    runnable "$id" || continue
    : > "$OUT/$id.wall"; : > "$OUT/$id.rss"; : > "$OUT/$id.cpu"
  done
  for ((round = 1; round <= RUNS; round++)); do
    for id in "$@"; do
      runnable "$id" || continue
      json="$OUT/$id.last.json"
      if ! hyperfine -N --style none --runs "$W1_BATCH" --warmup $((round == 1 ? 3 : 0)) \
          --export-json "$json" -- "${CMD[$id]}" >> "$OUT/$id.log" 2>&1; then
        fail_row "$id" "the run failed"
        continue
      fi
      jtimes "$json" >> "$OUT/$id.wall"
      awk -v u="$(jfield "$json" user)" -v s="$(jfield "$json" system)" 'BEGIN{print u + s}' \
        >> "$OUT/$id.cpu"
    done
    log "round $round done"
  done
  for id in "$@"; do
    runnable "$id" || continue
    for ((round = 1; round <= RUNS; round++)); do
      eval "/usr/bin/time -a -o \"\$OUT/\$id.rss\" -f %M ${CMD[$id]}" >/dev/null 2>>"$OUT/$id.log" ||
        fail_row "$id" "the run failed"
    done
  done
}

wanted() { echo "$1" | grep -Eqx -- "$FILTER"; }

# --- statistics and formatting ------------------------------------------------------
median() { # file -> median of its numbers, or nothing
  [ -s "$1" ] || return 0
  sort -g "$1" | awk '{v[NR]=$1} END{if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'
}
declare -A WALL RSS CPU NRUNS OWNCPU
collect() {
  local id
  for id in "$@"; do
    runnable "$id" || continue
    WALL[$id]=$(median "$OUT/$id.wall")
    RSS[$id]=$(median "$OUT/$id.rss")
    CPU[$id]=$(median "$OUT/$id.cpu")
    NRUNS[$id]=$(wc -l < "$OUT/$id.wall")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "${WALL[$id]}" "${RSS[$id]}" "${CPU[$id]}" \
      "${NRUNS[$id]}" "${CMD[$id]}" >> "$OUT/summary.tsv"
  done
}
calc() { awk "BEGIN{printf \"%.6g\", $1}"; }
fmt_s() { # seconds
  awk -v s="$1" 'BEGIN{ if (s < 0.01) printf "%.2f ms", s*1000; else if (s < 1) printf "%.0f ms", s*1000;
                        else printf "%.2f s", s }'
}
fmt_kib() { awk -v k="$1" 'BEGIN{ printf "%.1f MiB", k/1024 }'; }
fmt_rate() { # per second
  awk -v r="$1" 'BEGIN{ if (r >= 1e6) printf "%.2f M/s", r/1e6; else if (r >= 1e4) printf "%.0f k/s", r/1e3;
                        else if (r >= 1e3) printf "%.2f k/s", r/1e3; else printf "%.1f /s", r }'
}
fmt_n() { echo "$1" | sed -e :a -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/; ta'; }  # 1000000 -> 1,000,000
fmt_x() { awk -v x="$1" 'BEGIN{ if (x >= 10) printf "%.0f×", x; else printf "%.2f×", x }'; }
shown() { # a command as the report shows it
  local c=${CMD[$1]}
  c=${c//$OUT\/asyncrun/asyncrun}
  c=${c//$PEERS/peers}
  echo "${c//|/\\|}"
}
ok() { [ -n "${WALL[$1]:-}" ]; }
status_of() { # id -> "skipped: why" / "failed: why" / ""
  if [ -z "${HAVE[${REQ[$1]}]}" ]; then echo "skipped: ${WHY[${REQ[$1]}]}"
  elif [ -n "${FAILED[$1]:-}" ]; then echo "FAILED: ${FAILED[$1]}"
  elif ! ok "$1"; then echo "not run"; fi
}

both() { # the status of two rows, for a line that needs both
  local a b; a=$(status_of "$1"); b=$(status_of "$2")
  [ -n "$a" ] && a="$1 $a"; [ -n "$b" ] && b="$2 $b"
  if [ -n "$a" ] && [ -n "$b" ]; then echo "$a; $b"; else echo "$a$b"; fi
}

NOTES=()
note_row() { # remember skipped/failed rows for the notes section
  local s; s=$(status_of "$1")
  [ -n "$s" ] && NOTES+=("\`$1\` (${LABEL[$1]}): $s")
  return 0
}

# table of one workload: rate = UNITS / wall
workload_table() { # units unit_name asyncrun_id rows...
  local units=$1 uname=$2 me=$3; shift 3
  echo "| runtime | command | runs | wall (median) | cpu (median) | peak RSS | $uname | asyncrun ÷ this (wall) | asyncrun ÷ this (RSS) |"
  echo "|---|---|---|---|---|---|---|---|---|"
  local id s
  for id in "$@"; do
    s=$(status_of "$id")
    if [ -n "$s" ]; then
      echo "| ${LABEL[$id]} | \`$(shown "$id")\` | – | $s | | | | | |"
      note_row "$id"; continue
    fi
    local rate wr rr
    rate=$(fmt_rate "$(calc "$units / ${WALL[$id]}")")
    if [ "$id" = "$me" ]; then wr="—"; rr="—"
    elif ok "$me"; then
      wr=$(fmt_x "$(calc "${WALL[$me]} / ${WALL[$id]}")")
      rr=$(fmt_x "$(calc "${RSS[$me]} / ${RSS[$id]}")")
    else wr="n/a"; rr="n/a"; fi
    local name=${LABEL[$id]}
    [ "$id" = "$me" ] && name="**$name**"
    echo "| $name | \`$(shown "$id")\` | ${NRUNS[$id]} | $(fmt_s "${WALL[$id]}") | $(fmt_s "${CPU[$id]}") | $(fmt_kib "${RSS[$id]}") | $rate | $wr | $rr |"
  done
}

# goals: GOAL_ROWS lines "workload|goal|target|measured|status"
GOALS=()
goal() { GOALS+=("| $1 | $2 | $3 | $4 | $5 |"); }
judge() { # value op limit -> met/missed
  awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN{ r = (op == "<=") ? v <= l : v >= l; print (r ? "**met**" : "**missed**") }'
}
ratio_goal() { # workload text me peer limit (asyncrun/peer <= limit)
  local w=$1 text=$2 me=$3 peer=$4 lim=$5 r
  if ok "$me" && ok "$peer"; then
    r=$(calc "${WALL[$me]} / ${WALL[$peer]}")
    goal "$w" "$text" "≤ ${lim}×" "$(fmt_x "$r") ($(fmt_s "${WALL[$me]}") vs $(fmt_s "${WALL[$peer]}")); by cpu $(fmt_x "$(calc "${CPU[$me]} / ${CPU[$peer]}")")" "$(judge "$r" "<=" "$lim")"
  else
    goal "$w" "$text" "≤ ${lim}×" "n/a" "n/a ($(both "$me" "$peer"))"
  fi
}
speedup_goal() { # workload text me peer limit (peer/asyncrun >= limit)
  local w=$1 text=$2 me=$3 peer=$4 lim=$5 r
  if ok "$me" && ok "$peer"; then
    r=$(calc "${WALL[$peer]} / ${WALL[$me]}")
    goal "$w" "$text" "≥ ${lim}×" "$(fmt_x "$r") ($(fmt_s "${WALL[$peer]}") vs $(fmt_s "${WALL[$me]}")); by cpu $(fmt_x "$(calc "${CPU[$peer]} / ${CPU[$me]}")")" "$(judge "$r" ">=" "$lim")"
  else
    goal "$w" "$text" "≥ ${lim}×" "n/a" "n/a ($(both "$me" "$peer"))"
  fi
}

# --- run ----------------------------------------------------------------------------
# the commit of the sources, as the run starts (a change to tests or docs does not count)
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
if ! git -C "$ROOT" diff --quiet HEAD -- cli runtime lua Makefile 2>/dev/null; then
  commit="$commit + uncommitted changes to the sources"
fi
[ "$ASYNCRUN" -ef "$ROOT/build/asyncrun" ] || commit="$commit (binary: $ASYNCRUN)"
START=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
T0=$(date +%s)
printf 'row\tmedian_wall_s\tmedian_peak_rss_kib\tmedian_cpu_s\truns\tcommand\n' > "$OUT/summary.tsv"
log "mode: $MODE; raw results in $OUT"
for r in peers lua luajit luv cqueues py uvloop node; do
  [ -n "${HAVE[$r]}" ] || log "skipping $r: ${WHY[$r]}"
done

if wanted w1; then log "== W1 startup"; measure_starts "${W1_ROWS[@]}"; collect "${W1_ROWS[@]}"; fi
if wanted w2; then log "== W2 spawn N=$W2_N"; measure_runs "${W2_ROWS[@]}"; collect "${W2_ROWS[@]}"; fi
if wanted w3; then log "== W3 switch N=$W3_N"; measure_runs "${W3_ROWS[@]}"; collect "${W3_ROWS[@]}"; fi
if wanted w4; then log "== W4 timers N=$W4_N"; measure_runs "${W4_ROWS[@]}"; collect "${W4_ROWS[@]}"; fi
if wanted w4rss; then log "== W4 RSS per sleeping task N=$W4RSS_N"; measure_runs "${W4RSS_ROWS[@]}"; collect "${W4RSS_ROWS[@]}"; fi
if wanted w5; then log "== W5 TCP echo C=$W5_C R=$W5_R"; measure_runs "${W5_ROWS[@]}"; collect "${W5_ROWS[@]}"; fi
if wanted w5s; then
  log "== W5s TLS echo C=$W5_C R=$W5_R"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost -keyout "$W5S_KEY" -out "$W5S_CERT" 2>>"$OUT/w5s_cert.log" ||
    die "openssl req failed (see $OUT/w5s_cert.log)"
  measure_runs "${W5S_ROWS[@]}"; collect "${W5S_ROWS[@]}"
fi
if wanted w6; then
  log "== W6 exec N=$W6_N J=$W6_J"; measure_runs "${W6_ROWS[@]}"; collect "${W6_ROWS[@]}"
  # asyncrun's own CPU time per child (the rows' cpu includes the children's): median of 3
  for id in w6_asyncrun w6_asyncrun_sigchld; do
    runnable "$id" || continue
    : > "$OUT/$id.owncpu"
    for k in 1 2 3; do
      eval "${CMD[$id]} cpu" 2>&1 >/dev/null | sed -n 's/^asyncrun own cpu: \([0-9.]*\) us.*/\1/p' >> "$OUT/$id.owncpu"
    done
    OWNCPU[$id]=$(median "$OUT/$id.owncpu")
  done
fi
if wanted w7; then
  log "== W7 line filter N=$W7_N"
  "$BENCH_DIR/w7_input.sh" "$W7_N" > "$W7_IN"
  measure_runs "${W7_ROWS[@]}"; collect "${W7_ROWS[@]}"
fi
if wanted w8; then
  log "== W8 HTTP N=$W8_N J=$W8_J"
  chmod a+x "$OUT" # nginx's workers run as another user when started as root
  if [ -n "${HAVE[nginx]}" ] && [ -n "${HAVE[peers]}" ] && read -r W8_HP W8_SP < <(sh "$P/w8_http/serve.sh" start "$OUT/w8"); then
    w8_rows "http://127.0.0.1:$W8_HP/1k.txt" "https://localhost:$W8_SP/1k.txt" "$OUT/w8/cert.pem"
    measure_runs "${W8_ROWS[@]}"; collect "${W8_ROWS[@]}"
    sh "$P/w8_http/serve.sh" stop "$OUT/w8"
  else
    lack nginx "nginx (serve.sh) did not start: see $OUT/w8/error.log"
  fi
fi

ELAPSED=$(( $(date +%s) - T0 ))
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report -------------------------------------------------------------------------
version_of() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }

{
echo "# asyncrun benchmark results"
echo
echo "Written by \`bench/run.sh\` ($MODE) on $START, in $((ELAPSED / 60)) min $((ELAPSED % 60)) s."
echo "asyncrun: commit $commit, \`$("$A" -v 2>&1)\`."
echo
echo "**Machine**: $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r)."
echo "Load average (1, 5, 15 min) at the start: $LOAD0; at the end: $LOAD1."
echo "A load near or above the CPU count means other work shared the machine: every row"
echo "was measured alternately with its peers, so the ratios suffer less than the absolute times."
echo
echo "**Method**: rows of a workload run alternately (one run of each, in turn), $RUNS timed"
echo "runs each after one warm-up run; a row whose first run took more than ${LONG} s gets"
echo "$LONG_RUNS runs, no warm-up. Wall = median of hyperfine -N runs (process start-up"
echo "included); cpu = user + sys of the process; peak RSS = median of \`/usr/bin/time -f %M\`."
echo "W1: $RUNS rounds of $W1_BATCH starts per row ($((RUNS * W1_BATCH)) starts), RSS from $RUNS separate runs."
echo "\"asyncrun ÷ this\" below 1 means asyncrun is faster (or smaller). \`peers\` = \`$PEERS\`,"
echo "the programs of PEERS.md; raw samples: \`$OUT\` (summary.tsv)."
[ -n "$QUICK" ] && { echo; echo "**Quick mode**: the sizes are smaller than the workloads' definitions, so the goals table is indicative only."; }
echo
echo "## Versions"
echo
echo "| runtime | version |"
echo "|---|---|"
echo "| asyncrun | $("$A" -v 2>&1) |"
[ -n "${HAVE[lua]}" ] && echo "| Lua | $("$LUA" -v 2>&1 | head -n1 | awk '{print $1, $2}') (Debian lua5.4 $(version_of lua5.4)) |"
[ -n "${HAVE[luajit]}" ] && echo "| LuaJIT | $("$LUAJIT" -v 2>&1 | head -n1) |"
[ -n "${HAVE[luv]}" ] && echo "| luv | Debian lua-luv $(version_of lua-luv) |"
[ -n "${HAVE[cqueues]}" ] && echo "| cqueues | Debian lua-cqueues $(version_of lua-cqueues) |"
[ -n "${HAVE[py]}" ] && echo "| Python asyncio | $("$PY" -V 2>&1) ($PY) |"
[ -n "${HAVE[uvloop]}" ] && echo "| uvloop | $("$PY" -c 'import uvloop; print(uvloop.__version__)' 2>&1) |"
[ -n "${HAVE[node]}" ] && echo "| Node | $("$NODE" --version 2>&1) |"
echo "| hyperfine | $(hyperfine --version 2>&1) |"

if wanted w1; then
  echo
  echo "## W1 startup (empty async main)"
  echo
  workload_table 1 "starts/s" w1_asyncrun "${W1_ROWS[@]}"
  ratio_goal W1 "start-up ≤ 1.3 × \`lua5.4 -e ''\`" w1_asyncrun w1_lua_e 1.3
  speedup_goal W1 "≥ 20× faster than asyncio" w1_asyncrun w1_py_asyncio 20
  speedup_goal W1 "≥ 20× faster than Node" w1_asyncrun w1_node 20
fi

if wanted w2; then
  echo
  echo "## W2 spawn: $(fmt_n "$W2_N") tasks that return immediately, then await all"
  echo
  workload_table "$W2_N" "tasks/s" w2_asyncrun "${W2_ROWS[@]}"
  ratio_goal W2 "spawn ≤ 1.0 × Node" w2_asyncrun w2_node 1.0
  ratio_goal W2 "spawn ≤ 0.3 × plain Lua coroutines" w2_asyncrun w2_lua_plain 0.3
  if ok w2_asyncrun; then
    base=0; basenote="peak / N"
    if ok w1_asyncrun; then base=${RSS[w1_asyncrun]}; basenote="(peak − W1 peak) / N"; fi
    per=$(calc "(${RSS[w2_asyncrun]} - $base) * 1024 / $W2_N")
    echo
    echo "asyncrun RSS per pending task: $(printf '%.0f' "$per") B ($basenote; all $(fmt_n "$W2_N") tasks are alive at the peak)."
    goal W2 "≤ 300 B RSS per pending task" "≤ 300 B" "$(printf '%.0f' "$per") B ($basenote)" "$(judge "$per" "<=" 300)"
  else
    goal W2 "≤ 300 B RSS per pending task" "≤ 300 B" "n/a" "n/a ($(status_of w2_asyncrun))"
  fi
fi

if wanted w3; then
  echo
  echo "## W3 switch: ping-pong $(fmt_n "$W3_N") round trips between two tasks (2 switches each)"
  echo
  workload_table "$W3_N" "round trips/s" w3_asyncrun "${W3_ROWS[@]}"
  ratio_goal W3 "ping-pong ≤ 1.0 × Node" w3_asyncrun w3_node 1.0
  ratio_goal W3 "ping-pong ≤ 2.5 × plain resume/yield" w3_asyncrun w3_lua_plain 2.5
fi

if wanted w4; then
  echo
  echo "## W4 timers: $(fmt_n "$W4_N") tasks each sleep uniform [0, $W4_MS] ms"
  echo
  echo "Rate = sleeping tasks completed per second of wall (ideal wall ≈ ${W4_MS} ms + start-up)."
  echo
  workload_table "$W4_N" "tasks/s" w4_asyncrun "${W4_ROWS[@]}"
  ratio_goal W4 "100k random sleeps ≤ 0.5 × Node" w4_asyncrun w4_node 0.5
fi

if wanted w4rss; then
  echo
  echo "## W4 memory: $(fmt_n "$W4RSS_N") tasks sleeping 1 s vs the same program with 0 tasks"
  echo
  echo "bytes per sleeping task = (peak RSS with $(fmt_n "$W4RSS_N") − peak RSS with 0) × 1024 / $(fmt_n "$W4RSS_N")."
  echo
  echo "| runtime | command (N = $(fmt_n "$W4RSS_N"), then 0) | runs | wall (N) | peak RSS (N) | peak RSS (0) | bytes / sleeping task | asyncrun ÷ this |"
  echo "|---|---|---|---|---|---|---|---|"
  declare -A PERTASK
  for rt in "${W4RSS_RT[@]}"; do
    n=w4rss_${rt}_n; z=w4rss_${rt}_0
    if ok "$n" && ok "$z"; then
      PERTASK[$rt]=$(calc "(${RSS[$n]} - ${RSS[$z]}) * 1024 / $W4RSS_N")
    fi
  done
  for rt in "${W4RSS_RT[@]}"; do
    n=w4rss_${rt}_n; z=w4rss_${rt}_0
    name=${LABEL[$n]}; [ "$rt" = asyncrun ] && name="**$name**"
    if [ -z "${PERTASK[$rt]:-}" ]; then
      echo "| $name | \`$(shown "$n")\` | – | $(both "$n" "$z") | | | | |"
      note_row "$n"; note_row "$z"; continue
    fi
    rr="—"
    if [ "$rt" != asyncrun ]; then
      if [ -n "${PERTASK[asyncrun]:-}" ]; then rr=$(fmt_x "$(calc "${PERTASK[asyncrun]} / ${PERTASK[$rt]}")"); else rr="n/a"; fi
    fi
    echo "| $name | \`$(shown "$n")\` | ${NRUNS[$n]} | $(fmt_s "${WALL[$n]}") | $(fmt_kib "${RSS[$n]}") | $(fmt_kib "${RSS[$z]}") | $(printf '%.0f' "${PERTASK[$rt]}") | $rr |"
  done
  if [ -n "${PERTASK[asyncrun]:-}" ]; then
    goal W4 "≤ 1.2 KB RSS per sleeping task" "≤ 1200 B" "$(printf '%.0f' "${PERTASK[asyncrun]}") B" "$(judge "${PERTASK[asyncrun]}" "<=" 1200)"
  else
    goal W4 "≤ 1.2 KB RSS per sleeping task" "≤ 1200 B" "n/a" "n/a ($(both w4rss_asyncrun_n w4rss_asyncrun_0))"
  fi
fi

if wanted w5; then
  echo
  echo "## W5 TCP echo: $(fmt_n "$W5_C") clients × $(fmt_n "$W5_R") round trips of 64 B, one process, 127.0.0.1"
  echo
  workload_table "$((W5_C * W5_R))" "round trips/s" w5_asyncrun "${W5_ROWS[@]}"
  ratio_goal W5 "TCP echo ≤ 0.8 × uvloop" w5_asyncrun w5_py_uvloop 0.8
  if ok w5_asyncrun; then
    goal W5 "peak RSS ≤ 10 MiB" "≤ 10 MiB" "$(fmt_kib "${RSS[w5_asyncrun]}")" "$(judge "${RSS[w5_asyncrun]}" "<=" 10240)"
  else
    goal W5 "peak RSS ≤ 10 MiB" "≤ 10 MiB" "n/a" "n/a ($(status_of w5_asyncrun))"
  fi
fi

if wanted w5s; then
  echo
  echo "## W5s TLS echo: $(fmt_n "$W5_C") clients × $(fmt_n "$W5_R") round trips of 64 B over TLS (self-signed RSA 2048 certificate), one process, 127.0.0.1"
  echo
  workload_table "$((W5_C * W5_R))" "round trips/s" w5s_asyncrun "${W5S_ROWS[@]}"
  ratio_goal W5s "TLS echo ≤ 0.7 × Node" w5s_asyncrun w5s_node 0.7
  ratio_goal W5s "TLS echo ≤ 0.7 × uvloop" w5s_asyncrun w5s_py_uvloop 0.7
fi

if wanted w6; then
  echo
  echo "## W6 exec: $(fmt_n "$W6_N") runs of \`/bin/echo i\`, at most $W6_J at once, each output captured"
  echo
  echo "cpu includes the children's (every \`/bin/echo\` start); xargs captures nothing in its"
  echo "parent (its children write to one pipe), a floor for the fork+exec cost."
  echo
  workload_table "$W6_N" "children/s" w6_asyncrun "${W6_ROWS[@]}"
  echo
  for id in w6_asyncrun w6_asyncrun_sigchld; do
    [ -n "${OWNCPU[$id]:-}" ] && echo "${LABEL[$id]}: own CPU time (user + sys of asyncrun alone, median of 3 runs) $(printf '%.0f' "${OWNCPU[$id]}") µs per child."
  done
  for id in w6_asyncrun w6_asyncrun_sigchld; do
    ratio_goal W6 "${LABEL[$id]} ≤ 0.8 × \`xargs -P $W6_J\`" "$id" w6_xargs 0.8
    ratio_goal W6 "${LABEL[$id]} ≤ 0.9 × asyncio" "$id" w6_py_asyncio 0.9
    ratio_goal W6 "${LABEL[$id]} ≤ 0.5 × Node" "$id" w6_node 0.5
  done
fi
if wanted w7; then
  echo
  echo "## W7 line filter: \`cat\` $(fmt_n "$W7_N") lines ($(fmt_kib $(( $(wc -c < "$W7_IN") / 1024 )))) through a program that upper-cases each, to /dev/null"
  echo
  echo "Every row includes the \`sh\` and \`cat\` of its pipeline."
  echo
  workload_table "$W7_N" "lines/s" w7_asyncrun "${W7_ROWS[@]}"
  ratio_goal W7 "line filter ≤ 1.0 × plain Lua (io.lines + io.write)" w7_asyncrun w7_lua_plain 1.0
  ratio_goal W7 "line filter ≤ 0.3 × Node readline" w7_asyncrun w7_node 0.3
  ratio_goal W7 "line filter ≤ 0.3 × asyncio StreamReader" w7_asyncrun w7_py_asyncio 0.3
fi
if wanted w8; then
  echo
  echo "## W8 HTTP client: $(fmt_n "$W8_N") GETs of a 1 KiB file from a local nginx, $W8_J at once"
  echo
  echo "nginx (\`peers/w8_http/serve.sh\`) over HTTP/1.1 keep-alive, then over HTTPS with HTTP/2 and a"
  echo "certificate made for localhost, trusted through a CA file. Every row includes its start-up."
  echo
  echo "HTTP/1.1:"
  echo
  workload_table "$W8_N" "requests/s" w8_asyncrun w8_asyncrun w8_curl w8_py_aiohttp w8_node
  echo
  echo "HTTPS (HTTP/2):"
  echo
  workload_table "$W8_N" "requests/s" w8s_asyncrun w8s_asyncrun w8s_curl w8s_py_aiohttp w8s_node
  for s in w8 w8s; do
    proto=$([ $s = w8 ] && echo HTTP || echo HTTPS)
    ratio_goal W8 "$proto ≤ 1.5 × \`curl --parallel\`" ${s}_asyncrun ${s}_curl 1.5
    ratio_goal W8 "$proto ≤ 0.3 × aiohttp" ${s}_asyncrun ${s}_py_aiohttp 0.3
    ratio_goal W8 "$proto ≤ 0.2 × Node fetch" ${s}_asyncrun ${s}_node 0.2
  done
fi

echo
echo "## Goals"
echo
[ -n "$QUICK" ] && { echo "(quick mode: smaller sizes than the goals are defined for — indicative only)"; echo; }
echo "Status is judged on the wall-time medians, as the goals are defined. \"by cpu\" is the same"
echo "ratio on user + sys time: it moves less when other work shares the machine (but it"
echo "leaves out waiting that belongs to the workload, such as W4's sleeps)."
echo
echo "| workload | goal | target | measured | status |"
echo "|---|---|---|---|---|"
for g in "${GOALS[@]}"; do echo "$g"; done

echo
echo "## Skipped and failed"
echo
if [ ${#NOTES[@]} -eq 0 ]; then
  echo "Nothing: every row ran."
else
  for n in "${NOTES[@]}"; do echo "- $n"; done
  shown_logs=0
  for id in $(printf '%s\n' "${!FAILED[@]}" | sort); do
    shown_logs=$((shown_logs + 1))
    if [ $shown_logs -gt 6 ]; then echo; echo "(more logs in \`$OUT/*.log\`)"; break; fi
    echo
    echo "End of the log of \`$id\`:"
    echo
    echo '```'
    tail -n 15 "$OUT/$id.log" | sed 's/^/    /' | cut -c1-200
    echo '```'
  done
fi
} > "$RESULTS_MD"

# The README's performance table, between its two marker lines: written from a full run
# only (quick mode and a subset of the workloads would not compare with the goals).
readme_ratio() { # me peer [label] -> "1.23×" or "n/a"
  if ok "$1" && ok "$2"; then echo "$(fmt_x "$(calc "${WALL[$1]} / ${WALL[$2]}")")${3:+ $3}"; else echo "n/a"; fi
}
readme_table() {
  echo "| workload | asyncrun | vs Node | vs Python (asyncio, uvloop) | vs plain Lua 5.4 (W6: xargs) |"
  echo "|---|---|---|---|---|"
  echo "| W1 start-up, empty main | $(fmt_s "${WALL[w1_asyncrun]}") | $(readme_ratio w1_asyncrun w1_node) | $(readme_ratio w1_asyncrun w1_py_asyncio asyncio) | $(readme_ratio w1_asyncrun w1_lua_e "(\`lua5.4 -e ''\`)") |"
  echo "| W2 spawn + await 1M tasks | $(fmt_s "${WALL[w2_asyncrun]}") | $(readme_ratio w2_asyncrun w2_node) | $(readme_ratio w2_asyncrun w2_py_asyncio asyncio) | $(readme_ratio w2_asyncrun w2_lua_plain "(coroutines)") |"
  echo "| W3 1M ping-pong round trips through two queues | $(fmt_s "${WALL[w3_asyncrun]}") | $(readme_ratio w3_asyncrun w3_node) | $(readme_ratio w3_asyncrun w3_py_asyncio asyncio) | $(readme_ratio w3_asyncrun w3_lua_plain "(resume/yield)") |"
  echo "| W4 100k random sleeps | $(fmt_s "${WALL[w4_asyncrun]}") | $(readme_ratio w4_asyncrun w4_node) | $(readme_ratio w4_asyncrun w4_py_asyncio asyncio) | — |"
  echo "| W5 TCP echo, 100 clients × 1,000 round trips | $(fmt_s "${WALL[w5_asyncrun]}") | $(readme_ratio w5_asyncrun w5_node) | $(readme_ratio w5_asyncrun w5_py_uvloop uvloop) | — |"
  echo "| W6 2,000 \`/bin/echo\` children, 32 at once, output captured | $(fmt_s "${WALL[w6_asyncrun]}") | $(readme_ratio w6_asyncrun w6_node) | $(readme_ratio w6_asyncrun w6_py_asyncio asyncio) | $(readme_ratio w6_asyncrun w6_xargs "(\`xargs -P 32\`)") |"
  echo "| W7 line filter, 1M lines from a pipe | $(fmt_s "${WALL[w7_asyncrun]}") | $(readme_ratio w7_asyncrun w7_node "(readline)") | $(readme_ratio w7_asyncrun w7_py_asyncio asyncio) | $(readme_ratio w7_asyncrun w7_lua_plain "(\`io.lines\` + \`io.write\`)") |"
}
README=$ROOT/README.md
if [ -z "$QUICK" ] && [ "$FILTER" = ".*" ] && ok w1_asyncrun && ok w2_asyncrun \
   && ok w3_asyncrun && ok w4_asyncrun && ok w5_asyncrun && ok w6_asyncrun && ok w7_asyncrun && grep -q '^<!-- perf-table -->$' "$README"; then
  readme_table > "$OUT/readme_table.md"
  awk -v table="$OUT/readme_table.md" '
    /^<!-- perf-table -->$/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
    /^<!-- \/perf-table -->$/ { skip = 0 }
    !skip { print }' "$README" > "$OUT/README.md" && cat "$OUT/README.md" > "$README"
  log "README.md: performance table updated"
fi

log "done in ${ELAPSED}s: $RESULTS_MD (raw: $OUT/summary.tsv)"
column -t -s "$(printf '\t')" "$OUT/summary.tsv" >&2
