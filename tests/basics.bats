#!/usr/bin/env bats
# The smallest promises: it runs a script, and the demo example interleaves two tasks.

load helpers

@test "runs a script and passes its arguments as ..." {
    s=$(script <<'EOF2'
print("args", ...)
EOF2
)
    run -0 "$ASYNCRUN" "$s" a b
    assert_output "args	a	b"
}

@test "the demo example interleaves two tasks in time order" {
    run -0 "$ASYNCRUN" "$BATS_TEST_DIRNAME/../examples/hello.lua"
    assert_output "tick 1
tock 1
tick 2
tock 2
tick 3
tick done	tock done"
}
