#!/usr/bin/env bash
# The html trace (SPEC §5) rendered by a real headless Chromium: pages opened on windows given
# by #t=A-B, their DOM dumped after the page's own script has run, and checks on what the
# page says it drew (the JSON it keeps in <pre id="drawn">) and on Chromium's log.
#   - a demo script (a producer and a consumer around a queue, a task with three 10 ms busy
#     steps, one that fails, one named "</script><script>alert(1)</script>" that is
#     cancelled, one cancelled before it ever ran): its whole run (a row per task with the
#     right names, outcomes, labelled waits), a window of a few steps (drawn separately, with
#     their labels), a window of 0.4 ms; a screenshot of each into build/browser-trace-*.png;
#   - a 10,000-task script, and the same page with #filter= and with #collapse;
#   - W3 at 100,000 round trips (bench/w3_switch.lua, 400,000 events): its size, the time
#     to its first view and per zoom/pan frame are reported (bench/html_trace.sh measures
#     them; timings are never a pass/fail bound here);
#   - no uncaught error or console message from any page (a control page with a deliberate
#     error proves the log check can see one).
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
export PYTHONPATH=$root/tests/lib${PYTHONPATH:+:$PYTHONPATH}
CHROMIUM=${CHROMIUM:-chromium}
CHROMIUM_TIMEOUT=${CHROMIUM_TIMEOUT:-60}  # seconds for one Chromium run, then it is killed
RENDER_LIMIT_MS=20000                     # the 10,000-task page must render within this
SHOTS=$root/build

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
# after CHROMIUM_TIMEOUT s; stdout is the caller's, Chromium's log goes to LOG. The page
# draws in its load, so no virtual time is needed (it would also make its clock virtual).
run_chromium() {
    local url=$1 log=$2 profile st
    shift 2
    profile=$(mktemp -d "$work/profile.XXXXXX") || return 1
    env -u XDG_CONFIG_HOME -u XDG_CACHE_HOME -u XDG_DATA_HOME HOME="$work/home" \
        timeout -k 5 "$CHROMIUM_TIMEOUT" "$CHROMIUM" --headless --no-sandbox --disable-gpu \
        --disable-background-networking --disable-component-update --disable-sync \
        --no-first-run --user-data-dir="$profile" --enable-logging=stderr --v=0 \
        --window-size=1200,640 "$@" "$url" 2> "$log"
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

# trace NAME [ARGS...]: runs $work/NAME.lua ARGS with --trace=html into $work/NAME.html
trace() {
    local out name=$1
    shift
    if out=$(cd "$work" && "$bin" --trace=html --trace-file="$work/$name.html" "$name.lua" "$@" 2>&1); then
        ok "html trace of the $name script written ($(stat -c %s "$work/$name.html") bytes)"
    else
        not_ok "html trace of the $name script written (exit $?)" "$out"
        return 1
    fi
}

# errors_checked URL LOG WHAT: the page logged nothing
errors_checked() {
    local errs
    if errs=$(page_errors "$2" "${1%%#*}"); then
        not_ok "no uncaught error or console message from $3" "$errs"
    else
        ok "no uncaught error or console message from $3"
    fi
}

# dom NAME OUT [FRAGMENT [OPTIONS...]]: dumps the DOM of $work/NAME.html#FRAGMENT into
# $work/OUT.dom, its log into OUT.log; sets ELAPSED_MS
dom() {
    local url="file://$work/$1.html${3:+#$3}" start st
    start=$(now_ms)
    run_chromium "$url" "$work/$2.log" --dump-dom "${@:4}" > "$work/$2.dom"
    st=$?
    ELAPSED_MS=$(($(now_ms) - start))
    if [ "$st" -eq 0 ] && [ -s "$work/$2.dom" ]; then
        ok "chromium rendered the $1 page${3:+ at #$3} (${ELAPSED_MS} ms)"
    else
        not_ok "chromium rendered the $1 page${3:+ at #$3} (exit $st, ${ELAPSED_MS} ms)" "$(log_tail "$work/$2.log")"
        return 1
    fi
    errors_checked "$url" "$work/$2.log" "the $1 page${3:+ at #$3}"
}

# shot NAME FRAGMENT FILE: a screenshot of $work/NAME.html#FRAGMENT, for a person to look at
shot() {
    local url="file://$work/$1.html${2:+#$2}" st size
    local log="$work/$(basename "$3").log"
    rm -f "$3"
    run_chromium "$url" "$log" --screenshot="$3" > /dev/null
    st=$?
    size=$(stat -c %s "$3" 2> /dev/null || echo 0)
    if [ "$st" -eq 0 ] && [ "$size" -gt 5120 ] && [ "$(head -c 4 "$3" | od -An -tx1 | tr -d ' \n')" = 89504e47 ]; then
        ok "screenshot of the $1 page${2:+ at #$2}: ${3#"$root"/} ($size bytes)"
    else
        not_ok "screenshot of the $1 page${2:+ at #$2} (exit $st, $size bytes)" "$(log_tail "$log")"
    fi
    errors_checked "$url" "$log" "the screenshot of the $1 page${2:+ at #$2}"
}

# The checks, in python: the page's packed events decoded (tests/lib/html_trace.py),
# and what the page drew read from its dumped DOM. Prints "ok ..." / "not ok ..." / "#" lines.
cat > "$work/dom.py" << 'EOF'
import json, re, sys
from html.parser import HTMLParser

from html_trace import decode  # tests/lib

def steps(events, task):
    """[start, end] of each step of a task that ended in a suspension"""
    out, start = [], None
    for e in events:
        if e.get("task") == task and e["event"] == "resume":
            start = e["t"]
        elif e.get("task") == task and e["event"] == "suspend":
            out.append((start, e["t"]))
    return out

class Page(HTMLParser):
    """The title, the body's data- attributes and the JSON of <pre id="drawn">."""
    def __init__(self, path):
        super().__init__(convert_charrefs=True)
        self.title, self.body, self.drawn, self.summary, self.where = "", {}, "", "", None
        self.feed(open(path, encoding="utf-8", errors="replace").read())
        self.drawn = json.loads(self.drawn) if self.drawn else {}
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        self.where = tag if tag == "title" else a.get("id")
    def handle_endtag(self, tag):
        self.where = None
    def handle_data(self, data):
        if self.where == "title":
            self.title += data
        elif self.where == "drawn":
            self.drawn += data
        elif self.where == "summary":
            self.summary += data

failed = 0
def check(name, cond, detail=""):
    global failed
    print(("ok " if cond else "not ok ") + name)
    if not cond:
        failed += 1
        for line in str(detail).splitlines() or [""]:
            print("#   " + line[:400])

what = sys.argv[1]
STEPPER = 4

if what == "ended":  # when the last task but main ended
    print("%.6f" % max(e["t"] for e in decode(sys.argv[2]) if e["event"] in ("done", "fail") and e["task"] != 1))
    sys.exit(0)
if what == "windows":
    # the window of the stepper's steps 2 and 3, and 0.4 ms around the end of its step 2
    s = steps(decode(sys.argv[2]), STEPPER)
    print("t=%.6f-%.6f" % (s[1][0] - 0.004, s[2][1] + 0.004))
    print("t=%.6f-%.6f" % (s[1][1] - 0.0002, s[1][1] + 0.0002))
    sys.exit(0)

p = Page(sys.argv[2])
d = p.drawn
check("%s: the page drew (<pre id=drawn> holds its record)" % what, bool(d), p.drawn)
if not d:
    sys.exit(0)
rows = [r.get("task") for r in d["rows"]]
spans = lambda task, kind=None: [s for s in d["spans"] if s["task"] == task and kind in (None, s["kind"])]

if what == "demo":
    want = ["1 main", "2 producer", "3 consumer", "4 stepper", "5 crasher",
            "6 </script><script>alert(1)</script>", "7 never (never ran)"]
    check("demo: the title is the page's own (no script injected by a task name)",
          p.title == "asyncrun trace", p.title)
    check("demo: a row per task, labelled with its id and name", [r["label"] for r in d["rows"]] == want,
          [r["label"] for r in d["rows"]])
    ends = {e["task"]: e["outcome"] for e in d["ends"]}
    check("demo: each task's end is marked with its outcome",
          ends == {1: "done", 2: "done", 3: "done", 4: "done", 5: "fail", 6: "cancelled", 7: "cancelled"}, ends)
    check("demo: the producer's waits are drawn labelled with its sleeps",
          [s["label"] for s in spans(2, "sleep")][:3] == ["sleep:0.02"] * 3, spans(2))
    check("demo: the consumer's waits are drawn labelled with its queue",
          any(s["label"] == "queue" for s in spans(3, "sync")), spans(3))
    check("demo: the stepper's three busy steps are drawn as steps",
          len(spans(STEPPER, "running")) == 3, spans(STEPPER))
    check("demo: the task that never ran has a row and a not-started span",
          len(spans(7, "pending")) == 1, spans(7))
    check("demo: the summary counts 7 tasks, 1 failed and 2 cancelled",
          re.match(r"7 tasks, .* 1 failed, 2 cancelled", p.summary) is not None, p.summary)
elif what == "window":
    # the window of the stepper's steps 2 and 3: drawn one by one, with their labels
    events = decode(sys.argv[3])
    a, b = map(float, sys.argv[4].split("=")[1].split("-"))
    check("window: the page opened on #t=%s" % sys.argv[4].split("=")[1],
          p.body.get("data-window") == "%.6f-%.6f" % (a, b), p.body.get("data-window"))
    want = steps(events, STEPPER)[1:3]
    got = spans(STEPPER, "running")
    check("window: the stepper's steps 2 and 3 are drawn separately at their times",
          [(round(s["t0"], 6), round(s["t1"], 6)) for s in got] == [(round(x, 6), round(y, 6)) for x, y in want]
          and len(got) == 2 and got[0]["x1"] < got[1]["x0"], (got, want))
    check("window: each step is labelled with the line where it suspended",
          [s["label"] for s in got] == ["demo.lua:15"] * 2, got)
    sleeps = spans(STEPPER, "sleep")
    check("window: the sleep between them is drawn, labelled",
          any(s["label"] == "sleep:0.015" and got and got[0]["x1"] <= s["x0"] + 1 and s["x1"] <= got[-1]["x0"] + 1
              for s in sleeps), sleeps)
    check("window: the window's rows are all the tasks", rows == list(range(1, 8)), rows)
elif what == "narrow":
    a, b = map(float, sys.argv[3].split("=")[1].split("-"))
    check("narrow: the page opened on #t=%s" % sys.argv[3].split("=")[1],
          p.body.get("data-window") == "%.6f-%.6f" % (a, b), p.body.get("data-window"))
    got = spans(STEPPER)
    check("narrow: 0.4 ms around a step's end shows the step and the sleep after it",
          [s["kind"] for s in got] == ["running", "sleep"], got)
elif what == "many":
    check("many: the first rows are tasks 1, 2, 3... in order", rows[:5] == [1, 2, 3, 4, 5], rows[:10])
    check("many: only the rows in view are drawn", 5 <= len(rows) <= 60, len(rows))
    check("many: the summary counts 10001 tasks and 10 failures",
          p.summary.startswith("10001 tasks") and " 10 failed" in p.summary, p.summary)
    check("many: the tasks that failed have their end marked as such",
          all(e["outcome"] == ("fail" if (e["task"] - 1) % 1000 == 0 and e["task"] > 1 else "done")
              for e in d["ends"]) and d["ends"], d["ends"][:10])
elif what == "filter":
    check("filter: #filter=10001,task-777 keeps the rows of task 10001 and the tasks named task-777*",
          rows == [777] + list(range(7770, 7780)) + [10001], rows)
elif what == "collapse":
    labels = [r["label"] for r in d["rows"]]
    groups = [r["group"] for r in d["rows"] if "group" in r]
    check("collapse: the tasks that finished before the window are collapsed into rows of runs",
          groups and sum(groups) > 1000 and all(l.startswith("\u25b8 ") for r, l in zip(d["rows"], labels) if "group" in r),
          labels[:8])
    check("collapse: the main task, still running, keeps its row", rows[0] == 1, labels[:8])
elif what == "interact":
    o = json.loads(p.body.get("data-interact", "{}"))
    check("interact: the script ran to the end", "hash" in o and "error" not in o, o.get("error", o))
    if "hash" in o:
        width = lambda w: w[1] - w[0]
        close = lambda a, b, eps=1e-6: abs(a - b) <= eps + 1e-3 * abs(b)
        W0 = width(o["start"])
        check("interact: W and + zoom in by 0.8, S and - back out", close(width(o["w"]), 0.8 * W0)
              and close(width(o["s"]), W0) and close(width(o["+"]), 0.8 * W0) and close(width(o["-"]), W0), o)
        check("interact: D pans right by 15% of the window, A back", close(o["d"][0], o["-"][0] + 0.15 * W0)
              and close(o["a"][0], o["-"][0]), [o["-"], o["d"], o["a"]])
        check("interact: 0 resets the window", o["0"] == o["start"], [o["0"], o["start"]])
        check("interact: the wheel zooms in around the pointer (the time under it stays)",
              width(o["wheel"]) < 0.7 * W0 and close(*o["wheelFixed"], eps=W0 / 1000), [o["wheel"], o["wheelFixed"]])
        check("interact: a pinch (ctrl+wheel) zooms out", width(o["pinch"]) > width(o["wheel"]) * 1.1, [o["wheel"], o["pinch"]])
        check("interact: dragging 100 px left pans the window right",
              o["drag"][0] > o["pinch"][0] and close(width(o["drag"]), width(o["pinch"])), [o["pinch"], o["drag"]])
        tip = o["hover"][1]
        check("interact: hovering a step shows its task, start, duration, wait and place",
              o["hover"][0] == "block" and all(s in tip for s in ("task 4 stepper", "step", "t=0.", " ms",
              "then waited on sleep:0.015", "at demo.lua:15")), o["hover"])
        check("interact: a click pins the details", o["pinned"] is True, o["pinned"])
        check("interact: the filter keeps the rows that match", o["filtered"] == [4], o["filtered"])
        check("interact: the URL follows the view (#t=...&filter=...)",
              o["hash"].startswith("#t=") and o["hash"].endswith("&filter=stepper"), o["hash"])
elif what == "w3":
    check("w3: two rows, main and task-2", rows == [1, 2], rows)
    check("w3: steps too narrow to draw alone are merged into density marks",
          d["density"] > 100, d["density"])
    print("# w3: first view %s ms after opening (its script: %s ms); zoom/pan frames: %s" % (
        p.body.get("data-first-view-ms"), p.body.get("data-script-ms"), p.body.get("data-frame-ms")))
sys.exit(0)  # failures are reported above; a crash exits 1
EOF

# tally: adds the "ok ..." and "not ok ..." lines read to the tally, passes on the others
tally() {
    local line
    while IFS= read -r line; do
        case $line in
        "ok "*) ok "${line#ok }" ;;
        "not ok "*) not_ok "${line#not ok }" ;;
        *) echo "$line" ;;
        esac
    done
}

