#!/usr/bin/env bats
# async.tls against real peers (SPEC §4): openssl s_server (SNI, verification) and
# s_client, curl --cacert against an asyncrun TLS server, a Python STARTTLS server (ssl
# module), Python peers that reset mid-handshake, speak plain text or send garbage; libssl
# loaded on first use only; the trace naming handshake waits. Certificates are made with
# `openssl req` once per file. The in-process API tests are in tests/lua/tls.lua.

load helpers

setup_file() {
    local d=$BATS_FILE_TMPDIR
    (
        set -e
        cd "$d"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
            -subj /CN=TestCA -addext basicConstraints=critical,CA:TRUE \
            -addext keyUsage=critical,keyCertSign -keyout ca.key -out ca.pem
        for leaf in localhost:DNS:localhost,IP:127.0.0.1 wronghost:DNS:wrong.example; do
            name=${leaf%%:*}
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$name" \
                -keyout "$name.key" -out "$name.csr"
            printf 'subjectAltName=%s\n' "${leaf#*:}" > "$name.ext"
            openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
                -extfile "$name.ext" -out "$name.pem"
        done
    ) > "$d/certs.log" 2>&1
}

setup() {
    peers_setup
    command -v openssl >/dev/null || skip "openssl is not installed"
    [ -s "$BATS_FILE_TMPDIR/localhost.pem" ] || fail "certificates: $(cat "$BATS_FILE_TMPDIR/certs.log")"
    C=$BATS_FILE_TMPDIR
    export CA=$C/ca.pem CERT=$C/localhost.pem KEY=$C/localhost.key
}

teardown() {
    kill_bg
}

# Waits (up to 10 s) for a line of file $1 matching the sed regex $2 with one group; prints
# the group (a port).
port_from() {
    local i p
    for ((i = 0; i < 500; i++)); do
        p=$(sed -n "s/$2/\1/p" "$1" 2>/dev/null | head -1)
        [ -n "$p" ] && { echo "$p"; return 0; }
        kill -0 "$bgpid" 2>/dev/null || { echo "the background process ended: $(cat "$BATS_TEST_TMPDIR/bg.err" "$1")" >&2; return 1; }
        sleep 0.02
    done
    echo "no port in $1 after 10 s" >&2
    return 1
}

# An asyncrun TLS server on 127.0.0.1 (cert for localhost) running the handler body $1 on
# stream s; prints its port first, serves until SIGTERM.
tls_server() {
    script server.lua <<EOF
local srv = assert(async.tls.listen("127.0.0.1", 0, function(s)
$1
end, { cert = os.getenv("CERT"), key = os.getenv("KEY") }))
print(srv:port())
io.stdout:flush()
async.signal("TERM"):wait()
srv:close()
EOF
}

@test "openssl s_server: SNI picks its certificate, verified against cafile, lines both ways" {
    start_bg openssl s_server -accept 127.0.0.1:0 -rev -naccept 2 \
        -cert "$C/wronghost.pem" -key "$C/wronghost.key" \
        -servername localhost -cert2 "$CERT" -key2 "$KEY"
    port=$(port_from "$BATS_TEST_TMPDIR/bg.out" '^ACCEPT .*:\([0-9]*\)$')
    PORT=$port run -0 --separate-stderr timeout 20 "$ASYNCRUN" -e '
        local port = tonumber(os.getenv("PORT"))
        -- a name s_server has no certificate for: it presents wrong.example
        print(async.tls.connect("127.0.0.1", port, { cafile = os.getenv("CA"), servername = "127.0.0.1" }))
        local s = assert(async.tls.connect("localhost", port, { cafile = os.getenv("CA") }))
        s:write("hello tls\n")
        print(s:read("l"))
        print(s:close())'
    assert_output "nil	TLS handshake: certificate verify failed: IP address mismatch	71
slt olleh
true"
}

@test "openssl s_client verifies an asyncrun TLS server and gets its answer" {
    start_bg "$ASYNCRUN" "$(tls_server 's:write("you said: ", s:read("l"), "\n")')"
    port=$(port_from "$BATS_TEST_TMPDIR/bg.out" '^\([0-9][0-9]*\)$')
    run -0 --separate-stderr timeout 20 openssl s_client -connect "127.0.0.1:$port" \
        -servername localhost -verify_hostname localhost -CAfile "$CA" -verify_return_error \
        -quiet <<< "hello"
    assert_output "you said: hello"
    # a client trusting nobody fails; the server goes on
    run timeout 20 openssl s_client -connect "127.0.0.1:$port" -verify_return_error \
        -CAfile /dev/null -quiet <<< "x"
    [ "$status" -ne 0 ]
    run -0 --separate-stderr timeout 20 openssl s_client -connect "127.0.0.1:$port" \
        -CAfile "$CA" -verify_return_error -quiet <<< "again"
    assert_output "you said: again"
    kill -TERM "$bgpid"
    wait "$bgpid"
}

