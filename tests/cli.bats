#!/usr/bin/env bats
# The command line (SPEC §1): options, usage errors, -e/-l, LUA_INIT, `arg`, stdin scripts,
# the shebang, --check, and the text trace (§5) as a shell user sees them.

load helpers

setup() {
    clean_environment
}

# Fails unless the file $1 has a line matching the extended regex $2.
file_has_line() {
    grep -Eq -- "$2" "$1" || fail "no line of $1 matches: $2
-- $1 --
$(cat "$1")"
}

# A module for -l: prints when loaded and returns a table naming itself.
make_module() {
    mkdir -p "$BATS_TEST_TMPDIR/mods"
    cat > "$BATS_TEST_TMPDIR/mods/$1.lua" <<EOF
print("loading $1")
return { name = "$1" }
EOF
}

# ---------------------------------------------------------------- version and help

@test "-v prints 'asyncrun X.Y.Z (Lua 5.4.N, libev 4.N)' on stdout and exits 0" {
    run -0 --separate-stderr "$ASYNCRUN" -v
    assert_output --regexp '^asyncrun [0-9]+\.[0-9]+\.[0-9]+ \(Lua 5\.4\.[0-9]+, libev 4\.[0-9]+\)$'
    assert_equal "$stderr" ""
}

@test "--version prints the same version line as -v" {
    run -0 --separate-stderr "$ASYNCRUN" -v
    short=$output
    run -0 --separate-stderr "$ASYNCRUN" --version
    assert_output --regexp '^asyncrun [0-9]+\.[0-9]+\.[0-9]+ \(Lua 5\.4\.[0-9]+, libev 4\.[0-9]+\)$'
    assert_equal "$output" "$short"
}

@test "-h and --help print the usage on stdout, exit 0, no line over 80 columns" {
    for opt in -h --help; do
        run -0 --separate-stderr "$ASYNCRUN" "$opt"
        assert_equal "$stderr" ""
        [[ ${lines[0]} == "usage: asyncrun"* ]] || fail "$opt: first line is '${lines[0]}'"
        [ "${#lines[@]}" -gt 5 ] || fail "$opt: usage is only ${#lines[@]} lines"
        for line in "${lines[@]}"; do
            [ "${#line}" -le 80 ] || fail "$opt: line longer than 80 columns: $line"
        done
    done
}

@test "the usage mentions the main options" {
    run -0 "$ASYNCRUN" --help
    for opt in -e -l -E -v --check --trace --trace-file --timeout; do
        assert_output --partial "  $opt"
    done
}

# ---------------------------------------------------------------- usage errors

@test "an unknown long option exits 2 naming it, with a usage hint" {
    run -2 --separate-stderr "$ASYNCRUN" --frobnicate -e 'print("ran")'
    assert_output ""
    stderr_has "asyncrun: unrecognized option '--frobnicate'"
    stderr_has "Try 'asyncrun --help'"
}

@test "an unknown short option exits 2 naming it, with a usage hint" {
    run -2 --separate-stderr "$ASYNCRUN" -x -e 'print("ran")'
    assert_output ""
    stderr_has "asyncrun: unrecognized option '-x'"
    stderr_has "Try 'asyncrun --help'"
}

@test "a missing value exits 2 naming the option: --timeout, --trace-file, -e, -l last" {
    for opt in --timeout --trace-file -e -l; do
        run -2 --separate-stderr "$ASYNCRUN" "$opt"
        assert_output ""
        stderr_has "'$opt'"
        stderr_has "Try 'asyncrun --help'"
    done
}

@test "a bad --timeout value exits 2 naming the option and the value" {
    for v in abc -1 0 1x; do
        run -2 --separate-stderr "$ASYNCRUN" "--timeout=$v" -e 'print("ran")'
        assert_output ""
        stderr_has "--timeout"
        stderr_has "'$v'"
        stderr_has "Try 'asyncrun --help'"
    done
}

