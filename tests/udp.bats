#!/usr/bin/env bats
# async.udp against real peers (SPEC §4): a Python UDP echo (IPv4 and IPv6), asyncrun to
# asyncrun across two processes, Python clients of an asyncrun echo, the man page's examples
# (a UDP echo, a DNS-style query against a Python name server), names looked up in a private
# /etc/hosts, a lookup that never answers cancelled, and what trace, dumps, --strict and
# --debug say. Everything binds to 127.0.0.1 or ::1. In-process API tests: tests/lua/udp.lua.

load helpers

setup() {
    peers_setup
    command -v python3 >/dev/null || skip "python3 is not installed"
}

teardown() {
    kill_bg
}

# A Python UDP echo on $1 (default 127.0.0.1); prints its port.
python_echo() {
    start_bg python3 -c '
import socket, sys
host = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.bind((host, 0))
print(s.getsockname()[1], flush=True)
while True:
    data, peer = s.recvfrom(65535)
    s.sendto(data, peer)' "${1:-127.0.0.1}"
    first_line
}

have_ipv6() {
    python3 -c 'import socket; socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).bind(("::1", 0))' 2>/dev/null
}

# The example of the man page's UDP section whose code matches $1, as a file.
man_example() {
    awk -v key="$1" '/^\.SS UDP/ { sec = 1 } sec && /^\.S[SH]/ && !/^\.SS UDP/ { exit }
        sec && /^\.EX/ { grab = 1; buf = ""; next } grab && /^\.EE/ { if (buf ~ key) { printf "%s", buf; exit } grab = 0; next }
        grab { buf = buf $0 "\n" }' "$BATS_TEST_DIRNAME/../man/asyncrun.1" | sed 's/\\-/-/g; s/\\e/\\/g'
}

