#!/usr/bin/env bats
# async.http from the outside (SPEC §4): libcurl loaded on the first call only, the message
# when it is missing, HTTPS with a certificate made here (Python's ssl, nginx with HTTP/2), a
# 50 MB download to a file and a streamed body with bounded RSS, the trace event and the
# Chrome span, --stats, dumps naming the URL, --timeout, SIGINT, a request pending at the end
# of the run, --fake-time. The in-process API tests are in tests/lua/http.lua.

load helpers

setup() {
    peers_setup
    command -v python3 >/dev/null || skip "python3 is not installed"
}

teardown() {
    kill_bg
    if [ -n "${nginx_dir:-}" ]; then
        sh "$nginx_serve" stop "$nginx_dir"
        rm -rf "$nginx_dir"
    fi
}

# Starts tests/lib/http_server.py (args: --tls CERT KEY); sets $port.
start_server() {
    python3 "$BATS_TEST_DIRNAME/lib/http_server.py" "$@" > "$BATS_TEST_TMPDIR/server.out" 2>&1 &
    bg+=("$!")
    local i
    for ((i = 0; i < 250; i++)); do
        port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$BATS_TEST_TMPDIR/server.out")
        [ -n "$port" ] && return 0
        sleep 0.02
    done
    fail "the test server did not start: $(cat "$BATS_TEST_TMPDIR/server.out")"
}

# A self-signed certificate for localhost and 127.0.0.1 (cert.pem, key.pem).
make_cert() {
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$BATS_TEST_TMPDIR/key.pem" -out "$BATS_TEST_TMPDIR/cert.pem" 2>/dev/null ||
        skip "openssl cannot make a certificate"
}

@test "libcurl is mapped on the first async.http call, not before" {
    start_server
    s=$(script <<EOF
local function mapped()
  return io.open("/proc/self/maps"):read("a"):find("libcurl", 1, true) ~= nil
end
print(mapped())
local _ = async.http -- the module table costs nothing
print(mapped())
print(async.http.get("http://127.0.0.1:$port/status/200").status, mapped())
EOF
)
    run -0 "$ASYNCRUN" "$s"
    assert_output "false
false
200	true"
    run -0 "$ASYNCRUN" -e 'print(io.open("/proc/self/maps"):read("a"):find("libcurl", 1, true))'
    assert_output "nil"
}

@test "without libcurl the first call raises naming the package; the run goes on" {
    s=$(script <<'EOF'
local ok, err = pcall(async.http.get, "http://127.0.0.1:1/")
print(ok, err)
print(pcall(async.http.request, { url = "http://127.0.0.1:1/" }))
print("still running")
EOF
)
    ASYNCRUN_DL_HIDE=libcurl.so.4 run -0 "$ASYNCRUN" "$s"
    assert_line -n 0 "false	asyncrun: async.http needs libcurl (libcurl.so.4: hidden by ASYNCRUN_DL_HIDE); install libcurl4"
    assert_line -n 1 --partial "async.http needs libcurl"
    assert_line -n 2 "still running"
    ASYNCRUN_DL_HIDE=libcurl.so.4 run -1 --separate-stderr "$ASYNCRUN" -e 'async.http.get("http://x/")'
    stderr_has "async.http needs libcurl (libcurl.so.4: hidden by ASYNCRUN_DL_HIDE); install libcurl4"
}

@test "HTTPS: verified by default, cafile, insecure, the host checked" {
    make_cert
    start_server --tls "$BATS_TEST_TMPDIR/cert.pem" "$BATS_TEST_TMPDIR/key.pem"
    s=$(script <<EOF
local url = "https://localhost:$port/echo"
print(async.http.get(url))
local res = assert(async.http.get(url, { cafile = "$BATS_TEST_TMPDIR/cert.pem" }))
print(res.status, res.version, res.url)
res = assert(async.http.get(url, { insecure = true }))
print("insecure", res.status)
print(async.http.get("https://127.0.0.2:$port/echo", { cafile = "$BATS_TEST_TMPDIR/cert.pem" }))
print(async.http.get("https://localhost:$port/echo", { cafile = "/nonexistent.pem" }))
EOF
)
    run -0 "$ASYNCRUN" "$s"
    assert_line -n 0 --regexp '^nil	.*certificate.*	60$'
    assert_line -n 1 "200	1.1	https://localhost:$port/echo"
    assert_line -n 2 "insecure	200"
    assert_line -n 3 --regexp '^nil	.*	(60|51|7)$'
    assert_line -n 4 --regexp '^nil	.*	77$'
}

