#!/usr/bin/env bash
# Builds the fuzz targets with clang into build/fuzz/ and runs everything for a bounded time:
#   tests/fuzz/run.sh [SECONDS]          (default 60)
# - fuzz_opts and fuzz_stream (libFuzzer + ASan + UBSan) for SECONDS each;
# - api_fuzz.lua for as many seeds as fit in SECONDS, with build/asyncrun and, while that
#   runs, with build/asan/asyncrun if it exists (two cores: each C target runs alongside
#   one of the api_fuzz series, so the whole run takes about 2 x SECONDS plus the build).
# Prints the executions of each target and ends with "fuzz: N passed, M failed" (a C target
# run counts as one, so does each api_fuzz seed). Exits non-zero on any crash, leak,
# timeout or failed seed. Crash inputs and failing seeds' logs go to build/fuzz/crashes/.
#
# Environment: FUZZ_CC (default clang-14, else clang); FUZZ_SEED_BASE (first api_fuzz seed;
# default random, printed, so that repeated runs cover new seeds); FUZZ_OPTS_ALLOW (a known
# divergence to tolerate so that fuzzing goes past it, see README.md); ASYNCRUN (the
# binary, default build/asyncrun).
set -u
secs=${1:-60}
case $secs in "" | *[!0-9]* | 0) echo "usage: $0 [SECONDS] (a whole number of seconds, at least 1)" >&2; exit 2 ;; esac
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2
out=build/fuzz
obj=$out/obj
gen=$out/gen
crashes=$out/crashes
mkdir -p "$obj" "$gen" "$crashes" "$out/logs"

# --- tools -------------------------------------------------------------------------------
sudo=$([ "$(id -u)" = 0 ] || echo sudo)
cc=${FUZZ_CC:-}
if [ -z "$cc" ]; then
    if command -v clang-14 >/dev/null; then cc=clang-14; elif command -v clang >/dev/null; then cc=clang; fi
fi
fuzzer_rt_present() {
    [ -n "$cc" ] && [ -e "$("$cc" -print-resource-dir 2>/dev/null)/lib/linux/libclang_rt.fuzzer-x86_64.a" ]
}
if [ -z "$cc" ] || ! fuzzer_rt_present; then
    echo "installing clang-14 and libclang-rt-14-dev"
    $sudo apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
            clang-14 libclang-rt-14-dev >/dev/null
    cc=${FUZZ_CC:-clang-14}
fi
if ! fuzzer_rt_present; then
    echo "fuzz: cannot find clang's libFuzzer runtime ($cc)" >&2
    echo "fuzz: 0 passed, 1 failed"
    exit 1
fi
bin=${ASYNCRUN:-build/asyncrun}
if [ ! -x "$bin" ]; then
    make -s build/asyncrun || { echo "fuzz: 0 passed, 1 failed"; exit 1; }
fi

# --- build -------------------------------------------------------------------------------
lua_cflags=$(pkg-config --cflags lua5.4)
lua_libs=$(pkg-config --libs lua5.4)
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cflags="-std=c11 -g -O1 $san -D_GNU_SOURCE -iquote runtime -iquote lua -iquote cli -iquote $gen $lua_cflags"

# a byte-array header from a file, as the Makefile embeds lua/async.lua
embed() { # embed SRC NAME HEADER
    if [ ! -e "$3" ] || [ "$1" -nt "$3" ]; then
        { echo "static const unsigned char $2[] = {"
          od -An -v -tx1 "$1" | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'
          echo '};'; } > "$3.tmp" && mv "$3.tmp" "$3"
    fi
}
embed lua/async.lua async_lua "$gen/async_lua.h"
make -s build/gen/version.h && cp build/gen/version.h "$gen/version.h" # --version's, from the file VERSION
make -s build/gen/trace_html_js.h && cp build/gen/trace_html_js.h "$gen/trace_html_js.h" # the html page's script
embed tests/fuzz/stream_check.lua stream_check_lua "$gen/stream_check_lua.h"

# compiles SRC into OBJ unless OBJ is newer than SRC and every header it included
compile() { # compile SRC OBJ [extra flags]
    local src=$1 o=$2 stale=0
    shift 2
    if [ ! -e "$o" ] || [ ! -e "${o%.o}.d" ]; then
        stale=1
    else
        for dep in $(sed -e 's/^[^:]*://' -e 's/\\$//' "${o%.o}.d"); do
            case $dep in *:) continue ;; esac
            if [ ! -e "$dep" ] || [ "$dep" -nt "$o" ]; then stale=1; break; fi
        done
    fi
    [ "$stale" = 1 ] || return 0
    mkdir -p "$(dirname "$o")"
    echo "  CC      $src (fuzz)"
    # shellcheck disable=SC2086
    "$cc" $cflags "$@" -MMD -MP -c -o "$o" "$src"
}