@test "an unknown trace format exits 2 naming the option and the format" {
    run -2 --separate-stderr "$ASYNCRUN" --trace=xml -e 'print("ran")'
    assert_output ""
    stderr_has "--trace"
    stderr_has "xml"
    stderr_has "Try 'asyncrun --help'"
}

@test "ASYNCRUN_TRACE with an unknown format exits 2 naming the variable" {
    ASYNCRUN_TRACE=bogus run -2 --separate-stderr "$ASYNCRUN" -e 'print("ran")'
    assert_output ""
    stderr_has "ASYNCRUN_TRACE"
    stderr_has "bogus"
}

@test "--memlimit takes a size with K, M or G; a bad size exits 2 naming it" {
    for opt in --memlimit=abc "--memlimit 12Q" --memlimit=-1 --memlimit=.5 --memlimit; do
        # shellcheck disable=SC2086 # "--memlimit 12Q" is meant to split
        run -2 --separate-stderr "$ASYNCRUN" $opt -e 'print("ran")'
        assert_output ""
        stderr_has "--memlimit"
    done
    for opt in --memlimit=64M "--memlimit 64m" --memlimit=1G --memlimit=100000000; do
        # shellcheck disable=SC2086
        run -0 "$ASYNCRUN" $opt -e 'print("ran")'
        assert_output "ran"
    done
}

@test "past --memlimit or ASYNCRUN_MEMLIMIT allocation fails cleanly: exit 1, no crash" {
    run -1 --separate-stderr "$ASYNCRUN" --memlimit=2M -e 'local t = {} for i = 1, 1e7 do t[i] = {i} end'
    stderr_has "not enough memory"
    ASYNCRUN_MEMLIMIT=2M run -1 --separate-stderr "$ASYNCRUN" -e 'local s = string.rep("x", 1e7)'
    stderr_has "not enough memory"
    ASYNCRUN_MEMLIMIT=abc run -2 --separate-stderr "$ASYNCRUN" -e 'print("ran")'
    stderr_has "ASYNCRUN_MEMLIMIT"
    run -0 "$ASYNCRUN" --memlimit=4M -e 'local w = async.spawn(function() local t = {} for i = 1, 1e7 do t[i] = {i} end end) print(pcall(w.await, w))'
    assert_output "false	not enough memory"
}

@test "--trace=chrome and --trace=html without --trace-file exit 2 naming the format" {
    for fmt in chrome html; do
        run -2 --separate-stderr "$ASYNCRUN" "--trace=$fmt" -e 'print("ran")'
        assert_output ""
        stderr_has "--trace=$fmt"
        stderr_has "--trace-file"
    done
}

@test "--trace takes its format only as =FORMAT: '--trace text' runs a script named text" {
    cd "$BATS_TEST_TMPDIR"
    printf 'print("the script called text")\n' > text
    run -0 --separate-stderr "$ASYNCRUN" --trace text
    assert_output "the script called text"
    stderr_has "event=loop-start"
}

# ---------------------------------------------------------------- -e and -l

@test "-e chunks run in command-line order, before the script" {
    s=$(script <<'EOF'
print("script")
EOF
)
    run -0 "$ASYNCRUN" -e 'print("one")' -e 'print("two")' -e'print("three")' "$s"
    assert_output "one
two
three
script"
}

@test "-e code runs in the main task: it may suspend" {
    run -0 "$ASYNCRUN" -e 'async.sleep(0.01) print(async.current().id, async.current().name)'
    assert_output "1	main"
}

@test "an error in an -e chunk exits 1 with '(command line):1:' on stderr" {
    run -1 --separate-stderr "$ASYNCRUN" -e 'error("bad chunk")' -e 'print("after")'
    assert_output ""
    [ "${stderr_lines[0]}" = "asyncrun: (command line):1: bad chunk" ] ||
        fail "first stderr line: ${stderr_lines[0]}"
}