@test "HTTPS from nginx: HTTP/2, one connection multiplexed" {
    command -v nginx >/dev/null || skip "nginx is not installed (nginx-light)"
    nginx_serve=$BATS_TEST_DIRNAME/../../shared/bench/peers/w8_http/serve.sh
    [ -f "$nginx_serve" ] || skip "no $nginx_serve"
    # nginx's workers run as another user when started as root: a directory they can read
    nginx_dir=$(mktemp -d /tmp/asyncrun-http-nginx.XXXXXX)
    chmod 755 "$nginx_dir"
    read -r hp sp < <(sh "$nginx_serve" start "$nginx_dir") || skip "nginx did not start"
    s=$(script <<EOF
local ca = "$nginx_dir/cert.pem"
local ts = {}
for i = 1, 50 do
  ts[i] = async.spawn(async.http.get, "https://localhost:$sp/1k.txt", { cafile = ca })
end
local n, versions = 0, {}
for _, res in ipairs(async.gather(ts)) do
  assert(res.status == 200, res.status)
  n = n + #res.body
  versions[res.version] = true
end
print(n, (next(versions)))
print(async.http.get("http://127.0.0.1:$hp/1k.txt").version)
EOF
)
    run -0 --separate-stderr "$ASYNCRUN" --trace=json "$s"
    assert_output "51200	2
1.1"
    # every request after the first connection reused it: connect time 0
    connects=$(grep -cE '"event":"http".*"connect":0(\.0+)?[,}]' <<< "$stderr" || true)
    [ "$connects" -ge 45 ] || fail "only $connects of 51 requests reused a connection: $stderr"
}

@test "a 50 MB download to a file, and a 50 MB streamed body, with bounded RSS" {
    start_server
    s=$(script <<EOF
local f = assert(io.open("$BATS_TEST_TMPDIR/big", "wb"))
local res = assert(async.http.get("http://127.0.0.1:$port/bytes/50000000", { output = f }))
f:close()
print(res.status, res.body, io.open("$BATS_TEST_TMPDIR/big"):seek("end"))
res = assert(async.http.get("http://127.0.0.1:$port/bytes/50000000", { stream = true }))
local n = 0
while true do
  local chunk = res.body:read(65536)
  if not chunk then break end
  n = n + #chunk
  if n < 1000000 then async.sleep(0.001) end -- a slow reader first: curl must wait
end
res.body:close()
print(n)
EOF
)
    run -0 --separate-stderr "$ASYNCRUN" --stats=json "$s"
    assert_output "200	nil	50000000
50000000"
    rss=$(python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["rss_peak_bytes"])' <<< "$stderr")
    [[ "$ASYNCRUN" == *asan* ]] || [ "$rss" -lt $((40 * 1024 * 1024)) ] || fail "peak RSS $rss bytes for 50 MB bodies"
}

