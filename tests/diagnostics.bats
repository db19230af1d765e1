#!/usr/bin/env bats
# Diagnostics (SPEC §5) and the options that switch them on (SPEC §1): the trace in its four
# formats, --stats, --debug (slow steps, the blocked-loop watchdog, swallowed cancellations),
# the task dump (SIGUSR1, SIGQUIT, --timeout, deadlock) and --strict.
#
# Every test runs in its own temporary directory with scripts named by a relative path, so
# that `at=` places read `name.lua:LINE` (Lua shortens long chunk names). JSON is checked
# with python3's json module. A test marked `skip "BUG: ..."` is written to the SPEC and
# fails against the current binary; drop the skip when the bug is fixed.

load helpers

setup() {
    ASYNCRUN=$(realpath "$ASYNCRUN")
    cd "$BATS_TEST_TMPDIR" || return 1
}

# Writes stdin to NAME in the test's directory (the script helper, without the path).
lua() { script "$1" > /dev/null; }

# After `run --separate-stderr`: point assert_line and friends at stderr.
use_stderr() {
    output=$stderr
    lines=("${stderr_lines[@]}")
    ((${#lines[@]})) || lines=("")  # assert_line needs a line to report "no match" on
}

T='t=[0-9]+\.[0-9]{6}'  # a trace timestamp
N='[0-9]+\.[0-9]{6}'    # a duration in seconds

# The script most trace tests share: a worker that sleeps and returns, a task that fails, one
# cancelled by main while it sleeps, one left over for the shutdown to cancel.
life_script() {
    lua life.lua <<'EOF'
local w = async.spawn(function()
  async.sleep(0.05)
  return 1
end)
w.name = "worker"
local f = async.spawn(function() error("boom here") end)
f.name = "failer"
local c = async.spawn(function() async.sleep(10) end)
c.name = "sleepy"
w:await()
pcall(f.await, f)
c:cancel()
pcall(c.await, c)
async.spawn(function() async.sleep(10) end).name = "leftover"
async.sleep(0)
EOF
}

# Parses a text trace (logfmt behind "trace: ") into the JSON lines --trace=json would print,
# so both formats can be compared with one python function.
LOGFMT_PY='
import json, re, sys
pair = re.compile(r"\s([a-z_-]+)=(\"(?:[^\"\\]|\\.)*\"|\S+)")
def unquote(v):
    if not v.startswith("\""):
        return v
    return json.loads(v)   # logfmt escapes here are a subset of JSON string escapes
def parse(line):
    assert line.startswith("trace: "), line
    rest = line[len("trace:"):]
    out, pos = {}, 0
    for m in pair.finditer(rest):
        assert rest[pos:m.start()].strip() == "", "junk in %r" % line
        out[m.group(1)] = unquote(m.group(2))
        pos = m.end()
    assert rest[pos:].strip() == "", "junk at the end of %r" % line
    return out
'

# --- text trace -------------------------------------------------------------------------

@test "trace: text events cover a task's whole life, in logfmt behind 'trace:'" {
    life_script
    run -0 --separate-stderr "$ASYNCRUN" --trace life.lua
    assert_output ""
    use_stderr
    [[ ${lines[0]} =~ ^trace:\ $T\ event=loop-start$ ]] || fail "first line: ${lines[0]}"
    last=${lines[${#lines[@]} - 1]}
    [[ $last =~ ^trace:\ $T\ event=loop-close\ wall=$N\ tasks=5$ ]] || fail "last line: $last"
    assert_line --regexp "^trace: $T event=resume task=1 name=main$"
    assert_line --regexp "^trace: $T event=spawn task=2 name=task-2 parent=1 at=life.lua:1$"
    assert_line --regexp "^trace: $T event=spawn task=3 name=task-3 parent=1 at=life.lua:6$"
    assert_line --regexp "^trace: $T event=spawn task=4 name=task-4 parent=1 at=life.lua:8$"
    assert_line --regexp "^trace: $T event=suspend task=1 name=main on=task:2 ran=$N at=life.lua:10$"
    assert_line --regexp "^trace: $T event=resume task=2 name=worker$"
    assert_line --regexp "^trace: $T event=suspend task=2 name=worker on=sleep:0.05 ran=$N at=life.lua:2$"
    assert_line --regexp "^trace: $T event=fail task=3 name=failer error=\"life.lua:6: boom here\"$"
    assert_line --regexp "^trace: $T event=done task=2 name=worker wall=$N run=$N$"
    assert_line --regexp "^trace: $T event=cancel task=4 name=sleepy by=task:1$"
    assert_line --regexp "^trace: $T event=cancelled task=4 name=sleepy$"
    assert_line --regexp "^trace: $T event=spawn task=5 name=task-5 parent=1 at=life.lua:14$"
    assert_line --regexp "^trace: $T event=done task=1 name=main wall=$N run=$N$"
    assert_line --regexp "^trace: $T event=cancel task=5 name=leftover by=shutdown$"
    assert_line --regexp "^trace: $T event=cancelled task=5 name=leftover$"
    # every line is an event, and t never goes back
    prev=0
    for l in "${lines[@]}"; do
        [[ $l =~ ^trace:\ t=([0-9]+\.[0-9]{6})\ event=[a-z-]+ ]] || fail "not a trace line: $l"
        t=${BASH_REMATCH[1]}
        awk -v a="$prev" -v b="$t" 'BEGIN { exit !(b >= a) }' || fail "t went back: $prev then $l"
        prev=$t
    done
}

@test "trace: suspend says what the task waits on and the user's line, also inside Lua-written API parts" {
    lua waits.lua <<'EOF'
local q, e, fu = async.queue(), async.event(), async.future()
local l, s = async.lock(), async.semaphore(1)
local g1, g2 = l:acquire(), s:acquire()
local a = async.spawn(function()
  local _ <close> = l:acquire()
end)
local b = async.spawn(function()
  local _ <close> = s:acquire()
end)
local h = async.spawn(function()
  async.sleep(0.01) q:put(1)
  async.sleep(0.01) e:set()
  async.sleep(0.01) fu:set(1)
end)
assert(q:get() == 1)
e:wait()
fu:await()
l:release() s:release()
async.gather({a, b})
async.spawn(function() async.sleep(0.01) end):await()
EOF
    run -0 --separate-stderr "$ASYNCRUN" --trace waits.lua
    use_stderr
    S="^trace: $T event=suspend"
    assert_line --regexp "$S task=2 name=task-2 on=lock ran=$N at=waits.lua:5$"
    assert_line --regexp "$S task=3 name=task-3 on=semaphore ran=$N at=waits.lua:8$"
    assert_line --regexp "$S task=4 name=task-4 on=sleep:0.01 ran=$N at=waits.lua:11$"
    assert_line --regexp "$S task=4 name=task-4 on=sleep:0.01 ran=$N at=waits.lua:12$"
    assert_line --regexp "$S task=4 name=task-4 on=sleep:0.01 ran=$N at=waits.lua:13$"
    assert_line --regexp "$S task=1 name=main on=queue ran=$N at=waits.lua:15$"
    assert_line --regexp "$S task=1 name=main on=event ran=$N at=waits.lua:16$"
    assert_line --regexp "$S task=1 name=main on=future ran=$N at=waits.lua:17$"
    assert_line --regexp "$S task=1 name=main on=tasks:2 ran=$N at=waits.lua:19$"
    assert_line --regexp "$S task=1 name=main on=task:5 ran=$N at=waits.lua:20$"
    refute_line --regexp "at=\[async\]|at=\?$"
}

@test "trace: an async.timeout scope expiring is a timeout event; cancel says by=timeout and by=signal:INT" {
    lua scope.lua <<'EOF'
print(pcall(async.timeout, 0.01, async.sleep, 5))
EOF
    run -0 --separate-stderr "$ASYNCRUN" --trace scope.lua
    use_stderr
    assert_line --regexp "^trace: $T event=timeout task=1 name=main$"

    lua sleeper.lua <<'EOF'
async.sleep(5)
EOF
    run -124 --separate-stderr "$ASYNCRUN" --trace --timeout=0.1 sleeper.lua
    use_stderr
    assert_line --regexp "^trace: $T event=cancel task=1 name=main by=timeout$"
    assert_line --regexp "^trace: $T event=cancelled task=1 name=main$"

    # INT at its default disposition: bats may start commands with it ignored
    run -130 --separate-stderr timeout --preserve-status -s INT 0.5 \
        env --default-signal=INT "$ASYNCRUN" --trace sleeper.lua
    use_stderr
    assert_line --regexp "^trace: $T event=cancel task=1 name=main by=signal:INT$"
}

@test "trace: values with spaces or quotes are double-quoted with escapes" {
    lua quote.lua <<'EOF'
local t = async.spawn(function() error('bad "thing" here') end)
t.name = "my worker"
pcall(t.await, t)
EOF
    run -0 --separate-stderr "$ASYNCRUN" --trace quote.lua
    use_stderr
    assert_line --regexp "^trace: $T event=resume task=2 name=\"my worker\"$"
    assert_line --partial ' event=fail task=2 name="my worker" error="quote.lua:1: bad \"thing\" here"'
    # a logfmt parser reads every line back
    python3 -c "$LOGFMT_PY
e = [parse(l) for l in sys.stdin.read().splitlines()]
f = [x for x in e if x['event'] == 'fail'][0]
assert f['name'] == 'my worker' and f['error'] == 'quote.lua:1: bad \"thing\" here', f
print('ok')" <<< "$stderr"
}

@test "trace: the trace goes to stderr; --trace-file alone writes the text trace to the file" {
    lua hello.lua <<'EOF'
print("hello")
async.sleep(0)
EOF
    run -0 --separate-stderr "$ASYNCRUN" --trace hello.lua
    assert_output "hello"
    [[ ${stderr_lines[0]} == "trace: t="*" event=loop-start" ]]

    run -0 --separate-stderr "$ASYNCRUN" --trace-file=out.txt hello.lua
    assert_output "hello"
    [ -z "$stderr" ]
    run -0 head -1 out.txt
    assert_output --regexp "^trace: $T event=loop-start$"
    run -0 tail -1 out.txt
    assert_output --regexp "^trace: $T event=loop-close wall=$N tasks=1$"

    # --trace-file PATH (separate argument) works too
    run -0 "$ASYNCRUN" --trace-file out2.txt hello.lua
    grep -q 'event=loop-close' out2.txt
}

@test "trace: bad formats and chrome/html without --trace-file are usage errors (exit 2)" {
    lua empty.lua <<<''
    run -2 --separate-stderr "$ASYNCRUN" --trace=chrome empty.lua
    assert_output ""
    [[ $stderr == *"--trace=chrome requires --trace-file"* ]] || fail "$stderr"
    run -2 --separate-stderr "$ASYNCRUN" --trace=html empty.lua
    [[ $stderr == *"--trace=html requires --trace-file"* ]] || fail "$stderr"
    run -2 --separate-stderr env ASYNCRUN_TRACE=chrome "$ASYNCRUN" empty.lua
    [[ $stderr == *"requires --trace-file"* ]] || fail "$stderr"
    run -2 --separate-stderr "$ASYNCRUN" --trace=xml empty.lua
    [[ $stderr == *"--trace"*"xml"* ]] || fail "$stderr"
}

# --- json trace -------------------------------------------------------------------------

@test "trace json: one object per line with the text trace's keys, numbers as numbers" {
    life_script
    run -0 --separate-stderr "$ASYNCRUN" --trace=json life.lua
    echo "$stderr" > json.txt
    run -0 --separate-stderr "$ASYNCRUN" --trace life.lua
    echo "$stderr" > text.txt
    python3 -c "$LOGFMT_PY
keys = {
    'loop-start': ['t', 'event'],
    'spawn': ['t', 'event', 'task', 'name', 'parent', 'at'],
    'resume': ['t', 'event', 'task', 'name'],
    'suspend': ['t', 'event', 'task', 'name', 'on', 'ran', 'at'],
    'done': ['t', 'event', 'task', 'name', 'wall', 'run'],
    'fail': ['t', 'event', 'task', 'name', 'error'],
    'cancel': ['t', 'event', 'task', 'name', 'by'],
    'cancelled': ['t', 'event', 'task', 'name'],
    'loop-close': ['t', 'event', 'wall', 'tasks'],
}
ints, floats = {'task', 'parent', 'tasks'}, {'t', 'ran', 'wall', 'run'}
js = [json.loads(l) for l in open('json.txt').read().splitlines()]
tx = [parse(l) for l in open('text.txt').read().splitlines()]
for e in js:
    assert isinstance(e, dict), e
    assert list(e) == keys[e['event']], e
    for k, v in e.items():
        if k in ints: assert type(v) is int, (k, e)
        elif k in floats: assert type(v) in (int, float) and v >= 0, (k, e)
        else: assert type(v) is str, (k, e)
ts = [e['t'] for e in js]
assert ts == sorted(ts), 't goes back'
assert js[0]['event'] == 'loop-start' and js[-1]['event'] == 'loop-close', 'ends'
assert js[-1]['tasks'] == 5, js[-1]
done = [e for e in js if e['event'] == 'done' and e['task'] == 2][0]
assert done['name'] == 'worker' and done['wall'] >= 0.045, done
fail = [e for e in js if e['event'] == 'fail'][0]
assert fail == dict(fail, task=3, name='failer', error='life.lua:6: boom here'), fail
# the same run in text has the same events, keys and values (times aside)
strip = lambda e: {k: str(v) for k, v in e.items() if k not in floats}
assert [list(e) for e in tx] == [list(e) for e in js], 'key order differs'
assert [strip(e) for e in tx] == [strip(e) for e in js], 'events differ'
print('ok', len(js))"
}

@test "trace json: names and errors with quotes, tabs, newlines and '<' stay valid JSON" {
    lua esc.lua <<'EOF'
local t = async.spawn(function() error('q"uote\\ tab\t </script>') end)
t.name = 'a "b"\tc\n<d>'
pcall(t.await, t)
EOF
    run -0 --separate-stderr "$ASYNCRUN" --trace=json esc.lua
    python3 -c '
import json, sys
ev = [json.loads(l) for l in sys.stdin.read().splitlines()]
f = [e for e in ev if e["event"] == "fail"][0]
assert f["name"] == "a \"b\"\tc\n<d>", f
assert f["error"] == "esc.lua:1: q\"uote\\ tab\t </script>", f
print("ok")' <<< "$stderr"
}

@test "trace: ASYNCRUN_TRACE and ASYNCRUN_TRACE_FILE act like the options; options win" {
    lua two.lua <<'EOF'
async.sleep(0)
EOF
    run -0 --separate-stderr env ASYNCRUN_TRACE=json "$ASYNCRUN" two.lua
    [[ ${stderr_lines[0]} == '{"t":'*'"event":"loop-start"}' ]] || fail "$stderr"

    run -0 --separate-stderr env ASYNCRUN_TRACE=json "$ASYNCRUN" --trace=text two.lua
    [[ ${stderr_lines[0]} == "trace: t="*" event=loop-start" ]] || fail "$stderr"

    run -0 --separate-stderr env ASYNCRUN_TRACE_FILE="$PWD/env.txt" "$ASYNCRUN" two.lua
    [ -z "$stderr" ]
    grep -q '^trace: t=.* event=loop-close' env.txt

    run -0 --separate-stderr env ASYNCRUN_TRACE=json ASYNCRUN_TRACE_FILE="$PWD/env.json" "$ASYNCRUN" two.lua
    python3 -c 'import json; [json.loads(l) for l in open("env.json")]'

    run -0 env ASYNCRUN_TRACE_FILE="$PWD/lost.txt" "$ASYNCRUN" --trace-file="$PWD/won.txt" two.lua
    [ ! -e lost.txt ]
    grep -q 'event=loop-close' won.txt

    run -2 --separate-stderr env ASYNCRUN_TRACE=bogus "$ASYNCRUN" two.lua
    [[ $stderr == *ASYNCRUN_TRACE*bogus* ]] || fail "$stderr"
}

@test "trace: the trace is complete after os.exit, an error and --timeout" {
    lua ex.lua <<'EOF'
async.spawn(function() async.sleep(5) end)
async.sleep(0.01)
os.exit(3)
EOF
    lua err.lua <<'EOF'
async.sleep(0.01)
error("boom")
EOF
    lua hang.lua <<'EOF'
async.sleep(5)
EOF
    run -3 "$ASYNCRUN" --trace=json --trace-file=ex.json ex.lua
    run -1 "$ASYNCRUN" --trace=json --trace-file=err.json err.lua
    run -124 "$ASYNCRUN" --timeout=0.1 --trace=json --trace-file=hang.json hang.lua
    run -3 "$ASYNCRUN" --trace=chrome --trace-file=ex.chrome ex.lua
    run -1 "$ASYNCRUN" --trace=chrome --trace-file=err.chrome err.lua
    run -3 "$ASYNCRUN" --trace=html --trace-file=ex.html ex.lua
    python3 -c '
import json
for f in ("ex.json", "err.json", "hang.json"):
    ev = [json.loads(l) for l in open(f)]
    assert ev[0]["event"] == "loop-start" and ev[-1]["event"] == "loop-close", f
for f in ("ex.chrome", "err.chrome"):
    assert isinstance(json.load(open(f))["traceEvents"], list), f
assert open("ex.html").read().rstrip().endswith("</html>")
print("ok")'
}

# --- chrome trace -----------------------------------------------------------------------

chrome_script() {
    lua chrome.lua <<'EOF'
local w = async.spawn(function()
  async.sleep(0.05)
  async.sleep(0.01)
end)
w.name = "worker"
local f = async.spawn(function() async.sleep(0.01) error("boom") end)
f.name = "failer"
local c = async.spawn(function() async.sleep(10) end)
c.name = "victim"
w:await()
pcall(f.await, f)
c:cancel()
pcall(c.await, c)
pcall(async.timeout, 0.01, async.sleep, 1)
EOF
}

@test "trace chrome: a Trace Event Format file: a named track per task, a slice per step, instants" {
    chrome_script
    run -0 --separate-stderr "$ASYNCRUN" --trace=chrome --trace-file=trace.json chrome.lua
    assert_output ""
    [ -z "$stderr" ]
    python3 -c '
import json
doc = json.load(open("trace.json"))
assert isinstance(doc, dict), "not an object"
ev = doc["traceEvents"]
assert isinstance(ev, list) and ev, "no traceEvents"
num = (int, float)
for e in ev:
    assert e["ph"] in ("X", "i", "M"), e
    assert type(e["pid"]) is int and type(e["tid"]) is int and type(e["name"]) is str, e
    if e["ph"] in ("X", "i"):
        assert type(e["ts"]) in num and e["ts"] >= 0, e
    if e["ph"] == "X":
        assert type(e["dur"]) in num and e["dur"] >= 0, e
    if e["ph"] == "i":
        assert e.get("s", "t") in ("t", "p", "g"), e
# a slice per step, on the task s track, in order and without overlaps
slices = {}
for e in ev:
    if e["ph"] == "X":
        slices.setdefault(e["tid"], []).append(e)
for tid, ss in slices.items():
    for a, b in zip(ss, ss[1:]):
        assert a["ts"] + a["dur"] <= b["ts"] + 1, ("overlap", a, b)
names = {tid: [s["name"] for s in ss] for tid, ss in slices.items()}
assert names[2] == ["step", "step", "done"], names[2]
assert names[3] == ["step", "fail"], names[3]
assert names[4] == ["step", "cancelled"], names[4]
assert names[1][-1] == "done", names[1]
# ts and dur are microseconds: the worker slept 50 ms between its first two steps
gap = slices[2][1]["ts"] - slices[2][0]["ts"]
assert 45000 <= gap < 5000000, gap
# instants for spawn, cancel, failure, cancelled, timeout, on the task s track
inst = {(e["name"], e["tid"]) for e in ev if e["ph"] == "i"}
for want in [("spawn", 2), ("spawn", 3), ("spawn", 4), ("fail", 3), ("cancel", 4),
             ("cancelled", 4), ("timeout", 1)]:
    assert want in inst, (want, sorted(inst))
fail = [e for e in ev if e["ph"] == "i" and e["name"] == "fail"][0]
assert fail["args"]["error"] == "chrome.lua:6: boom", fail
# thread_name metadata: the last one for each track names it "<id> <name>"
track = {}
for e in ev:
    if e["ph"] == "M" and e["name"] == "thread_name":
        track[e["tid"]] = e["args"]["name"]
for tid, name in [(1, "1 main"), (2, "2 worker"), (3, "3 failer"), (4, "4 victim")]:
    assert track.get(tid) == name, (tid, track)
print("ok")'
}

@test "trace chrome: every event is on a task's track or the process track (tid 0)" {
    chrome_script
    run -0 "$ASYNCRUN" --trace=chrome --trace-file=trace.json chrome.lua
    python3 -c '
import json
ev = json.load(open("trace.json"))["traceEvents"]
tasks = {e["tid"] for e in ev if e["ph"] == "X"}
bad = [e for e in ev if e["tid"] != 0 and e["tid"] not in tasks]
assert not bad, bad
close = [e for e in ev if e["name"] == "loop-close"]
assert close and close[0]["tid"] == 0, close
print("ok")'
}

@test "trace chrome: a task cancelled before it ever ran still gets a named track" {
    lua early.lua <<'EOF'
local t = async.spawn(function() end)
t.name = "never"
t:cancel()
async.sleep(0)
EOF
    run -0 "$ASYNCRUN" --trace=chrome --trace-file=trace.json early.lua
    python3 -c '
import json
ev = json.load(open("trace.json"))["traceEvents"]
assert any(e["ph"] == "i" and e["tid"] == 2 for e in ev), "no instants for task 2"
names = [e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name" and e["tid"] == 2]
assert names and names[-1] == "2 never", names
print("ok")'
}

# --- html trace -------------------------------------------------------------------------

# The html page's packed events decoded back into the events of --trace=json.
HTML_DECODE='
import sys
sys.path.insert(0, "'"$BATS_TEST_DIRNAME"'/lib")
from html_trace import decode
'

@test "trace html: one self-contained page with the events embedded once, packed" {
    lua page.lua <<'EOF'
local a = async.spawn(function() async.sleep(0.01) end)
a.name = "</script><script>alert(1)</script>"
local b = async.spawn(function() error("</script> in an error \226\128\168 \255") end)
b.name = "failer"
a:await()
pcall(b.await, b)
EOF
    run -0 --separate-stderr "$ASYNCRUN" --trace=html --trace-file=page.html page.lua
    assert_output ""
    [ -z "$stderr" ]
    # self-contained: no network, no external script, style or image
    run grep -Ec 'https?://|src=|<link|@import' page.html
    assert_output "0"
    python3 -c "$HTML_DECODE"'
page, ev = open("page.html", encoding="utf-8").read(), decode("page.html")
assert page.lstrip().lower().startswith("<!doctype html>"), page[:40]
assert page.rstrip().endswith("</html>"), page[-40:]
# three scripts (the events, their strings, the renderer), which no string closes early
assert page.count("<script") == 3 and page.count("</script>") == 3, page.count("</script>")
# the strings are plain ASCII: U+2028 and bytes that are not UTF-8 escaped or replaced
data = page[page.index("id=\"events\""):page.index("<script>\n")]
assert all(32 <= ord(c) < 127 or c == "\n" for c in data), "not ASCII"
assert ev[0]["event"] == "loop-start" and ev[-1]["event"] == "loop-close", (ev[0], ev[-1])
names = {e.get("name") for e in ev}
assert "</script><script>alert(1)</script>" in names, names
fail = [e for e in ev if e["event"] == "fail"][0]
assert fail["error"] == "page.lua:3: </script> in an error \u2028 \ufffd", fail
print("ok", len(ev))'
}

@test "trace html: the page holds the events of the json trace, with the same t" {
    lua same.lua <<'EOF'
local q = async.queue()
local w = async.spawn(function() for i = 1, 3 do async.sleep(0.25) q:put(i) end end)
w.name = "worker"
for _ = 1, 3 do q:get() end
async.sleep(1.5)
EOF
    run -0 "$ASYNCRUN" --fake-time --trace=json --trace-file=same.json same.lua
    run -0 "$ASYNCRUN" --fake-time --trace=html --trace-file=same.html same.lua
    python3 -c "$HTML_DECODE"'
import json
want = [json.loads(l) for l in open("same.json")]
got = decode("same.html")
key = lambda e: ("%.6f" % e["t"], e["event"], e.get("task"), e.get("name"), e.get("on"), e.get("at"))
assert [key(e) for e in got] == [key(e) for e in want], (got, want)
assert ["%.6f" % e["t"] for e in got if e["event"] == "resume" and e["task"] == 2][1:] == ["0.250000", "0.500000", "0.750000"], got
print("ok", len(got))'
}

# --- stats ------------------------------------------------------------------------------

# main, a task that finishes, one that fails (retrieved), one cancelled; main runs a 60 ms
# step and allocates 8 MiB once.
stats_script() {
    lua stats.lua <<'EOF'
local a = async.spawn(function() async.sleep(0.01) return 1 end)
a.name = "ok"
local b = async.spawn(function() error("x") end)
local c = async.spawn(function() async.sleep(10) end)
c.name = "victim"
async.sleep(0)
local big = string.rep("x", 8 * 1024 * 1024)
big = nil
local t = async.now() + 0.06 while async.now() < t do end
a:await()
pcall(b.await, b)
c:cancel()
pcall(c.await, c)
print("out")
EOF
}

@test "stats: --stats prints an aligned table to stderr at exit" {
    stats_script
    run -0 --separate-stderr "$ASYNCRUN" --stats stats.lua
    assert_output "out"
    use_stderr
    [ "${lines[0]}" = "asyncrun stats:" ]
    assert_line --regexp "^  wall +$N s$"
    assert_line --regexp "^  cpu +$N s user, $N s system$"
    assert_line --regexp "^  loop iterations +[1-9][0-9]*$"
    assert_line --regexp "^  tasks +4 spawned, 2 done, 1 failed, 1 cancelled, 4 peak live$"
    assert_line --regexp "^  longest step +$N s, task 1 \(main\) at stats.lua:10$"
    assert_line --regexp "^  lua heap peak +[0-9]+ bytes$"
    assert_line --regexp "^  rss peak +[0-9]+ bytes$"
    assert_line "  top tasks by run time:"
    assert_line --regexp "^    $N s  task 1 \(main\)$"
    assert_line --regexp "^    $N s  task 2 \(ok\)$"
    # the values of the labelled lines start in one column
    python3 -c '
import re, sys
cols = set()
for l in sys.stdin.read().splitlines()[1:]:
    if l.startswith("  top tasks"):
        break
    m = re.match(r"  (\S+(?: \S+)*?) {2,}(\S)", l)
    assert m, l
    cols.add(m.start(2))
assert len(cols) == 1, cols
print("ok")' <<< "$stderr"
}

@test "stats: --stats=json prints one object with exact task counts" {
    stats_script
    run -0 --separate-stderr "$ASYNCRUN" --stats=json stats.lua
    assert_output "out"
    [ "${#stderr_lines[@]}" -eq 1 ] || fail "$stderr"
    python3 -c '
import json, sys
s = json.loads(sys.stdin.read())
keys = ["wall_s", "cpu_user_s", "cpu_sys_s", "loop_iterations", "tasks_spawned", "tasks_done",
        "tasks_failed", "tasks_cancelled", "tasks_peak", "max_step_s", "lua_mem_peak_bytes",
        "rss_peak_bytes"]
missing = [k for k in keys if k not in s]
assert not missing, missing
for k in keys:
    assert type(s[k]) in (int, float) and s[k] >= 0, (k, s[k])
for k in ["loop_iterations", "tasks_spawned", "tasks_done", "tasks_failed", "tasks_cancelled",
          "tasks_peak", "lua_mem_peak_bytes", "rss_peak_bytes"]:
    assert type(s[k]) is int, (k, s[k])
counts = {k: s[k] for k in ["tasks_spawned", "tasks_done", "tasks_failed", "tasks_cancelled", "tasks_peak"]}
assert counts == dict(tasks_spawned=4, tasks_done=2, tasks_failed=1, tasks_cancelled=1, tasks_peak=4), counts
assert s["loop_iterations"] >= 3, s
assert 0.06 <= s["max_step_s"] < 5, s
assert s["wall_s"] >= s["max_step_s"], s
assert s["lua_mem_peak_bytes"] >= 8 * 1024 * 1024, s
assert s["rss_peak_bytes"] >= s["lua_mem_peak_bytes"], s
print("ok")' <<< "$stderr"
}

@test "stats: ASYNCRUN_STATS acts like --stats; the option wins; a bad format is a usage error" {
    lua s.lua <<'EOF'
async.spawn(function() end):await()
EOF
    run -0 --separate-stderr env ASYNCRUN_STATS=json "$ASYNCRUN" s.lua
    run -0 python3 -c 'import json, sys; s = json.loads(sys.stdin.read()); print(s["tasks_spawned"], s["tasks_done"])' <<< "$stderr"
    assert_output "2 2"

    run -0 --separate-stderr env ASYNCRUN_STATS=json "$ASYNCRUN" --stats=text s.lua
    [ "${stderr_lines[0]}" = "asyncrun stats:" ] || fail "$stderr"

    run -0 --separate-stderr env ASYNCRUN_STATS=text "$ASYNCRUN" --stats=json s.lua
    [[ ${stderr_lines[0]} == '{"wall_s":'* ]] || fail "$stderr"

    run -0 --separate-stderr "$ASYNCRUN" s.lua
    [ -z "$stderr" ]

    run -2 --separate-stderr env ASYNCRUN_STATS=xml "$ASYNCRUN" s.lua
    [[ $stderr == *ASYNCRUN_STATS*xml* ]] || fail "$stderr"
    run -2 --separate-stderr "$ASYNCRUN" --stats=xml s.lua
    [[ $stderr == *--stats*xml* ]] || fail "$stderr"
}

@test "stats: printed when the script calls os.exit(3) (status stays 3) and when main fails" {
    lua exit.lua <<'EOF'
async.spawn(function() async.sleep(5) end)
async.sleep(0)
os.exit(3)
EOF
    run -3 --separate-stderr "$ASYNCRUN" --stats=json --trace-file=trace.txt exit.lua
    run -0 python3 -c 'import json, sys; s = json.loads(sys.stdin.read()); print(s["tasks_spawned"], s["tasks_peak"])' <<< "$stderr"
    assert_output "2 2"
    run -0 tail -1 trace.txt
    assert_output --regexp "event=loop-close"

    run -3 --separate-stderr "$ASYNCRUN" --stats exit.lua
    [ "${stderr_lines[0]}" = "asyncrun stats:" ] || fail "$stderr"

    lua fail.lua <<'EOF'
error("boom")
EOF
    run -1 --separate-stderr "$ASYNCRUN" --stats=json fail.lua
    [[ $stderr == *'"tasks_failed":1'* ]] || fail "$stderr"
}

# --- debug mode -------------------------------------------------------------------------

slow_script() {
    lua slow.lua <<'EOF'
local function busy(s) local t = async.now() + s while async.now() < t do end end
local w = async.spawn(function()
  async.sleep(0)
  busy(0.15)
  async.sleep(0)
end)
w.name = "hog"
w:await()
busy(0.03)
async.sleep(0)
EOF
}

@test "debug: a step over 100 ms is reported with task, time and place" {
    slow_script
    run -0 --separate-stderr "$ASYNCRUN" --debug slow.lua
    use_stderr
    assert_line --regexp "^asyncrun: slow step: task 2 \(hog\) ran (1[5-9][0-9]|[2-9][0-9]{2}|[0-9]{4,})\.[0-9] ms at slow.lua:5$"
    refute_line --partial "task 1 (main)"
}

@test "debug: --slow=20 lowers the threshold" {
    slow_script
    run -0 --separate-stderr "$ASYNCRUN" --debug --slow=20 slow.lua
    use_stderr
    assert_line --regexp "^asyncrun: slow step: task 2 \(hog\) ran (1[5-9][0-9]|[2-9][0-9]{2}|[0-9]{4,})\.[0-9] ms at slow.lua:5$"
    assert_line --regexp "^asyncrun: slow step: task 1 \(main\) ran ([3-9][0-9]|[0-9]{3,})\.[0-9] ms at slow.lua:10$"

    run -2 --separate-stderr "$ASYNCRUN" --debug --slow=fast slow.lua
    [[ $stderr == *--slow*fast* ]] || fail "$stderr"
    run -2 --separate-stderr "$ASYNCRUN" --debug --slow=0 slow.lua
}

@test "debug: a slow last step is placed at the last line executed" {
    lua last.lua <<'EOF'
local w = async.spawn(function()
  local t = async.now() + 0.15
  while async.now() < t do end
  return 1
end)
w.name = "hog"
w:await()
EOF
    run -0 --separate-stderr "$ASYNCRUN" --debug last.lua
    use_stderr
    assert_line --regexp "^asyncrun: slow step: task 2 \(hog\) ran [0-9.]+ ms at last.lua:[3-5]$"
}

@test "debug: a step blocking over 1 s is reported live, with the line it is executing" {
    lua block.lua <<'EOF'
local t = async.now() + 1.5
async.sleep(0)
while async.now() < t do end
io.stderr:write("after the loop\n")
EOF
    run -0 --separate-stderr "$ASYNCRUN" --debug block.lua
    use_stderr
    assert_line --regexp "^asyncrun: blocked: task 1 \(main\) has run 1\.[0-4] s without suspending, now at block.lua:3$"
    # said while still blocked: before the loop ends
    [[ ${lines[0]} == "asyncrun: blocked: "* ]] || fail "not first: $stderr"
    [ "${lines[1]}" = "after the loop" ] || fail "$stderr"
}

@test "debug: a pcall that swallows a cancellation is reported" {
    lua swallow.lua <<'EOF'
local t = async.spawn(function()
  pcall(async.sleep, 10)
  async.sleep(0)
end)
t.name = "stubborn"
async.sleep(0.01)
t:cancel()
pcall(t.await, t)
print(t:status())
EOF
    run -0 --separate-stderr "$ASYNCRUN" --debug swallow.lua
    assert_output "cancelled"
    use_stderr
    assert_line --regexp "^asyncrun: warning: task 2 \(stubborn\) caught its cancellation and went on"
    assert_line --partial "swallow.lua:3"
}

@test "debug: a task that swallows its cancellation and returns normally is reported too" {
    lua quiet.lua <<'EOF'
local t = async.spawn(function()
  pcall(async.sleep, 10)
  return "went on"
end)
t.name = "stubborn"
async.sleep(0.01)
t:cancel()
print(t:await())
EOF
    run -0 --separate-stderr "$ASYNCRUN" --debug quiet.lua
    use_stderr
    assert_line --regexp "^asyncrun: warning: task 2 \(stubborn\) caught its cancellation and went on"
}

@test "debug: without --debug there are no slow-step, blocked or swallowed-cancellation messages" {
    lua all.lua <<'EOF'
local t = async.spawn(function()
  pcall(async.sleep, 10)
  async.sleep(0)
end)
async.sleep(0.01)
t:cancel()
pcall(t.await, t)
local stop = async.now() + 1.3
while async.now() < stop do end
async.sleep(0)
print("done")
EOF
    run -0 --separate-stderr "$ASYNCRUN" --slow=1 all.lua
    assert_output "done"
    [ -z "$stderr" ] || fail "stderr: $stderr"
}

# --- task dump --------------------------------------------------------------------------

# Starts asyncrun in the background, stdout/stderr to bg.out/bg.err, and waits for the
# script to write its pid to ready.txt. SIGINT and SIGQUIT are reset to their defaults:
# bats starts background jobs with job control off, so they would arrive ignored, and
# asyncrun keeps an ignored signal ignored (SPEC §2).
start_bg() {
    rm -f ready.txt
    timeout 20 env --default-signal=INT,QUIT "$ASYNCRUN" "$@" > bg.out 2> bg.err 3>&- &
    BG_PID=$!
    for _ in $(seq 1000); do
        [ -s ready.txt ] && break
        sleep 0.01
    done
    [ -s ready.txt ] || fail "the script never got ready: $(cat bg.err)"
    APP_PID=$(cat ready.txt)
}

dump_script() {
    lua dump.lua <<'EOF'
local function nap() async.sleep(0.6) end
local c = async.spawn(function()
  local g = async.spawn(function() async.sleep(5) end)
  g.name = "grandchild"
  g:await()
end)
c.name = "child"
async.sleep(0)
local f = assert(io.open("ready.txt", "w"))
f:write(assert(io.open("/proc/self/stat")):read("n"), "\n")
f:close()
nap()
c:cancel()
print("finished")
EOF
}

@test "dump: SIGUSR1 and SIGQUIT print the task tree and the run goes on" {
    dump_script
    start_bg dump.lua
    kill -USR1 "$APP_PID"
    sleep 0.1
    kill -QUIT "$APP_PID"
    st=0
    wait "$BG_PID" || st=$?
    [ "$st" -eq 0 ] || fail "exit $st (124: hung or killed); stderr: $(cat bg.err)"
    [ "$(cat bg.out)" = "finished" ]
    [ "$(grep -c '^asyncrun: task dump (the run goes on)$' bg.err)" -eq 2 ] || fail "$(cat bg.err)"
    # each dump: main, its traceback, the child under it, the grandchild under that
    python3 -c '
import re, sys
text = sys.stdin.read()
dumps = text.split("asyncrun: task dump (the run goes on)\n")[1:]
assert len(dumps) == 2, text
for d in dumps:
    lines = d.splitlines()
    assert lines[0] == "tasks (3 live):", lines
    heads = [(i, l) for i, l in enumerate(lines) if re.match(r"^ *task \d+ \(", l)]
    want = [
        "  task 1 (main) pending, waiting on sleep:0.6 at dump.lua:1",
        "    task 2 (child) pending, waiting on task:3 at dump.lua:5",
        "      task 3 (grandchild) pending, waiting on sleep:5 at dump.lua:3",
    ]
    assert [l for _, l in heads] == want, heads
    # each task is followed by its traceback, indented two more spaces
    for (i, head), (j, _) in zip(heads, heads[1:] + [(len(lines), "")]):
        ind = len(head) - len(head.lstrip()) + 2
        tb = lines[i + 1:j]
        assert tb and tb[0] == " " * ind + "stack traceback:", (head, tb)
        assert all(l.startswith(" " * ind) for l in tb), (head, tb)
    assert "dump.lua:1: in " in d and "dump.lua:12: in main chunk" in d, d
print("ok")' < bg.err
}

@test "dump: printed on --timeout expiry (exit 124) and on deadlock (exit 3)" {
    lua late.lua <<'EOF'
local c = async.spawn(function() async.sleep(5) end)
c.name = "sleeper"
async.sleep(5)
EOF
    run -124 --separate-stderr "$ASYNCRUN" --timeout=0.2 late.lua
    use_stderr
    assert_line "tasks (2 live):"
    assert_line "  task 1 (main) pending, waiting on sleep:5 at late.lua:3"
    assert_line "    task 2 (sleeper) pending, waiting on sleep:5 at late.lua:1"

    lua stuck.lua <<'EOF'
local e = async.event()
local t = async.spawn(function() e:wait() end)
t.name = "waiter"
t:await()
EOF
    run -3 --separate-stderr "$ASYNCRUN" stuck.lua
    use_stderr
    assert_line --regexp "^asyncrun: deadlock: "
    assert_line "tasks (2 live):"
    assert_line "  task 1 (main) pending, waiting on task:2 at stuck.lua:4"
    assert_line "    task 2 (waiter) pending, waiting on event at stuck.lua:2"
}

@test "dump: a task not yet started, or whose body is a C function, shows its spawn site, marked as such" {
    lua sites.lua <<'EOF'
local c = async.spawn(async.sleep, 5)
c.name = "cbody"
async.sleep(0)
local n = async.spawn(function() end)
n.name = "unstarted"
EOF
    run -1 --separate-stderr "$ASYNCRUN" --strict sites.lua
    use_stderr
    assert_line --regexp "^  task 2 \(cbody\) pending, .*sites.lua:1"
    assert_line --regexp "^  task 3 \(unstarted\) pending, .*sites.lua:4"
    assert_line --regexp "spawn.*sites.lua:1|sites.lua:1.*spawn"
    assert_line --regexp "spawn.*sites.lua:4|sites.lua:4.*spawn"
}

@test "dump and trace: a wait reached by a tail call into the API is placed at the user's line" {
    lua tail.lua <<'EOF'
local q = async.queue()
local u = async.spawn(function()
  return q:get()
end)
async.sleep(0)
EOF
    run -1 --separate-stderr "$ASYNCRUN" --strict --trace tail.lua
    use_stderr
    assert_line --regexp "^trace: $T event=suspend task=2 name=task-2 on=queue ran=$N at=tail.lua:3$"
    assert_line "  task 2 (task-2) pending, waiting on queue at tail.lua:3"
}

# --- strict -----------------------------------------------------------------------------

@test "strict: tasks pending when main ends are listed in the dump's format and exit 1" {
    lua left.lua <<'EOF'
local a = async.spawn(function() async.sleep(5) end)
a.name = "forgotten"
local b = async.spawn(function() async.event():wait() end)
async.sleep(0)
print("main done")
EOF
    run -1 --separate-stderr "$ASYNCRUN" --strict left.lua
    assert_output "main done"
    use_stderr
    [ "${lines[0]}" = "asyncrun: strict: 2 task(s) still pending when the main task ended:" ] || fail "$stderr"
    assert_line "tasks (2 live):"
    assert_line "  task 2 (forgotten) pending, waiting on sleep:5 at left.lua:1"
    assert_line "  task 3 (task-3) pending, waiting on event at left.lua:3"
    assert_line --regexp "^    stack traceback:$"

    # without --strict the leftovers are cancelled silently
    run -0 --separate-stderr "$ASYNCRUN" left.lua
    assert_output "main done"
    [ -z "$stderr" ] || fail "$stderr"
}

@test "strict: no leftovers, no finding: exit 0 and nothing on stderr" {
    lua clean.lua <<'EOF'
local a = async.spawn(function() async.sleep(0.01) end)
a:await()
EOF
    run -0 --separate-stderr "$ASYNCRUN" --strict clean.lua
    [ -z "$stderr" ] || fail "$stderr"
}

@test "trace: a record with a huge number is written whole (chrome is valid JSON, json gives the full t)" {
    run -0 "$ASYNCRUN" --fake-time --trace=chrome --trace-file=huge.json -e 'async.sleep(1e300)'
    run -0 python3 -c 'import json; print(len(json.load(open("huge.json"))["traceEvents"]) > 0)'
    assert_output "True"
    run -0 --separate-stderr "$ASYNCRUN" --fake-time --trace=json -e 'async.sleep(1e300)'
    run -0 python3 -c 'import json, sys
print(max(json.loads(l)["t"] for l in sys.stdin) >= 1e300)' <<< "$stderr"
    assert_output "True"
}
