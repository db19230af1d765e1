#!/usr/bin/env bash
# What the --trace=html page costs at scale: W3 (bench/w3_switch.lua, run as bench/run.sh runs
# it) at N round trips (4 events each) traced into a page, then opened by headless Chromium
# RUNS times. Prints the page's size, the time to write it, and per run the page's own
# figures: its first view (ms since the page was opened, as performance.now() says when the
# first frame is drawn; and the part of it that the page's script took), and its #bench
# frames (15 zooms in, 10 pans, 15 zooms out, each drawn at once: the slowest and the mean),
# with the median first view of the runs. Issue 29's bounds: <= 15 MB, first view <= 2 s,
# <= 100 ms a frame.
# usage: bench/html_trace.sh BINARY [N=100000] [RUNS=3]     (`make bench-html-trace`)
set -eu
bin=$(realpath "$1")
n=${2:-100000} runs=${3:-3}
here=$(cd "$(dirname "$0")" && pwd)
CHROMIUM=${CHROMIUM:-chromium}
command -v "$CHROMIUM" > /dev/null || { echo "html_trace: $CHROMIUM is not installed" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }

start=$(now_ms)
(cd "$here" && "$bin" --trace=html --trace-file="$work/w3.html" w3_switch.lua "$n")
written=$(($(now_ms) - start))
size=$(stat -c %s "$work/w3.html")
events=$((4 * n))
echo "W3 at $n round trips: $events events, page $size bytes ($(awk -v s="$size" 'BEGIN { printf "%.2f", s / 1048576 }') MiB," \
    "$(awk -v s="$size" -v e="$events" 'BEGIN { printf "%.1f", s / e }') bytes an event), written in $written ms with the trace"

firsts=()
for i in $(seq "$runs"); do
    mkdir -p "$work/profile$i"
    start=$(now_ms)
    HOME=$work timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$work/profile$i" --window-size=1200,640 --dump-dom \
        "file://$work/w3.html#bench" 2> /dev/null > "$work/dom$i"
    wall=$(($(now_ms) - start))
    body=$(grep -o '<body[^>]*>' "$work/dom$i")
    attr() { sed -n "s/.* data-$1=\"\([^\"]*\)\".*/\1/p" <<< "$body"; }
    first=$(attr first-view-ms)
    firsts+=("$first")
    echo "run $i: first view ${first} ms (script $(attr script-ms) ms), frames $(attr frame-ms) ms; chromium ran ${wall} ms in all"
done
median=$(printf '%s\n' "${firsts[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
echo "median first view: $median ms; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