build_failed=0
lib_objs=()
for src in runtime/*.c lua/*.c; do
    o=$obj/${src%.c}.o
    compile "$src" "$o" -fsanitize=fuzzer-no-link || build_failed=1
    lib_objs+=("$o")
done
compile cli/opts.c "$obj/cli/opts.o" -fsanitize=fuzzer-no-link || build_failed=1
compile tests/fuzz/fuzz_opts.c "$obj/fuzz_opts.o" || build_failed=1
compile tests/fuzz/fuzz_stream.c "$obj/fuzz_stream.o" || build_failed=1
if [ "$build_failed" = 0 ]; then
    # shellcheck disable=SC2086
    "$cc" $cflags -fsanitize=fuzzer -o "$out/fuzz_opts" "$obj/fuzz_opts.o" "$obj/cli/opts.o" \
            "$obj/runtime/escape.o" &&
        "$cc" $cflags -fsanitize=fuzzer -o "$out/fuzz_stream" "$obj/fuzz_stream.o" \
            "${lib_objs[@]}" $lua_libs -lev -lm -lpthread || build_failed=1
fi
if [ "$build_failed" != 0 ]; then
    echo "fuzz: the build failed"
    echo "fuzz: 0 passed, 1 failed"
    exit 1
fi

# --- runners -----------------------------------------------------------------------------
passed=0 failed=0

# run_target NAME: libFuzzer for $secs seconds; the result goes to $out/logs/NAME.result
run_target() {
    local name=$1 work=$out/corpus/$1 log=$out/logs/$1.log dict=()
    mkdir -p "$work"
    [ "$name" = fuzz_opts ] && dict=(-dict=tests/fuzz/opts.dict)
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        "$out/$name" -max_total_time="$secs" -timeout=25 -rss_limit_mb=4096 -max_len=8192 \
        -print_final_stats=1 -artifact_prefix="$crashes/$name-" "${dict[@]}" \
        "$work" "tests/fuzz/corpus/${name#fuzz_}" >"$log" 2>&1
    local rc=$? execs
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    echo "$rc ${execs:-0}" > "$out/logs/$name.result"
}

# run_api BINARY LABEL: api_fuzz.lua seeds for $secs seconds; "passed failed seeds" to a file
run_api() {
    local b=$1 label=$2 seed=$api_base p=0 f=0 end=$((SECONDS + secs)) mode errf
    errf=$out/logs/api-$label.stderr
    while [ "$SECONDS" -lt "$end" ]; do
        mode=()
        [ $((seed % 2)) = 1 ] && mode=(--fake-time)
        ASAN_OPTIONS=detect_leaks=1:exitcode=99 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=99 \
            timeout 20 "$b" "${mode[@]}" tests/fuzz/api_fuzz.lua "$seed" >/dev/null 2>"$errf"
        local rc=$?
        if [ "$rc" = 0 ] && [ ! -s "$errf" ]; then
            p=$((p + 1))
        else
            f=$((f + 1))
            { echo "# reproduce: $b ${mode[*]} tests/fuzz/api_fuzz.lua $seed   (exit $rc)"
              cat "$errf"; } > "$crashes/api-$label-seed-$seed.log"
        fi
        seed=$((seed + 1))
    done
    rm -f "$errf"
    echo "$p $f $((seed - api_base))" > "$out/logs/api-$label.result"
}

report_target() {
    local name=$1 rc execs
    read -r rc execs < "$out/logs/$name.result"
    if [ "$rc" = 0 ]; then
        echo "$name: $execs executions in ${secs} s, no crash"
        passed=$((passed + 1))
    else
        echo "$name: FAILED after $execs executions (exit $rc); log: $out/logs/$name.log"
        grep -E '^(asyncrun: |fuzz_[a-z]+: |SUMMARY|==[0-9]+==ERROR)' "$out/logs/$name.log" | head -8 | sed 's/^/  /'
        ls -t "$crashes/$name-"* 2>/dev/null | head -3 | sed 's/^/  input: /'
        failed=$((failed + 1))
    fi
}

report_api() {
    local label=$1 p f n
    read -r p f n < "$out/logs/api-$label.result"
    echo "api_fuzz ($label): $n seeds from $api_base, $p passed, $f failed"
    if [ "$f" -gt 0 ]; then
        ls "$crashes"/api-"$label"-seed-*.log | head -5 | sed 's/^/  log: /'
    fi
    passed=$((passed + p))
    failed=$((failed + f))
}

api_base=${FUZZ_SEED_BASE:-$(( (RANDOM << 15 | RANDOM) % 1000000 + 1 ))}
echo "fuzzing for ${secs} s per target; api_fuzz seeds from $api_base"
rm -f "$crashes"/api-*-seed-*.log

run_api "$bin" asyncrun &
api_pid=$!
run_target fuzz_opts
wait "$api_pid"
if [ -x build/asan/asyncrun ]; then
    run_api build/asan/asyncrun asan &
    api_pid=$!
else
    api_pid=
    echo "api_fuzz: build/asan/asyncrun not built (make asan): sanitizer series skipped"
fi
run_target fuzz_stream
[ -n "$api_pid" ] && wait "$api_pid"

report_target fuzz_opts
report_target fuzz_stream
report_api asyncrun
[ -n "$api_pid" ] && report_api asan

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