@test "-l NAME requires the module into global NAME" {
    make_module mymod
    LUA_PATH="$BATS_TEST_TMPDIR/mods/?.lua;;" \
        run -0 "$ASYNCRUN" -l mymod -e 'print(mymod.name, package.loaded.mymod == mymod)'
    assert_output "loading mymod
mymod	true"
}

@test "-l G=NAME requires NAME into global G (and not into NAME)" {
    make_module mymod
    LUA_PATH="$BATS_TEST_TMPDIR/mods/?.lua;;" \
        run -0 "$ASYNCRUN" -l G=mymod -e 'print(G.name, mymod)'
    assert_output "loading mymod
mymod	nil"
}

@test "-l of a missing module exits 1 naming the module" {
    LUA_PATH="$BATS_TEST_TMPDIR/mods/?.lua" \
        run -1 --separate-stderr "$ASYNCRUN" -l nosuchmod -e 'print("ran")'
    assert_output ""
    stderr_has "module 'nosuchmod' not found"
}

@test "-e and -l run interleaved in command-line order" {
    make_module m1
    make_module m2
    s=$(script <<'EOF'
print("script", m1.name, g2.name)
EOF
)
    LUA_PATH="$BATS_TEST_TMPDIR/mods/?.lua;;" \
        run -0 "$ASYNCRUN" -e 'print("e1", m1)' -l m1 -e 'print("e2", m1.name, g2)' \
        -l g2=m2 -e 'print("e3", g2.name)' "$s"
    assert_output "e1	nil
loading m1
e2	m1	nil
loading m2
e3	m2
script	m1	m2"
}

@test "-l cjson loads Debian's lua-cjson" {
    run -0 "$ASYNCRUN" -l cjson -e 'print(cjson.encode({1,2}))'
    assert_output "[1,2]"
}

@test "require 'cjson' works from a script" {
    s=$(script <<'EOF'
local cjson = require "cjson"
print(cjson.encode(cjson.decode('{"a":[1,2,3]}').a))
EOF
)
    run -0 "$ASYNCRUN" "$s"
    assert_output "[1,2,3]"
}

@test "-W turns Lua warnings on" {
    run -0 --separate-stderr "$ASYNCRUN" -e 'warn("off")'
    assert_equal "$stderr" ""
    run -0 --separate-stderr "$ASYNCRUN" -W -e 'warn("on")'
    stderr_has "Lua warning: on"
}

# ---------------------------------------------------------------- LUA_INIT and -E

@test "LUA_INIT code runs before the -e chunks" {
    LUA_INIT='print("init")' run -0 "$ASYNCRUN" -e 'print("e")'
    assert_output "init
e"
}

@test "LUA_INIT=@file runs the file before the -e chunks" {
    printf 'print("init file")\n' > "$BATS_TEST_TMPDIR/init.lua"
    LUA_INIT="@$BATS_TEST_TMPDIR/init.lua" run -0 "$ASYNCRUN" -e 'print("e")'
    assert_output "init file
e"
}

@test "LUA_INIT_5_4 wins over LUA_INIT" {
    LUA_INIT_5_4='print("init 5.4")' LUA_INIT='print("plain init")' \
        run -0 "$ASYNCRUN" -e 'print("e")'
    assert_output "init 5.4
e"
}

@test "an error in LUA_INIT exits 1 naming LUA_INIT, nothing else runs" {
    LUA_INIT='error("init failed")' run -1 --separate-stderr "$ASYNCRUN" -e 'print("e")'
    assert_output ""
    stderr_has "asyncrun: LUA_INIT:1: init failed"
}

@test "-E ignores LUA_INIT and LUA_PATH" {
    make_module envmod
    LUA_INIT='print("init")' LUA_INIT_5_4='print("init 5.4")' \
        LUA_PATH="$BATS_TEST_TMPDIR/mods/?.lua;;" \
        run -0 "$ASYNCRUN" -E -e 'print("e", (pcall(require, "envmod")))'
    assert_output "e	false"
    # and without -E the same environment is used
    LUA_INIT='print("init")' LUA_PATH="$BATS_TEST_TMPDIR/mods/?.lua;;" \
        run -0 "$ASYNCRUN" -e 'print("e", (pcall(require, "envmod")))'
    assert_output "init
loading envmod
e	true"
}

