#!/usr/bin/env bats
# Lua 5.4.4's own test files (testes/ of github.com/lua/lua at tag v5.4.4) under asyncrun: a
# task's code behaves as Lua's main thread, so all 24 pass, as /work/shared/lua-testes.sh
# runs them. Needs a clone with its tags: $LUA_REPO (its git directory), else
# /work/.mirror/lua+lua/repo or ../.mirror/lua+lua/repo beside this repository; skipped
# with a message when there is none. The 24 files take under a second (~2 s under ASan, so
# the test runs in both passes of make check).

load helpers

lua_repo() {
    local d
    for d in "${LUA_REPO:-}" /work/.mirror/lua+lua/repo \
        "$BATS_TEST_DIRNAME/../../.mirror/lua+lua/repo"; do
        [ -n "$d" ] && git --git-dir="$d" rev-parse -q --verify 'v5.4.4^{commit}' >/dev/null 2>&1 \
            && { printf '%s\n' "$d"; return 0; }
    done
    return 1
}

@test "Lua 5.4.4's test files pass: 24 of 24" {
    local repo f failed=() out
    repo=$(lua_repo) || skip "no clone of lua/lua with tag v5.4.4 (set LUA_REPO to its git directory)"
    git --git-dir="$repo" archive v5.4.4 testes | tar -x -C "$BATS_TEST_TMPDIR"
    cd "$BATS_TEST_TMPDIR/testes"
    local files=(calls.lua closure.lua coroutine.lua errors.lua events.lua goto.lua
        literals.lua locals.lua nextvar.lua pm.lua sort.lua strings.lua tpack.lua utf8.lua
        vararg.lua math.lua constructs.lua attrib.lua db.lua gc.lua files.lua cstack.lua
        bitwise.lua main.lua)
    [ "${#files[@]}" -eq 24 ]
    for f in "${files[@]}"; do
        if ! out=$(timeout 300 "$ASYNCRUN" -e "_port=true _soft=true" "$f" 2>&1); then
            failed+=("$f: $(printf '%s\n' "$out" | grep -v '^\s*$' | tail -2 | tr '\n' ' ')")
        fi
    done
    [ "${#failed[@]}" -eq 0 ] || fail "$(printf '%s\n' "${failed[@]}")"
}