@test "trace: one http event per request with curl's phases; a span in the Chrome trace" {
    start_server
    s=$(script <<EOF
assert(async.http.get("http://127.0.0.1:$port/bytes/1000"))
assert(async.http.post("http://127.0.0.1:$port/status/404", "x"))
async.http.get("http://127.0.0.1:1/")
EOF
)
    run -0 --separate-stderr "$ASYNCRUN" --trace "$s"
    grep -E "^trace: t=[0-9.]+ event=http task=1 method=GET url=http://127.0.0.1:$port/bytes/1000 status=200 bytes=1000 lookup=[0-9.]+ connect=[0-9.]+ tls=[0-9.]+ first_byte=[0-9.]+ total=[0-9.]+$" <<< "$stderr" ||
        fail "no http event for the GET: $stderr"
    grep -E "event=http task=1 method=POST url=http://127.0.0.1:$port/status/404 status=404 bytes=10 " <<< "$stderr" ||
        fail "no http event for the POST: $stderr"
    grep -E "event=http task=1 method=GET url=http://127.0.0.1:1/ status=0 bytes=0 .* error=\"Failed to connect" <<< "$stderr" ||
        fail "no http event for the failure: $stderr"
    grep -E "event=suspend task=1 name=main on=http:http://127.0.0.1:$port/bytes/1000 " <<< "$stderr" ||
        fail "the suspension does not name the request: $stderr"
    run -0 "$ASYNCRUN" --trace=chrome --trace-file="$BATS_TEST_TMPDIR/t.json" "$s"
    python3 - "$BATS_TEST_TMPDIR/t.json" "$port" <<'EOF'
import json, sys
events = json.load(open(sys.argv[1]))["traceEvents"]
spans = [e for e in events if e.get("cat") == "http"]
assert len(spans) == 3, spans
get = spans[0]
assert get["ph"] == "X" and get["tid"] == 1 and get["dur"] > 0, get
assert get["name"] == "GET http://127.0.0.1:%s/bytes/1000" % sys.argv[2], get
assert get["args"]["status"] == 200 and get["args"]["bytes"] == 1000, get
EOF
}

@test "--stats counts requests, failures and body bytes" {
    start_server
    s=$(script <<EOF
assert(async.http.get("http://127.0.0.1:$port/bytes/1000"))
assert(async.http.get("http://127.0.0.1:$port/bytes/234"))
async.http.get("http://127.0.0.1:1/")
local t = async.spawn(async.http.get, "http://127.0.0.1:$port/slow/30")
async.sleep(0.2)
t:cancel()
EOF
)
    run -0 --separate-stderr "$ASYNCRUN" --stats "$s"
    stderr_has "http               4 requests, 2 failed, 1234 body bytes"
    run -0 --separate-stderr "$ASYNCRUN" --stats=json "$s"
    python3 -c 'import json, sys
s = json.loads(sys.stdin.read())
assert (s["http_requests"], s["http_failures"], s["http_bytes"]) == (4, 2, 1234), s' <<< "$stderr"
    run -0 --separate-stderr "$ASYNCRUN" --stats=json -e 'print(1)'
    [[ $stderr != *http* ]] || fail "http counters without requests: $stderr"
}

@test "--timeout: the dump names the URL, the transfer ends, exit 124" {
    start_server
    s=$(script <<EOF
async.http.get("http://127.0.0.1:$port/slow/30?a=long-query-that-takes-the-url-past-64-characters")
EOF
)
    run -124 --separate-stderr timeout 20 "$ASYNCRUN" --timeout=0.5 "$s"
    stderr_has "asyncrun: timeout: the run exceeded 0.5 s"
    stderr_has "waiting on http:http://127.0.0.1:$port/slow/30?a=long-query-that-takes-the-url-past-64-characters at "
}

@test "SIGINT during requests: status 130 at once, connections closed" {
    start_server
    s=$(script <<EOF
for i = 1, 10 do async.spawn(async.http.get, "http://127.0.0.1:$port/slow/30") end
async.sleep(0.3)
print("sent")
io.stdout:flush()
async.http.get("http://127.0.0.1:$port/slow/30")
EOF
)
    # a non-interactive shell starts background jobs with SIGINT ignored: reset it
    env --default-signal=INT "$ASYNCRUN" "$s" > "$BATS_TEST_TMPDIR/out" 2> "$BATS_TEST_TMPDIR/err" 3>&- &
    pid=$!
    wait_for_line "$BATS_TEST_TMPDIR/out" "sent"
    kill -INT "$pid"
    wait_exit 5
    [ "$status" -eq 130 ] || fail "status $status: $(cat "$BATS_TEST_TMPDIR/err")"
}