# ---------------------------------------------------------------- arg and ...

@test "arg is laid out as lua does: script at 0, arguments after, options before" {
    s=$(script <<'EOF'
for i = -3, #arg do print(i, arg[i]) end
print("...", ...)
print("n", select("#", ...))
EOF
)
    run -0 "$ASYNCRUN" -e 'x=1' "$s" a b
    assert_output "-3	$ASYNCRUN
-2	-e
-1	x=1
0	$s
1	a
2	b
...	a	b
n	2"
}

@test "without a script arg[0] is the interpreter and the options follow, as in lua" {
    run -0 "$ASYNCRUN" -e 'print(arg[0], arg[1], arg[2], arg[-1], #arg)'
    assert_output "$ASYNCRUN	-e	print(arg[0], arg[1], arg[2], arg[-1], #arg)	nil	2"
}

@test "arguments after the script are the script's, even when they look like options" {
    s=$(script <<'EOF'
print(...)
EOF
)
    run -0 "$ASYNCRUN" "$s" -e 'print("not run")' --timeout=abc -v
    assert_output "-e	print(\"not run\")	--timeout=abc	-v"
}

@test "-- ends the options: a script named like an option runs" {
    s=$(script -dash.lua <<'EOF'
print("dash", ...)
EOF
)
    cd "$BATS_TEST_TMPDIR"
    run -0 "$ASYNCRUN" -- -dash.lua z
    assert_output "dash	z"
}

# ---------------------------------------------------------------- scripts from stdin, shebang

@test "'-' reads the script from stdin, with its arguments" {
    run -0 "$ASYNCRUN" - x y <<< 'print("stdin", arg[0], ...)'
    assert_output "stdin	-	x	y"
}

@test "'-' reads the script from a pipe" {
    run -0 bash -c 'echo "print(1)" | "$1" -' _ "$ASYNCRUN"
    assert_output "1"
}

@test "no script and no -e: a non-terminal stdin is run as the script" {
    run -0 bash -c 'echo "async.sleep(0.01) print(2)" | "$1"' _ "$ASYNCRUN"
    assert_output "2"
}

@test "a shebang first line is skipped and line numbers stay right" {
    s=$(script <<'EOF'
#!/usr/bin/env asyncrun
print("shebang", ...)
error("line three")
EOF
)
    run -1 --separate-stderr "$ASYNCRUN" "$s" a
    assert_output "shebang	a"
    stderr_has "$s:3: line three"
}

@test "an executable script with '#!/usr/bin/env asyncrun' runs directly" {
    s=$(script <<'EOF'
#!/usr/bin/env asyncrun
async.sleep(0.01)
print("direct", ...)
EOF
)
    chmod +x "$s"
    PATH="$(dirname "$ASYNCRUN"):$PATH" run -0 "$s" p q
    assert_output "direct	p	q"
}

# ---------------------------------------------------------------- --check

@test "--check on a valid script exits 0 without running it" {
    s=$(script <<EOF
local f = io.open("$BATS_TEST_TMPDIR/side-effect", "w")
f:write("ran")
f:close()
print("ran")
EOF
)
    run -0 --separate-stderr "$ASYNCRUN" --check "$s"
    assert_output ""
    assert_equal "$stderr" ""
    [ ! -e "$BATS_TEST_TMPDIR/side-effect" ] || fail "--check ran the script"
}

@test "--check does not run -e chunks or LUA_INIT either" {
    s=$(script <<'EOF'
print("script")
EOF
)
    LUA_INIT='print("init")' run -0 --separate-stderr "$ASYNCRUN" --check -e 'print("e")' "$s"
    assert_output ""
}

