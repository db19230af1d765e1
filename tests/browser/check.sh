#!/usr/bin/env bash
# The html trace (SPEC §5) rendered by a real headless Chromium: a page per script, its DOM
# dumped after the page's own script has run, and checks on that DOM and on Chromium's log.
#   - a 5-task script (names set, one failure, one cancellation): 5 rows with the right
#     data-task ids and names, bars coloured done/fail/cancelled, waits labelled; a
#     screenshot into build/browser-trace.png;
#   - a 10,000-task script: at most 2,000 rows, rendered within 20 s;
#   - no uncaught error or console message from either page (a control page with a
#     deliberate error proves the log check can see one).
# Installs nothing: without chromium it says "skip" and exits 0.
# usage: tests/browser/check.sh BINARY        (`make check-browser`)
set -u

if [ $# -ne 1 ]; then
    echo "usage: $0 BINARY" >&2
    exit 2
fi
bin=$(realpath "$1" 2> /dev/null) && [ -x "$bin" ] || {
    echo "browser: $1 is not an executable" >&2
    exit 2
}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
CHROMIUM=${CHROMIUM:-chromium}
CHROMIUM_TIMEOUT=${CHROMIUM_TIMEOUT:-60}  # seconds for one Chromium run, then it is killed
RENDER_LIMIT_MS=20000                     # the 10,000-task page must render within this
SHOT=$root/build/browser-trace.png

if ! command -v "$CHROMIUM" > /dev/null 2>&1; then
    echo "browser: skip: $CHROMIUM is not installed (make browser-deps installs it)"
    exit 0
fi
command -v python3 > /dev/null || {
    echo "browser: python3 is needed to read the dumped DOM" >&2
    exit 2
}

work=$(mktemp -d "${TMPDIR:-/tmp}/asyncrun-browser.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$work/home"

passed=0 failed=0
ok() {
    echo "ok $1"
    passed=$((passed + 1))
}
# not_ok NAME [DETAILS]: DETAILS (several lines) are printed as "#" comments
not_ok() {
    echo "not ok $1"
    [ $# -gt 1 ] && [ -n "$2" ] && printf '%s\n' "$2" | sed 's/^/#   /'
    failed=$((failed + 1))
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# run_chromium URL LOG [options...]: one headless run with a fresh profile and HOME, killed
# after CHROMIUM_TIMEOUT s; stdout is the caller's, Chromium's log goes to LOG.
run_chromium() {
    local url=$1 log=$2 profile st
    shift 2
    profile=$(mktemp -d "$work/profile.XXXXXX") || return 1
    env -u XDG_CONFIG_HOME -u XDG_CACHE_HOME -u XDG_DATA_HOME HOME="$work/home" \
        timeout -k 5 "$CHROMIUM_TIMEOUT" "$CHROMIUM" --headless --no-sandbox --disable-gpu \
        --disable-background-networking --disable-component-update --disable-sync \
        --no-first-run --user-data-dir="$profile" --enable-logging=stderr --v=0 \
        --virtual-time-budget=5000 "$@" "$url" 2> "$log"
    st=$?
    rm -rf "$profile"
    return $st
}

# The log lines a page produced: its console messages (Chromium logs every level as
# INFO:CONSOLE, so any message counts: the trace page logs nothing) and uncaught errors.
page_errors() {
    local log=$1 url=$2
    grep -E "CONSOLE.*source: ${url//./\\.}|Uncaught" "$log"
}

# The end of a log without Chromium's usual noise in a container (D-Bus, GPU, sandbox).
log_tail() {
    grep -vE 'dbus|D-Bus|vaapi|InitializeSandbox|/usr/bin/chromium: [0-9]+: \[' "$1" | tail -15
}

# trace NAME: runs $work/NAME.lua with --trace=html into $work/NAME.html
trace() {
    local out
    if out=$(cd "$work" && "$bin" --trace=html --trace-file="$work/$1.html" "$1.lua" 2>&1); then
        ok "html trace of the $1 script written"
    else
        not_ok "html trace of the $1 script written (exit $?)" "$out"
        return 1
    fi
}

# dom NAME: dumps the DOM of $work/NAME.html into $work/NAME.dom, its log into NAME.log;
# sets ELAPSED_MS
dom() {
    local url="file://$work/$1.html" start st
    start=$(now_ms)
    run_chromium "$url" "$work/$1.log" --dump-dom > "$work/$1.dom"
    st=$?
    ELAPSED_MS=$(($(now_ms) - start))
    if [ "$st" -eq 0 ] && [ -s "$work/$1.dom" ]; then
        ok "chromium rendered the $1 page (${ELAPSED_MS} ms)"
    else
        not_ok "chromium rendered the $1 page (exit $st, ${ELAPSED_MS} ms)" "$(log_tail "$work/$1.log")"
        return 1
    fi
    local errs
    if errs=$(page_errors "$work/$1.log" "$url"); then
        not_ok "no uncaught error or console message from the $1 page" "$errs"
    else
        ok "no uncaught error or console message from the $1 page"
    fi
}

# The DOM checks, in python (html.parser): prints "ok ..." / "not ok ..." / "#" lines.
cat > "$work/dom.py" << 'EOF'
import json, re, sys
from html.parser import HTMLParser

class Rows(HTMLParser):
    """The .row divs, each with its data-task, its .label text, its bars and waits."""
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows, self.stack, self.summary, self.in_summary = [], [], "", False
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "div":
            kind = None
            if "row" in cls:
                self.rows.append({"task": a.get("data-task"), "label": "", "bars": [], "waits": []})
                kind = "row"
            elif self.rows and self.open("row"):
                if "label" in cls:
                    kind = "label"
                elif "bar" in cls:
                    self.rows[-1]["bars"].append([c for c in cls if c != "bar"])
                elif "wait" in cls:
                    self.rows[-1]["waits"].append(a.get("title") or "")
            if a.get("id") == "summary":
                kind = "summary"
            self.stack.append(kind)
    def handle_endtag(self, tag):
        if tag == "div" and self.stack:
            self.stack.pop()
    def handle_data(self, data):
        if self.open("label") and self.rows:
            self.rows[-1]["label"] += data
        elif self.open("summary"):
            self.summary += data
    def open(self, kind):
        return kind in self.stack

failed = 0
def check(name, cond, detail=""):
    global failed
    print(("ok " if cond else "not ok ") + name)
    if not cond:
        failed += 1
        for line in str(detail).splitlines() or [""]:
            print("#   " + line)

page, path = sys.argv[1], sys.argv[2]
p = Rows()
p.feed(open(path, encoding="utf-8", errors="replace").read())
rows = p.rows

if page == "five":
    want = [("1", "1 main", "done"), ("2", "2 producer", "done"), ("3", "3 consumer", "done"),
            ("4", "4 crasher", "fail"), ("5", "5 victim </script>", "cancelled")]
    check("five: 5 rows", len(rows) == 5, [r["task"] for r in rows])
    check("five: rows have data-task 1..5 in order", [r["task"] for r in rows] == [w[0] for w in want],
          [r["task"] for r in rows])
    check("five: each row is labelled with its task's id and name",
          [r["label"] for r in rows] == [w[1] for w in want], [r["label"] for r in rows])
    kinds = {"step", "done", "fail", "cancelled"}
    check("five: every row has bars, each of one kind (step, done, fail, cancelled)",
          all(r["bars"] and all(len(b) == 1 and b[0] in kinds for b in r["bars"]) for r in rows),
          json.dumps([r["bars"] for r in rows]))
    for (task, label, outcome), r in zip(want, rows):
        last = r["bars"][-1][0] if r["bars"] else None
        check("five: task %s ends with a %s bar" % (task, outcome), last == outcome, r["bars"])
    check("five: the page has done, fail and cancelled bars",
          {b[0] for r in rows for b in r["bars"] if b} >= {"done", "fail", "cancelled"})
    check("five: the producer's waits are labelled with its sleeps",
          len(rows) > 1 and any("sleep:0.02" in w for w in rows[1]["waits"]), rows[1:2])
    check("five: the consumer's waits are labelled with its queue",
          len(rows) > 2 and any(w.startswith("waits on queue") for w in rows[2]["waits"]), rows[2:3])
    check("five: the summary counts 5 tasks and 1 failure",
          re.match(r"5 tasks, .*\b1 failed", p.summary) is not None, p.summary)
elif page == "many":
    ids = [r["task"] for r in rows]
    check("many: between 1 and 2,000 rows", 1 <= len(rows) <= 2000, len(rows))
    check("many: every row has a numeric data-task, increasing from 1",
          all(i and i.isdigit() for i in ids) and ids and ids[0] == "1"
          and all(int(a) < int(b) for a, b in zip(ids, ids[1:])), ids[:10])
    check("many: every row has at least one bar", all(r["bars"] for r in rows),
          [r["task"] for r in rows if not r["bars"]][:10])
    check("many: the last row covers the last task (10001)", bool(rows) and "10001" in rows[-1]["label"],
          rows[-1]["label"] if rows else "")
    check("many: the summary counts 10001 tasks", p.summary.startswith("10001 tasks"), p.summary)
sys.exit(0)  # failures are reported above; a crash exits 1
EOF

# dom_checks PAGE NAME: runs dom.py and adds its results to the tally
dom_checks() {
    local line
    while IFS= read -r line; do
        case $line in
        "ok "*) ok "${line#ok }" ;;
        "not ok "*) not_ok "${line#not ok }" ;;
        *) echo "$line" ;;
        esac
    done < <(python3 "$work/dom.py" "$1" "$work/$2.dom" 2>&1 || echo "not ok $1: the DOM checks ran to the end")
}

# 0. Control: the log check sees an uncaught error in a page built to have one.
cp "$here/broken.html" "$work/broken.html"
if run_chromium "file://$work/broken.html" "$work/broken.log" --dump-dom > /dev/null &&
    page_errors "$work/broken.log" "file://$work/broken.html" > /dev/null; then
    ok "control: Chromium's log shows a page's uncaught error"
else
    not_ok "control: Chromium's log shows a page's uncaught error" "$(log_tail "$work/broken.log")"
fi

# 1. Five tasks: main, a producer and a consumer around a queue, one that fails, one cancelled.
cat > "$work/five.lua" << 'EOF'
local q = async.queue()
local producer = async.spawn(function()
  for i = 1, 3 do async.sleep(0.02) q:put(i) end
  q:close()
end)
producer.name = "producer"
local consumer = async.spawn(function()
  local n = 0
  for v in q:iter() do n = n + v end
  return n
end)
consumer.name = "consumer"
local crasher = async.spawn(function() async.sleep(0.03) error("crash on purpose") end)
crasher.name = "crasher"
local victim = async.spawn(function() async.sleep(10) end)
victim.name = "victim </script>"
assert(consumer:await() == 6)
assert(not pcall(crasher.await, crasher))
victim:cancel()
assert(not pcall(victim.await, victim))
EOF
if trace five && dom five; then
    dom_checks five five
fi

# The screenshot, for a person to look at.
if [ -s "$work/five.html" ]; then
    mkdir -p "$(dirname "$SHOT")"
    rm -f "$SHOT"
    run_chromium "file://$work/five.html" "$work/shot.log" --screenshot="$SHOT" --window-size=1200,800 > /dev/null
    st=$?
    size=$(stat -c %s "$SHOT" 2> /dev/null || echo 0)
    if [ "$st" -eq 0 ] && [ "$size" -gt 5120 ] && [ "$(head -c 4 "$SHOT" | od -An -tx1 | tr -d ' \n')" = 89504e47 ]; then
        ok "screenshot of the five-task page: ${SHOT#"$root"/} ($size bytes)"
    else
        not_ok "screenshot of the five-task page (exit $st, $size bytes)" "$(log_tail "$work/shot.log")"
    fi
fi

# 2. 10,000 tasks (every 1,000th fails, retrieved), grouped into at most 2,000 rows.
cat > "$work/many.lua" << 'EOF'
local tasks = {}
for i = 1, 10000 do
  tasks[i] = async.spawn(function()
    async.sleep(0.001 * (i % 10))
    if i % 1000 == 0 then error("task " .. i) end
  end)
end
for _, t in ipairs(tasks) do pcall(t.await, t) end
EOF
if trace many && dom many; then
    if [ "$ELAPSED_MS" -lt "$RENDER_LIMIT_MS" ]; then
        ok "the 10,000-task page rendered within 20 s (${ELAPSED_MS} ms)"
    else
        not_ok "the 10,000-task page rendered within 20 s (${ELAPSED_MS} ms)"
    fi
    dom_checks many many
fi

echo "browser: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