@test "curl --cacert fetches from an asyncrun TLS HTTP responder; 100 at once" {
    command -v curl >/dev/null || skip "curl is not installed"
    start_bg "$ASYNCRUN" "$(tls_server '
  local request = s:read("l")
  repeat local h = s:read("l") until not h or h == "\r"
  local body = "you asked for " .. request:match("^GET (%S+)") .. "\n"
  s:write("HTTP/1.1 200 OK\r\nContent-Length: ", #body, "\r\nConnection: close\r\n\r\n", body)')"
    port=$(port_from "$BATS_TEST_TMPDIR/bg.out" '^\([0-9][0-9]*\)$')
    run -0 --separate-stderr curl -sS --max-time 20 --cacert "$CA" "https://localhost:$port/hello"
    assert_output "you asked for /hello"
    run -60 --separate-stderr curl -sS --max-time 20 "https://localhost:$port/hello"
    curls=()
    for i in $(seq 1 100); do
        curl -sS --max-time 60 --cacert "$CA" "https://localhost:$port/n$i" > "$BATS_TEST_TMPDIR/c$i" &
        curls+=($!)
    done
    wait "${curls[@]}"
    for i in $(seq 1 100); do
        [ "$(cat "$BATS_TEST_TMPDIR/c$i")" = "you asked for /n$i" ] || fail "curl $i: $(cat "$BATS_TEST_TMPDIR/c$i")"
    done
    kill -TERM "$bgpid"
    wait "$bgpid"
}

@test "STARTTLS against a Python server (ssl module): wrap after the plain-text exchange" {
    start_bg python3 -c '
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[1], sys.argv[2])
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(4)
print(l.getsockname()[1], flush=True)
c, _ = l.accept()
f = c.makefile("rwb")
f.write(b"220 ready\r\n"); f.flush()
assert f.readline() == b"STARTTLS\r\n"
f.write(b"220 go ahead\r\n"); f.flush()
t = ctx.wrap_socket(c, server_side=True)
g = t.makefile("rwb")
line = g.readline()
g.write(b"secure: " + line); g.flush()
t.unwrap()
print("close_notify received", flush=True)' "$CERT" "$KEY"
    port=$(port_from "$BATS_TEST_TMPDIR/bg.out" '^\([0-9][0-9]*\)$')
    PORT=$port run -0 --separate-stderr timeout 20 "$ASYNCRUN" -e '
        local s = assert(async.tcp.connect("127.0.0.1", tonumber(os.getenv("PORT"))))
        print(s:read("l"))
        s:write("STARTTLS\r\n")
        print(s:read("l"))
        assert(async.tls.wrap(s, { servername = "localhost", cafile = os.getenv("CA") }))
        s:write("hello\n")
        print(s:read("l"))
        print(s:close())'
    assert_output "220 ready"$'\r'"
220 go ahead"$'\r'"
secure: hello
true"
    wait "$bgpid"
    assert_equal "$(tail -1 "$BATS_TEST_TMPDIR/bg.out")" "close_notify received"
}

@test "a peer that resets mid-handshake or speaks plain text: failures as values" {
    start_bg python3 -c '
import socket, struct
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(4)
print(l.getsockname()[1], flush=True)
c, _ = l.accept(); c.recv(5)   # part of the ClientHello, then a reset
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); c.close()
c, _ = l.accept(); c.recv(4096)
c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"); c.recv(4096); c.close()'
    port=$(port_from "$BATS_TEST_TMPDIR/bg.out" '^\([0-9][0-9]*\)$')
    PORT=$port run -0 --separate-stderr timeout 20 "$ASYNCRUN" -e '
        local port = tonumber(os.getenv("PORT"))
        print(async.tls.connect("localhost", port, { cafile = os.getenv("CA") }))
        print(async.tls.connect("localhost", port, { cafile = os.getenv("CA") }))
        print("still running")'
    assert_output "nil	TLS handshake: Connection reset by peer	104
nil	TLS handshake: wrong version number	71
still running"
}

@test "an asyncrun TLS server survives clients that hang up, reset or send garbage in the handshake" {
    start_bg "$ASYNCRUN" "$(tls_server 's:write("ok\n")')"
    port=$(port_from "$BATS_TEST_TMPDIR/bg.out" '^\([0-9][0-9]*\)$')
    run -0 timeout 20 python3 -c '
import socket, struct, sys
port = int(sys.argv[1])
for i in range(30):
    s = socket.create_connection(("127.0.0.1", port))
    if i % 3 == 0:
        s.close()                                   # hang up at once
    elif i % 3 == 1:                                # a record header, then garbage
        s.sendall(b"\x16\x03\x01\x02\x00" + b"garbage" * 80)
        s.recv(4096); s.close()
    else:                                           # the start of a ClientHello, then a reset
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); s.close()
print("done")' "$port"
    assert_output "done"
    run -0 --separate-stderr timeout 20 openssl s_client -connect "127.0.0.1:$port" \
        -CAfile "$CA" -verify_return_error -quiet < /dev/null
    assert_output "ok"
    kill -0 "$bgpid"
    kill -TERM "$bgpid"
    wait "$bgpid"
}