@test "--check on a syntax error exits 1 with 'asyncrun: FILE:LINE: ...'" {
    s=$(script <<'EOF'
local x = 1
x = = 2
print("ran")
EOF
)
    run -1 --separate-stderr "$ASYNCRUN" --check "$s"
    assert_output ""
    [[ ${stderr_lines[0]} == "asyncrun: $s:2: "* ]] || fail "stderr: $stderr"
}

@test "--check checks the -e chunks too" {
    s=$(script <<'EOF'
print("fine")
EOF
)
    run -1 --separate-stderr "$ASYNCRUN" --check -e 'print("ok")' -e 'x =' "$s"
    assert_output ""
    stderr_has "asyncrun: (command line):1:"
    run -0 --separate-stderr "$ASYNCRUN" --check -e 'print("ok")'
    assert_output ""
}

@test "--check reads a script from stdin with '-'" {
    run -1 --separate-stderr "$ASYNCRUN" --check - <<< 'x ='
    stderr_has "asyncrun: stdin:"
    run -0 --separate-stderr "$ASYNCRUN" --check - <<< 'print("not run")'
    assert_output ""
}

# ---------------------------------------------------------------- load failures

@test "a missing script exits 1 and names the file" {
    cd "$BATS_TEST_TMPDIR"
    run -1 --separate-stderr "$ASYNCRUN" nosuch.lua
    assert_output ""
    stderr_has "asyncrun: cannot open nosuch.lua"
}

@test "a syntax error in the script exits 1 naming the file and line, nothing runs" {
    s=$(script <<'EOF'
print("ran")
local = 3
EOF
)
    run -1 --separate-stderr "$ASYNCRUN" "$s"
    assert_output ""
    [[ ${stderr_lines[0]} == "asyncrun: $s:2: "* ]] || fail "stderr: $stderr"
}

# ---------------------------------------------------------------- --trace

# A script that produces every trace event the text format knows so far.
trace_script() {
    script <<'EOF'
local w = async.spawn(function()
  async.sleep(0.05)
  return 1
end)
w.name = "worker"
w:await()
local f = async.spawn(function() error("b o o m") end)
pcall(f.await, f)
async.spawn(function() async.sleep(100) end)
async.sleep(0.01)
print("main done")
EOF
}