@test "a Python UDP echo: 1,000 datagrams (100 in flight at most), none lost; connect/send/recv; too long" {
    port=$(python_echo)
    PORT=$port run -0 --separate-stderr timeout 60 "$ASYNCRUN" -e '
        local port = os.getenv("PORT")  -- a numeric string, as from arg
        local s <close> = assert(async.udp.bind("127.0.0.1", 0))
        local seen, count, sent = {}, 0, 0
        while count < 1000 do
          while sent < 1000 and sent - count < 100 do
            sent = sent + 1
            assert(s:sendto(("datagram %04d %s"):format(sent, ("x"):rep(sent % 300)), "127.0.0.1", port))
          end
          local data, host, from = assert(async.timeout(10, s.recvfrom, s))
          assert(host == "127.0.0.1" and from == tonumber(port), host .. ":" .. from)
          local n, pad = data:match("^datagram (%d+) (x*)$")
          n = tonumber(n)
          assert(n and not seen[n] and #pad == n % 300, "bad or repeated datagram: " .. data)
          seen[n], count = true, count + 1
        end
        print("echoed", count)
        local c <close> = assert(async.udp.bind(nil, 0))
        assert(c:connect("localhost", port))
        assert(c:send(("y"):rep(65507)))
        print("65507 back", #assert(async.timeout(10, c.recv, c)))
        print(c:send(("y"):rep(65508)))'
    assert_line --index 0 "echoed	1000"
    assert_line --index 1 "65507 back	65507"
    assert_line --index 2 "nil	Message too long	90"
    assert_equal "$stderr" ""
}

@test "IPv6: a Python UDP echo on ::1" {
    have_ipv6 || skip "no IPv6 loopback"
    port=$(python_echo ::1)
    PORT=$port run -0 --separate-stderr timeout 30 "$ASYNCRUN" -e '
        local port = tonumber(os.getenv("PORT"))
        local a <close> = assert(async.udp.bind("::1", 0))
        assert(a:sendto("over v6", "::1", port))
        print(async.timeout(10, a.recvfrom, a))
        local any <close> = assert(async.udp.bind(nil, 0))
        assert(any:sendto("from every address", "::1", port))
        print(async.timeout(10, any.recvfrom, any))'
    assert_line --index 0 "over v6	::1	$port"
    assert_line --index 1 "from every address	::1	$port"
}

@test "asyncrun to asyncrun: an echo process and a client process, 1,000 datagrams" {
    start_bg "$ASYNCRUN" -e '
        local s <close> = assert(async.udp.bind("127.0.0.1", 0))
        print(s:port()) io.stdout:flush()
        while true do
          local data, host, port = s:recvfrom()
          if data == "stop" then break end
          s:sendto(data:upper(), host, port)
        end
        print("stopped")'
    port=$(first_line)
    PORT=$port run -0 --separate-stderr timeout 60 "$ASYNCRUN" -e '
        local port = os.getenv("PORT")
        local s <close> = assert(async.udp.bind("127.0.0.1", 0))
        assert(s:connect("127.0.0.1", port))
        local got, sent = {}, 0
        for i = 1, 1000 do
          assert(s:send("hello " .. i))
          sent = sent + 1
          if sent % 50 == 0 then
            for _ = 1, 50 do got[assert(async.timeout(10, s.recv, s))] = true end
          end
        end
        local n = 0
        for i = 1, 1000 do if got["HELLO " .. i] then n = n + 1 end end
        print("received", n)
        s:send("stop")'
    assert_output "received	1000"
    wait "$bgpid"
    assert_equal "$(tail -1 "$BATS_TEST_TMPDIR/bg.out")" "stopped"
}

@test "the man page's UDP echo answers a Python client; the DNS-style query reads a Python name server" {
    man_example "udp echo on port" > "$BATS_TEST_TMPDIR/udp_echo.lua"
    man_example "string.pack" > "$BATS_TEST_TMPDIR/dns.lua"
    [ -s "$BATS_TEST_TMPDIR/udp_echo.lua" ] && [ -s "$BATS_TEST_TMPDIR/dns.lua" ] || fail "examples not found"
    start_bg "$ASYNCRUN" "$BATS_TEST_TMPDIR/udp_echo.lua"
    port=$(first_line | awk '{ print $NF }')
    run -0 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
for word in (b"one", b"two", b""):
    s.sendto(word, ("127.0.0.1", int(sys.argv[1])))
    print(s.recvfrom(100)[0])' "$port"
    assert_output "b'one'
b'two'
b''"
    # a name server that answers every A query with two addresses
    start_bg python3 -c '
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
while True:
    q, peer = s.recvfrom(512)
    qid = q[:2]
    question = q[12:]
    answers = b"".join(b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes(a)
                       for a in ((127, 0, 0, 7), (10, 1, 2, 3)))
    s.sendto(qid + struct.pack(">HHHHH", 0x8180, 1, 2, 0, 0) + question + answers, peer)'
    dns=$(first_line)
    run -0 --separate-stderr timeout 20 "$ASYNCRUN" "$BATS_TEST_TMPDIR/dns.lua" example.test 127.0.0.1 "$dns"
    assert_output "127.0.0.7
10.1.2.3"
}

# Runs "$@" with an /etc/hosts of its own (a private mount namespace of an unprivileged
# user namespace) naming 127.0.0.1 udp-peer.test; skips where such namespaces cannot be made.
with_hosts() {
    command -v unshare > /dev/null || skip "needs unshare"
    unshare -rm true 2> /dev/null || skip "cannot make user and mount namespaces"
    printf '127.0.0.1 udp-peer.test\n::1 udp-peer6.test\n' > "$BATS_TEST_TMPDIR/hosts"
    HOSTS=$BATS_TEST_TMPDIR/hosts unshare -rm sh -c 'mount --bind "$HOSTS" /etc/hosts && exec "$@"' sh "$@"
}

@test "host names are looked up (off the loop): bind, sendto and connect by name" {
    run -0 --separate-stderr with_hosts timeout 30 "$ASYNCRUN" --trace -e '
        local s <close> = assert(async.udp.bind("udp-peer.test", 0))
        local c <close> = assert(async.udp.bind(nil, 0))
        assert(c:sendto("by name", "udp-peer.test", s:port()))
        print(s:recvfrom())
        assert(c:connect("udp-peer.test", s:port()))
        assert(c:send("connected by name"))
        print(s:recv())
        print(c:sendto("x", "nowhere.invalid", 9))'
    assert_line --index 0 --regexp '^by name	127\.0\.0\.1	[0-9]+$'
    assert_line --index 1 "connected by name"
    assert_line --index 2 --regexp '^nil	nowhere\.invalid: .+	-?[0-9]+$'
    stderr_has "on=resolve:udp-peer.test"
}

@test "a lookup done but not yet resumed when its task is cancelled frees its answer (ASan: no leak)" {
    # b's lookup ends first in most rounds: it cancels tasks whose lookups ended with it
    run -0 --separate-stderr with_hosts timeout 60 "$ASYNCRUN" -e '
        local s <close> = assert(async.udp.bind("127.0.0.1", 0))
        local cancelled = 0
        for _ = 1, 50 do
          local ts = {}
          local b = async.spawn(function()
            assert(s:sendto("x", "udp-peer.test", 9))
            for i = 1, #ts do ts[i]:cancel() end
          end)
          for i = 1, 20 do ts[i] = async.spawn(s.sendto, s, "x", "udp-peer.test", 9) end
          b:await()
          for i = 1, 20 do
            if not pcall(ts[i].await, ts[i]) then cancelled = cancelled + 1 end
          end
        end
        print(cancelled > 0)'
    assert_output "true"
    assert_equal "$stderr" ""
}

@test "lookups that never answer: cancelled and timed out at once; nothing left open" {
    # The cancelled tasks hold nothing; the lookups themselves go on in the resolver's threads
    # (with glibc's socket to the name server each) until getaddrinfo gives up (2 s per query).
    DNS_TIMEOUT=2 run -0 --separate-stderr with_silent_dns timeout 90 "$ASYNCRUN" --strict -e '
        local stat <close> = assert(io.open("/proc/self/stat"))
        local pid = stat:read("n")
        local function fds() -- io.popen: the same one pipe of its own each time
          local ls <close> = assert(io.popen("ls /proc/" .. pid .. "/fd"))
          local n = 0
          for _ in ls:lines() do n = n + 1 end
          return n
        end
        assert(async.resolve("127.0.0.1")) -- the resolver pool is started (its wake-up fd)
        local before = fds()
        local s = assert(async.udp.bind("127.0.0.1", 0))
        local tasks = {}
        for i = 1, 6 do
          tasks[i] = async.spawn(function()
            if i % 3 == 0 then return async.udp.bind("slow" .. i .. ".example.com", 0) end
            if i % 3 == 1 then return s:sendto("x", "slow" .. i .. ".example.com", 53) end
            return s:connect("slow" .. i .. ".example.com", 53)
          end)
        end
        async.sleep(0.1)
        for i = 1, 6 do tasks[i]:cancel() end
        local cancelled = 0
        for i = 1, 6 do
          local ok, err = pcall(tasks[i].await, tasks[i])
          if not ok and async.is_cancelled(err) then cancelled = cancelled + 1 end
        end
        local ok, err = pcall(async.timeout, 0.1, s.sendto, s, "x", "slow.example.com", 53)
        print("cancelled", cancelled, "timeout", async.is_timeout(err))
        s:close()
        local n
        for _ = 1, 600 do -- until the abandoned lookups have ended
          n = fds() - before
          if n == 0 then break end
          async.sleep(0.1)
        end
        print("descriptors", n)'
    assert_line --index 0 "cancelled	6	timeout	true"
    assert_line --index 1 "descriptors	0"
    assert_equal "$stderr" ""
}

@test "trace and dumps show a task waiting in recv; --strict and --debug name a socket left open" {
    run -124 --separate-stderr "$ASYNCRUN" --timeout=0.3 --trace -e '
        local s = assert(async.udp.bind("127.0.0.1", 0))
        s:recvfrom()'
    [[ $stderr =~ on=recv:([0-9]+) ]] || fail "no on=recv:FD in the trace: $stderr"
    fd=${BASH_REMATCH[1]}
    stderr_has "waiting on recv:$fd"
    run -1 --separate-stderr "$ASYNCRUN" --strict -e '
        local s = assert(async.udp.bind("127.0.0.1", 0))
        local t = async.spawn(function() return s:recv() end)
        async.sleep(0.01)
        s:close()
        print(t:await())
        local kept = assert(async.udp.bind("127.0.0.1", 0))
        print(kept)'
    assert_line --index 0 "nil	closed"
    assert_line --index 1 --regexp '^udp \(fd [0-9]+\)$'
    fd=${lines[1]//[!0-9]/}
    assert_equal "$stderr" "asyncrun: strict: udp (fd $fd) was left open; shutdown closed it"
    run -0 --separate-stderr "$ASYNCRUN" --debug -e 'print(assert(async.udp.bind(nil, 0)))'
    fd=${output//[!0-9]/}
    stderr_has "asyncrun: debug: udp (fd $fd) was left open; shutdown closed it"
}

@test "shutdown closes a socket a task still waits on; SIGTERM ends a UDP server at once" {
    start_bg "$ASYNCRUN" -e '
        local s = assert(async.udp.bind("127.0.0.1", 0))
        print(s:port()) io.stdout:flush()
        while true do s:recvfrom() end'
    first_line > /dev/null
    kill -TERM "$bgpid"
    status=0
    wait "$bgpid" || status=$?
    assert_equal "$status" 143
    run -1 --separate-stderr "$ASYNCRUN" -e '
        local s = assert(async.udp.bind("127.0.0.1", 0))
        async.spawn(function() s:recvfrom() end)
        async.sleep(0)
        error("main fails")'
    stderr_has "main fails"
}

@test "valgrind finds no leak or error in UDP traffic, a cancelled recv, close waking a recv, shutdown" {
    command -v valgrind >/dev/null || skip "valgrind is not installed"
    [[ "$ASYNCRUN" != *asan* ]] || skip "valgrind does not run sanitizer builds"
    # numeric hosts only: a lookup still running in a resolver thread at exit is glibc's
    s=$(script <<'EOF2'
local a <close> = assert(async.udp.bind("127.0.0.1", 0))
local b = assert(async.udp.bind(nil, 0))
for i = 1, 10 do assert(a:sendto(("x"):rep(i * 1000), "127.0.0.1", b:port())) end
for i = 1, 10 do assert(#b:recvfrom() == i * 1000) end
assert(b:connect("127.0.0.1", a:port()))
assert(b:send("hi"))
assert(a:recv() == "hi")
print(a:sendto(("y"):rep(70000), "localhost", b:port()))
local t = async.spawn(function() return a:recvfrom() end)
async.sleep(0)
t:cancel()
print(pcall(t.await, t))
t = async.spawn(function() return b:recv() end)
async.sleep(0)
b:close()
print(t:await())
local left = assert(async.udp.bind("127.0.0.1", 0))
async.spawn(function() return left:recvfrom() end)
async.sleep(0)
EOF2
)
    run -0 valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
        --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=9 "$ASYNCRUN" "$s"
    assert_line --index 0 "nil	Message too long	90"
    assert_line --index 1 "false	cancelled"
    assert_line --index 2 "nil	closed"
    refute_output --partial "=="
}