@test "libssl is loaded on first use only; missing, it is named with the package to install" {
    run -0 "$ASYNCRUN" -e '
        local function mapped() return io.open("/proc/self/maps"):read("a"):find("libssl", 1, true) ~= nil end
        print(mapped())
        local s = async.tcp.listen("127.0.0.1", 0, function() end)
        print(mapped())
        print(async.tls.connect("127.0.0.1", s:port(), { cafile = "/nonexistent.pem" }))
        print(mapped())
        s:close()'
    assert_output "false
false
nil	/nonexistent.pem: No such file or directory	2
true"
    ASYNCRUN_DL_HIDE=libssl.so.3 run -1 --separate-stderr "$ASYNCRUN" -e '
        print(pcall(async.tls.connect, "localhost", 1))
        print("goes on")
        async.tls.listen(nil, 0, function() end, { cert = "c", key = "k" })'
    assert_output "false	asyncrun: async.tls needs libssl (libssl.so.3: hidden by ASYNCRUN_DL_HIDE); install libssl3
goes on"
    stderr_has "async.tls needs libssl (libssl.so.3: hidden by ASYNCRUN_DL_HIDE); install libssl3"
}

@test "the trace shows a task waiting in a handshake and names TLS streams" {
    start_bg python3 -c '
import socket, time
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(4)
print(l.getsockname()[1], flush=True)
c, _ = l.accept(); time.sleep(30)'
    port=$(port_from "$BATS_TEST_TMPDIR/bg.out" '^\([0-9][0-9]*\)$')
    PORT=$port run -0 --separate-stderr timeout 20 "$ASYNCRUN" --trace -e '
        local ok, e = pcall(async.timeout, 3, async.tls.connect, "127.0.0.1", tonumber(os.getenv("PORT")), { insecure = true })
        print(ok, async.is_timeout(e))'
    assert_output "false	true"
    [[ $stderr =~ event=suspend\ task=1\ name=main\ on=handshake:[0-9]+ ]] || fail "no handshake wait in: $stderr"
    start_bg "$ASYNCRUN" "$(tls_server 's:read("a")')"
    port=$(port_from "$BATS_TEST_TMPDIR/bg.out" '^\([0-9][0-9]*\)$')
    PORT=$port run -1 --separate-stderr timeout 20 "$ASYNCRUN" --strict -e '
        s = assert(async.tls.connect("localhost", tonumber(os.getenv("PORT")), { cafile = os.getenv("CA") }))
        print(s)'
    assert_output --regexp '^stream \(tls, fd [0-9]+\)$'
    [[ $stderr =~ tls\ \(fd\ [0-9]+\) ]] || fail "--strict does not name the TLS stream: $stderr"
    kill -TERM "$bgpid"
    wait "$bgpid"
}

@test "valgrind finds no leak or error in TLS exchanges, failures and a cancelled handshake" {
    command -v valgrind >/dev/null || skip "valgrind is not installed"
    [[ "$ASYNCRUN" != *asan* ]] || skip "valgrind does not run sanitizer builds"
    run --separate-stderr timeout 300 valgrind -q --leak-check=full \
        --show-leak-kinds=definite,indirect,possible \
        --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=9 "$ASYNCRUN" -e '
        local srv = assert(async.tls.listen("127.0.0.1", 0, function(s)
          for line in s:lines() do s:write("echo: ", line, "\n") end
        end, { cert = os.getenv("CERT"), key = os.getenv("KEY") }))
        local s = assert(async.tls.connect("localhost", srv:port(), { cafile = os.getenv("CA") }))
        s:write("hello\n")
        print(s:read("l"))
        s:close()
        print(async.tls.connect("localhost", srv:port()))
        print(async.tls.connect("localhost", srv:port(), { cafile = "/nonexistent.pem" }))
        print(pcall(async.timeout, 0.001, async.tls.connect, "127.0.0.1", srv:port(), { insecure = true }))
        srv:close()'
    [ "$status" -eq 0 ] || fail "status $status: $stderr"
    assert_output "echo: hello
nil	TLS handshake: certificate verify failed: unable to get local issuer certificate	71
nil	/nonexistent.pem: No such file or directory	2
false	timeout"
    assert_equal "$stderr" ""
}