@test "--trace writes text events to stderr, loop-start first and loop-close last" {
    s=$(trace_script)
    run -0 --separate-stderr "$ASYNCRUN" --trace "$s"
    assert_output "main done"
    [[ ${stderr_lines[0]} =~ ^trace:\ t=[0-9]+\.[0-9]+\ event=loop-start$ ]] ||
        fail "first line: ${stderr_lines[0]}"
    last=${stderr_lines[${#stderr_lines[@]}-1]}
    [[ $last =~ ^trace:\ t=[0-9]+\.[0-9]+\ event=loop-close\ wall=[0-9]+\.[0-9]+\ tasks=4$ ]] ||
        fail "last line: $last"
    for line in "${stderr_lines[@]}"; do
        [[ $line =~ ^trace:\ t=[0-9]+\.[0-9]+\ event=[a-z-]+ ]] || fail "not a trace line: $line"
    done
}

@test "--trace: spawn, suspend (sleep and task), done, fail, cancel and cancelled events" {
    s=$(trace_script)
    run -0 --separate-stderr "$ASYNCRUN" --trace "$s"
    t='^trace: t=[0-9]+\.[0-9]+'
    f=$BATS_TEST_TMPDIR/stderr
    printf '%s\n' "$stderr" > "$f"
    file_has_line "$f" "$t event=spawn task=2 name=[^ ]+ parent=1 at=$s:1$"
    file_has_line "$f" "$t event=suspend task=1 name=main on=task:2 ran=[0-9.]+ at=$s:6$"
    file_has_line "$f" "$t event=resume task=2 name=worker$"
    file_has_line "$f" "$t event=suspend task=2 name=worker on=sleep:0.05 ran=[0-9.]+ at=$s:2$"
    file_has_line "$f" "$t event=done task=2 name=worker wall=0\.[0-9]+ run=[0-9.]+$"
    file_has_line "$f" "$t event=fail task=3 name=task-3 error=\"$s:7: b o o m\"$"
    file_has_line "$f" "$t event=cancel task=4 name=task-4 by=shutdown$"
    file_has_line "$f" "$t event=cancelled task=4 name=task-4$"
    file_has_line "$f" "$t event=done task=1 name=main "
}

@test "--trace: the t= stamps never go backwards" {
    s=$(trace_script)
    run -0 --separate-stderr "$ASYNCRUN" --trace "$s"
    printf '%s\n' "$stderr" | awk '
        { sub(/^trace: t=/, ""); t = $1 + 0; if (t < prev) { print "backwards: " $0; bad = 1 } prev = t }
        END { exit bad }'
}

@test "without --trace there are no trace lines" {
    s=$(trace_script)
    run -0 --separate-stderr "$ASYNCRUN" "$s"
    assert_equal "$stderr" ""
}

@test "--trace-file=PATH writes the trace to PATH and nothing to stderr" {
    s=$(trace_script)
    tf=$BATS_TEST_TMPDIR/trace.txt
    run -0 --separate-stderr "$ASYNCRUN" --trace-file="$tf" "$s"
    assert_output "main done"
    assert_equal "$stderr" ""
    head -1 "$tf" | grep -Eq '^trace: t=[0-9.]+ event=loop-start$' || fail "$(cat "$tf")"
    tail -1 "$tf" | grep -Eq '^trace: t=[0-9.]+ event=loop-close wall=[0-9.]+ tasks=4$' ||
        fail "$(cat "$tf")"
    file_has_line "$tf" "event=spawn task=2 "
}

@test "--trace-file PATH (separate argument) works too" {
    s=$(trace_script)
    tf=$BATS_TEST_TMPDIR/trace.txt
    run -0 --separate-stderr "$ASYNCRUN" --trace-file "$tf" "$s"
    assert_output "main done"
    assert_equal "$stderr" ""
    tail -1 "$tf" | grep -Eq 'event=loop-close' || fail "$(cat "$tf")"
}

@test "--trace-file to an unwritable path exits 1 without running the script" {
    run -1 --separate-stderr "$ASYNCRUN" --trace-file="$BATS_TEST_TMPDIR/no/such/dir/t" \
        -e 'print("ran")'
    assert_output ""
    stderr_has "trace file"
}

@test "ASYNCRUN_TRACE=text acts like --trace" {
    s=$(trace_script)
    ASYNCRUN_TRACE=text run -0 --separate-stderr "$ASYNCRUN" "$s"
    assert_output "main done"
    [[ ${stderr_lines[0]} =~ ^trace:\ t=[0-9.]+\ event=loop-start$ ]] || fail "$stderr"
    stderr_has "event=cancel task=4 name=task-4 by=shutdown"
}

@test "ASYNCRUN_TRACE_FILE=PATH acts like --trace-file" {
    s=$(trace_script)
    tf=$BATS_TEST_TMPDIR/env-trace.txt
    ASYNCRUN_TRACE_FILE=$tf run -0 --separate-stderr "$ASYNCRUN" "$s"
    assert_equal "$stderr" ""
    tail -1 "$tf" | grep -Eq 'event=loop-close wall=[0-9.]+ tasks=4$' || fail "$(cat "$tf")"
}

@test "--trace-file wins over ASYNCRUN_TRACE_FILE" {
    tf=$BATS_TEST_TMPDIR/opt.txt
    ASYNCRUN_TRACE_FILE=$BATS_TEST_TMPDIR/env.txt \
        run -0 --separate-stderr "$ASYNCRUN" --trace-file="$tf" -e 'print(1)'
    [ -s "$tf" ] || fail "the option's file is empty or missing"
    [ ! -e "$BATS_TEST_TMPDIR/env.txt" ] || fail "the variable's file was written"
}
