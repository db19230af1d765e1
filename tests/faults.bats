#!/usr/bin/env bats
# Faults a run must survive without crashing or hanging: a full disk on stdout, errors thrown
# from __gc and __close, errors inside error handlers, a peer resetting a connection while a
# write waits, a task refusing its cancellation, and running out of Lua memory.

load helpers

setup() {
    clean_environment
}

@test "stdout on a full device (ENOSPC): a failure is a value, and what print lost fails the run" {
    [ -w /dev/full ] || skip "/dev/full is not available"
    run -1 --separate-stderr bash -c '"$1" -e "
        local ok, err, code = async.stdout:write(string.rep(\"x\", 100000))
        io.stderr:write(tostring(ok), \" \", tostring(err), \" \", tostring(code), \"\\n\")
        print(\"print returns nothing: its failure is reported at exit\")" >/dev/full' _ "$ASYNCRUN"
    assert_equal "${stderr_lines[0]}" "nil No space left on device 28"
    assert_equal "${stderr_lines[1]}" "asyncrun: stdout: No space left on device"
}

@test "an error thrown from __gc is a warning (with -W), never a crash" {
    run -0 --separate-stderr "$ASYNCRUN" -W -e '
        setmetatable({}, {__gc = function() error("in gc") end})
        collectgarbage() collectgarbage()
        async.sleep(0.01) print("alive")'
    assert_output "alive"
    [[ "$stderr" == *"in gc"* ]] || fail "stderr: $stderr"
}

@test "an error thrown from __close in a task fails that task with it" {
    run -0 "$ASYNCRUN" -e '
        local t = async.spawn(function()
          local _ <close> = setmetatable({}, {__close = function() error("in close") end})
          async.sleep(0.01)
        end)
        local ok, err = pcall(t.await, t)
        print(ok, (tostring(err):gsub("^.-: ", "")))'
    assert_output "false	in close"
}

@test "errors inside error handlers, also from a suspended task, are reported as Lua does" {
    run -0 "$ASYNCRUN" -e '
        print(xpcall(error, function() error("handler fails") end, "x"))
        local t = async.spawn(function()
          return xpcall(function() async.sleep(0.01) error("deep") end,
                        function(m) return "handled: " .. m end)
        end)
        print(t:await())'
    assert_line --index 0 --regexp '^false	'
    assert_line --index 1 --regexp '^false	handled: .*deep$'
}

@test "a peer resetting the connection while a write waits: the write returns an error" {
    run -0 timeout 30 "$ASYNCRUN" -e '
        local srv = assert(async.tcp.listen("127.0.0.1", 0, function(s)
          s:read(1)          -- take one byte, then vanish without reading the rest
          s:close()
        end))
        local c = assert(async.tcp.connect("127.0.0.1", srv:port()))
        local ok, err, code
        for _ = 1, 100 do  -- far more than the socket buffers hold
          ok, err, code = c:write(string.rep("x", 1 << 20))
          if not ok then break end
        end
        print(ok, err, code)
        srv:close()'
    assert_output --regexp '^nil	(Broken pipe	32|Connection reset by peer	104)$'
}

@test "a task refusing its cancellation is given up after the grace period" {
    run -0 --separate-stderr timeout 30 "$ASYNCRUN" -e '
        async.spawn(function() while true do pcall(async.sleep, 0.05) end end)
        async.sleep(0.01) print("main done")'
    assert_output "main done"
    [[ "$stderr" == *"did not finish after cancellation at shutdown"* ]] || fail "stderr: $stderr"
}

@test "out of Lua memory: a clean 'not enough memory', exit 1, for main or a task" {
    run -1 --separate-stderr "$ASYNCRUN" --memlimit=4M -e 'local t = {} for i = 1, 1e7 do t[i] = {i} end'
    [[ "$stderr" == *"not enough memory"* ]] || fail "stderr: $stderr"
    run -0 "$ASYNCRUN" --memlimit=4M -e '
        local t = async.spawn(function() local s = {} for i = 1, 1e7 do s[i] = {i} end end)
        print(pcall(t.await, t)) print("alive")'
    assert_output "false	not enough memory
alive"
}