# checks CHECK ARGS...: runs dom.py and adds its results to the tally
checks() {
    tally < <(python3 "$work/dom.py" "$@" 2>&1 || echo "not ok $1: the checks ran to the end")
}

# 0. Control: the log check sees an uncaught error in a page built to have one.
cp "$here/broken.html" "$work/broken.html"
if run_chromium "file://$work/broken.html" "$work/broken.log" --dump-dom > /dev/null &&
    page_errors "$work/broken.log" "file://$work/broken.html" > /dev/null; then
    ok "control: Chromium's log shows a page's uncaught error"
else
    not_ok "control: Chromium's log shows a page's uncaught error" "$(log_tail "$work/broken.log")"
fi

# 1. The demo: the whole run, a window of a few steps, a narrow window; a screenshot of each.
cat > "$work/demo.lua" << 'EOF'
local function busy(s) local t = async.now() + s while async.now() < t do end end
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
local stepper = async.spawn(function()
  for _ = 1, 3 do busy(0.01) async.sleep(0.015) end
end)
stepper.name = "stepper"
local crasher = async.spawn(function() async.sleep(0.03) error("crash on purpose") end)
crasher.name = "crasher"
local victim = async.spawn(function() async.sleep(10) end)
victim.name = "</script><script>alert(1)</script>"
local never = async.spawn(function() end)
never.name = "never"
never:cancel()
assert(consumer:await() == 6)
stepper:await()
assert(not pcall(crasher.await, crasher))
victim:cancel()
assert(not pcall(victim.await, victim))
pcall(never.await, never)
EOF
if trace demo; then
    dom demo demo && checks demo "$work/demo.dom"
    mapfile -t windows < <(python3 "$work/dom.py" windows "$work/demo.html")
    if [ "${#windows[@]}" -eq 2 ]; then
        dom demo window "${windows[0]}" && checks window "$work/window.dom" "$work/demo.html" "${windows[0]}"
        dom demo narrow "${windows[1]}" && checks narrow "$work/narrow.dom" "${windows[1]}"
    else
        not_ok "the demo's windows found in its events" "${windows[*]}"
    fi
    # the three at once (Chromium waits on more than the CPU), their results in order
    mkdir -p "$SHOTS"
    shot demo "" "$SHOTS/browser-trace-1-all.png" > "$work/shot1.out" &
    shot demo "${windows[0]:-}" "$SHOTS/browser-trace-2-steps.png" > "$work/shot2.out" &
    shot demo "${windows[1]:-}" "$SHOTS/browser-trace-3-narrow.png" > "$work/shot3.out" &
    wait
    tally < <(cat "$work/shot1.out" "$work/shot2.out" "$work/shot3.out")
