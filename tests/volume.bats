#!/usr/bin/env bats
# Volume: a filter in a shell pipeline streams 100 MB through async.stdin/stdout in bounded
# memory; an echo server serves 1,000 concurrent clients of 100 lines each, none lost. And
# asyncrun inside a shell test suite, as the README shows it.

load helpers

@test "producer | asyncrun filter.lua | consumer streams 100 MB in bounded memory" {
    command -v /usr/bin/time >/dev/null || skip "/usr/bin/time is not installed (package time)"
    s=$(script filter.lua <<'EOF2'
-- upper-cases what passes through, chunk by chunk
local n = 0
while true do
  local chunk = async.stdin:read_some(65536)
  if not chunk then break end
  n = n + #chunk
  async.stdout:write(chunk:upper())
end
io.stderr:write("filtered ", n, "\n")
EOF2
)
    run -0 bash -c 'head -c 104857600 /dev/zero | tr "\0" "a" |
        /usr/bin/time -f "rss %M" "$1" "$2" | tr -d "A" | wc -c' _ "$ASYNCRUN" "$s"
    assert_line "filtered 104857600"
    assert_line "0"   # every byte came out upper-cased
    rss=$(sed -n 's/^rss //p' <<<"$output")
    # AddressSanitizer keeps freed memory in quarantine: bound the normal build only
    [[ "$ASYNCRUN" == *asan* ]] || [ "$rss" -lt 65536 ] || fail "peak RSS ${rss} KiB for 100 MB streamed"
}

@test "an echo server serves 1,000 concurrent clients of 100 lines each, none lost" {
    [ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge 2200 ] ||
        skip "the hard descriptor limit is below 2,200"
    ulimit -n 2200
    s=$(script <<'EOF2'
local srv = assert(async.tcp.listen("127.0.0.1", 0, function(s)
  while true do
    local line = s:read("L")
    if not line then return end
    s:write(line)
  end
end))
local clients = {}
for c = 1, 1000 do
  clients[c] = async.spawn(function()
    local s = assert(async.tcp.connect("127.0.0.1", srv:port()))
    local ok = 0
    for i = 1, 100 do
      s:write("client ", c, " line ", i, "\n")
      if s:read("l") == ("client " .. c .. " line " .. i) then ok = ok + 1 end
    end
    s:close()
    return ok
  end)
end
local total = 0
for _, ok in ipairs(async.gather(clients)) do total = total + ok end
srv:close()
srv:wait()
print("echoed " .. total)
EOF2
)
    run -0 timeout 120 "$ASYNCRUN" "$s"
    assert_output "echoed 100000"
}

@test "in a bats suite: --timeout bounds a hang, ASYNCRUN_TRACE explains a failure" {
    # the "|" keeps this file's preprocessor from taking the inner tests for its own
    sed 's/^|//' > "$BATS_TEST_TMPDIR/suite.bats" <<EOF2
|@test "a service answers" {
|    run "$ASYNCRUN" --timeout=5 -e 'async.sleep(0.01) print("ok")'
|    [ "\$status" -eq 0 ]
|}
|@test "a hang is cut short" {
|    run "$ASYNCRUN" --timeout=0.3 -e 'async.sleep(60)'
|    [ "\$status" -eq 124 ]
|}
|@test "a deadlock fails the test with a trace" {
|    run "$ASYNCRUN" -e 'local m = async.current() async.spawn(function() m:await() end):await()'
|    echo "\$output"
|    [ "\$status" -eq 0 ]
|}
EOF2
    # a clean environment: the suite runs as a user would run it, not inside this bats
    local unset=()
    for v in $(compgen -e | grep '^BATS_'); do unset+=(-u "$v"); done
    run -1 env "${unset[@]}" ASYNCRUN_TRACE=text bats "$BATS_TEST_TMPDIR/suite.bats"
    assert_line "ok 1 a service answers"
    assert_line "ok 2 a hang is cut short"
    assert_line "not ok 3 a deadlock fails the test with a trace"
    assert_output --partial "trace: "
    assert_output --partial "event=suspend task=1 name=main on=task:2"
    assert_output --partial "asyncrun: deadlock:"
}
