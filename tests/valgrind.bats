#!/usr/bin/env bats
# Memory hygiene under valgrind: a run that spawns, cancels and fails tasks, forwards
# suspensions through a generator and leaves tasks for shutdown frees everything.

load helpers

@test "valgrind finds no leak or error in a run that spawns, cancels and fails tasks" {
    command -v valgrind >/dev/null || skip "valgrind is not installed"
    [[ "$ASYNCRUN" != *asan* ]] || skip "valgrind does not run sanitizer builds"
    s=$(script <<'EOF2'
local ts = {}
for i = 1, 50 do
  ts[i] = async.spawn(function(k)
    async.sleep(0.001 * (k % 5))
    if k % 7 == 0 then error("fail " .. k) end
    return k
  end, i)
end
for i = 1, 50, 3 do ts[i]:cancel("why") end
for i = 1, 50 do pcall(ts[i].await, ts[i]) end
local g = coroutine.wrap(function()
  for i = 1, 3 do async.sleep(0.001) coroutine.yield(i) end
end)
g() g()
async.spawn(function() async.sleep(5) end)
async.spawn(function() error("late") end)
async.sleep(0)
EOF2
)
    run -1 valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
        --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=9 "$ASYNCRUN" "$s"
    assert_output --partial "failed and nobody awaited it"
    refute_output --partial "=="
}