fi

# 2. 10,000 tasks (every 1,000th fails, retrieved): the page, filtered, collapsed.
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
if trace many && dom many many; then
    if [ "$ELAPSED_MS" -lt "$RENDER_LIMIT_MS" ]; then
        ok "the 10,000-task page rendered within 20 s (${ELAPSED_MS} ms)"
    else
        not_ok "the 10,000-task page rendered within 20 s (${ELAPSED_MS} ms)"
    fi
    checks many "$work/many.dom"
    dom many filter "filter=10001,task-777" && checks filter "$work/filter.dom"
    # a window after every task but main has ended
    at=$(python3 "$work/dom.py" ended "$work/many.html")
    dom many collapse "t=$at-$(python3 -c "print($at + 0.001)")&collapse" && checks collapse "$work/collapse.dom"
fi

# 3. W3 at 100,000 round trips: reported, not bounded.
cp "$root/bench/w3_switch.lua" "$work/w3.lua"
if trace w3 100000 && dom w3 w3 bench; then
    echo "# w3: 100,000 round trips: $(stat -c %s "$work/w3.html") bytes, chromium ran ${ELAPSED_MS} ms"
    checks w3 "$work/w3.dom"
fi

# 4. The controls, driven by synthetic events from a script added to a copy of the demo page
#    (Chromium headless has no pointer): keys, wheel, pinch, drag, hover, click, the filter.
#    It writes what it saw into the body's data-interact for the checks.
cat > "$work/interact.js" << 'EOF'
(async () => {
  const out = {}, $ = id => document.getElementById(id), canvas = $('canvas');
  const frame = () => new Promise(r => setTimeout(r, 20));
  const win = () => document.body.dataset.window.match(/^(-?[0-9.]+)-(-?[0-9.]+)$/).slice(1).map(Number);
  const box = canvas.getBoundingClientRect(), GUTTER = 220, PW = box.width - GUTTER - 10;
  const key = async k => { window.dispatchEvent(new KeyboardEvent('keydown', {key: k, bubbles: true})); await frame(); return win(); };
  const mouse = (type, x, y, o) => (type === 'mousemove' ? window : canvas).dispatchEvent(
    new MouseEvent(type, Object.assign({clientX: box.left + x, clientY: box.top + y, bubbles: true, button: 0}, o)));
  const timeAt = (w, x) => w[0] + (x - GUTTER) * (w[1] - w[0]) / PW;
  try {
    out.start = win();
    for (const k of ['w', 's', '+', '-', 'd', 'a', '0']) out[k] = await key(k);
    const x = GUTTER + PW / 4, y = 40;
    canvas.dispatchEvent(new WheelEvent('wheel', {deltaY: -300, clientX: box.left + x, clientY: box.top + y, bubbles: true, cancelable: true}));
    await frame();
    out.wheel = win();
    out.wheelFixed = [timeAt(out['0'], x), timeAt(out.wheel, x)];
    canvas.dispatchEvent(new WheelEvent('wheel', {deltaY: 20, ctrlKey: true, clientX: box.left + x, clientY: box.top + y, bubbles: true, cancelable: true}));
    await frame();
    out.pinch = win();
    mouse('mousedown', x, y); mouse('mousemove', x - 100, y); mouse('mouseup', x - 100, y);
    await frame();
    out.drag = win();
    await key('0');
    // hover over the stepper's first step (row 4, its first 10 ms), then click it
    const steps = JSON.parse($('drawn').textContent).spans.filter(s => s.task === 4 && s.kind === 'running');
    const sx = (steps[0].x0 + steps[0].x1) / 2, sy = 28 + 3 * 20 + 10;
    mouse('mousemove', sx, sy);
    await frame();
    out.hover = [getComputedStyle($('tip')).display, $('tip').textContent];
    mouse('mousedown', sx, sy); mouse('mouseup', sx, sy);
    await frame();
    out.pinned = $('tip').classList.contains('pinned');
    $('filter').value = 'stepper';
    $('filter').dispatchEvent(new Event('input', {bubbles: true}));
    await frame();
    out.filtered = JSON.parse($('drawn').textContent).rows.map(r => r.task);
    await new Promise(r => setTimeout(r, 400));
    out.hash = location.hash;
  } catch (e) {
    out.error = String(e && e.stack || e);
  }
  document.body.dataset.interact = JSON.stringify(out);
})();
EOF
if [ -s "$work/demo.html" ]; then
    python3 -c '
import sys
page = open(sys.argv[1], encoding="utf-8").read()
# headless Chromium hardly runs animation frames: a timer stands in for them
frames = "<script>window.requestAnimationFrame = f => setTimeout(() => f(performance.now()), 1);</script>"
page = page.replace("<head>", "<head>" + frames, 1)
open(sys.argv[2], "w", encoding="utf-8").write(page.replace("</body>", "<script>" + open(sys.argv[3]).read() + "</script></body>"))' \
        "$work/demo.html" "$work/interact.html" "$work/interact.js"
    dom interact interact "" --virtual-time-budget=10000 && checks interact "$work/interact.dom"
fi

echo "browser: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