@test "a request nobody awaits does not hold the end of the run" {
    start_server
    s=$(script <<EOF
async.spawn(async.http.get, "http://127.0.0.1:$port/slow/30")
local res = assert(async.http.get("http://127.0.0.1:$port/stall", { stream = true }))
print(res.body:read(5))
async.sleep(0.1)
EOF
)
    SECONDS=0
    run -0 --separate-stderr timeout 20 "$ASYNCRUN" --debug "$s"
    assert_output "start"
    [ "$SECONDS" -lt 10 ] || fail "the run waited ${SECONDS}s"
    stderr_has "debug: http request GET http://127.0.0.1:$port/stall was left open; shutdown closed it"
}

@test "a result that cannot be built (no memory) still releases its request" {
    start_server
    s=$(script <<EOF
print(pcall(async.http.get, "http://127.0.0.1:$port/bytes/4000000"))
collectgarbage()
EOF
)
    # the 4 MB body does not fit under --memlimit: the error left the request anchored, a
    # resource until the end of the run
    run -0 --separate-stderr timeout 20 "$ASYNCRUN" --debug --memlimit=3M "$s"
    assert_output "false	not enough memory"
    [[ $stderr != *"left open"* ]] || fail "$stderr"
}

@test "--fake-time does not jump over a request in flight; --seed keeps working" {
    start_server
    s=$(script <<EOF
local t0 = async.now()
local slept = false
async.spawn(function() async.sleep(50) slept = true end)
local res = assert(async.http.get("http://127.0.0.1:$port/slow/0.5"))
print(res.body, slept, async.now() - t0 < 50)
async.sleep(100)
print(slept)
EOF
)
    run -0 timeout 20 "$ASYNCRUN" --fake-time "$s"
    assert_output "slow	false	true
true"
    run -0 timeout 20 "$ASYNCRUN" --fake-time --seed=7 "$s"
    assert_output "slow	false	true
true"
}

@test "valgrind finds no leak or error in requests, a streamed body, a cancelled and a pending one" {
    command -v valgrind >/dev/null || skip "valgrind is not installed"
    [[ "$ASYNCRUN" != *asan* ]] || skip "valgrind does not run sanitizer builds"
    start_server
    s=$(script <<EOF2
local base = "http://127.0.0.1:$port"
assert(async.http.get(base .. "/headers"))
assert(async.http.post(base .. "/echo", "x", { headers = { A = "b" } }))
local r = assert(async.http.get(base .. "/lines/1000", { stream = true }))
for _ in r.body:lines() do end
r.body:close()
local t = async.spawn(async.http.get, base .. "/slow/30")
async.sleep(0.2)
t:cancel()
print(async.http.get("http://127.0.0.1:1/"))
async.spawn(async.http.get, base .. "/slow/30")
r = assert(async.http.get(base .. "/stall", { stream = true }))
async.sleep(0.1)
EOF2
)
    run -0 valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
        --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=9 "$ASYNCRUN" "$s"
    assert_output --partial "Couldn't connect to server	7"
    refute_output --partial "=="
}

@test "a request cancelled during its name lookup ends at once; the end of the run waits for none" {
    s=$(script <<'EOF2'
local t0 = async.now()
local t = async.spawn(async.http.get, "http://host1.example.com/")
async.sleep(0.2)
t:cancel()
print(pcall(t.await, t))
print(async.now() - t0 < 3)
async.spawn(async.http.get, "http://host2.example.com/")
async.sleep(0.1)
print("main done")
EOF2
)
    SECONDS=0
    run -0 --separate-stderr with_silent_dns timeout 30 "$ASYNCRUN" "$s"
    assert_output "false	cancelled
true
main done"
    [ "$SECONDS" -lt 8 ] || fail "the run took $SECONDS s: it waited for the lookups"
}
