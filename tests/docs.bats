#!/usr/bin/env bats
# The documentation: the man page is clean roff and lists exactly the options of --help, and
# every example of the man page and README that shows output prints it
# (tests/doc_examples.py). The shell completions: tests/completions.bats.

load helpers

MAN="$BATS_TEST_DIRNAME/../man/asyncrun.1"

# The options of the man page's OPTIONS section, one per line, sorted: the -x and --xyz
# words of each .TP tag line, with roff's \- turned back into -.
man_options() {
    awk '/^\.SH / { in_opts = ($0 ~ /^\.SH "?OPTIONS"?$/) }
         in_opts && tag { print; tag = 0 }
         in_opts && /^\.TP/ { tag = 1 }' "$MAN" \
        | grep -oE '(\\-)+[A-Za-z]([A-Za-z]|\\-)*' | sed 's/\\-/-/g' | sort -u
}

# ---------------------------------------------------------------- the man page

@test "the man page is clean roff: groff -ww -man -z prints nothing" {
    command -v groff >/dev/null || skip "groff is not installed (Debian package groff-base)"
    run groff -ww -man -z "$MAN"
    assert_success
    assert_output ""
}

@test "every option of --help is in the man page's OPTIONS section" {
    local help man missing
    help=$(help_options)
    man=$(man_options)
    [ -n "$help" ] || fail "found no option in --help"
    missing=$(comm -23 <(printf '%s\n' "$help") <(printf '%s\n' "$man"))
    [ -z "$missing" ] || fail "options of --help missing from the man page: $missing"
}

@test "every option of the man page's OPTIONS section is in --help" {
    local help man extra
    help=$(help_options)
    man=$(man_options)
    [ -n "$man" ] || fail "found no option in the man page's OPTIONS section"
    extra=$(comm -13 <(printf '%s\n' "$help") <(printf '%s\n' "$man"))
    [ -z "$extra" ] || fail "options of the man page missing from --help: $extra"
}


@test "the man page's toolkit example runs and prints what its comments say" {
    root="$BATS_TEST_DIRNAME/.."
    awk '/toolkit in brief/ { on = 1 } on && /^\.EX/ { grab = 1; next } grab && /^\.EE/ { exit } grab' \
        "$root/man/asyncrun.1" | sed 's/\\-/-/g; s/\\\\/\\/g' > "$BATS_TEST_TMPDIR/toolkit.lua"
    run -0 "$ASYNCRUN" "$BATS_TEST_TMPDIR/toolkit.lua"
    assert_line --index 0 "false	true"
    assert_line --index 2 "1 4 9"
    assert_line --index 3 "9 4 1 "
    assert_line --index 5 "false	child failed"
    assert_line --index 8 "answer	42"
    assert_line --index 9 "1 2 3 4 5 "
}

# ---------------------------------------------------------------- examples (tests/doc_examples.py)

EXAMPLES="$BATS_TEST_DIRNAME/doc_examples.py"

@test "every example of the man page that shows output or a status prints that output" {
    run python3 "$EXAMPLES" "$MAN"
    assert_success
    assert_output --regexp '[1-9][0-9]* example\(s\) run, 0 differ$'
}

@test "every example of the README that shows output prints that output" {
    run python3 "$EXAMPLES" "$BATS_TEST_DIRNAME/../README.md"
    assert_success
    assert_output --regexp '[1-9][0-9]* example\(s\) run, 0 differ$'
}

@test "the examples test catches a drift: a wrong output, a wrong annotation, an unmarked output, a wrong status" {
    cat > "$BATS_TEST_TMPDIR/page.1" <<'EOF_ROFF'
.TH PAGE 1
.SH EXAMPLES
.EX
$ asyncrun \-e \(aqprint("yes")\(aq
no
.EE
.\" example: file named.lua
.EX
print(1 + 1)   \-\-> 3
.EE
.EX
asyncrun: something it never prints
.EE
.\" example: output asyncrun \-e \(aqos.exit(2)\(aq
.EX
.EE
.\" example: skip a fragment
.EX
asyncrun: not run
.EE
.\" example: file hidden.lua
.ig
print("hidden " .. arg[1])
..
.\" example: output asyncrun hidden.lua 1 2>&1; echo $?
.EX
hidden 1
0
.EE
.EX
$ cat shown.lua
print(("port %d at %.3f s"):format(8000 + os.time() % 1000, os.clock()))
$ asyncrun shown.lua
port 8080 at 0.001 s
$ asyncrun \-e \(aqos.exit(3)\(aq; echo $?
3
.EE
EOF_ROFF
    run python3 "$EXAMPLES" "$BATS_TEST_TMPDIR/page.1"
    assert_failure 1
    assert_line --regexp '^not ok .*page\.1:4 \(session\)$'
    assert_line '    -no'
    assert_line '    +yes'
    assert_line --regexp "^not ok .*page\.1:9 \(lua\)$"
    assert_line --partial "annotation '3' is not in the output"
    assert_line --regexp '^not ok .*page\.1:12 \(unmarked\)$'
    assert_line --regexp '^not ok .*page\.1:16 \(output\)$'
    assert_line --partial "status 2, want 0"
    # what is right passes: a hidden file, a skipped fragment, masked ports and times
    assert_line --regexp '^ok .*page\.1:27 \(output\)$'
    assert_line --regexp '^ok .*page\.1:31 \(session\)$'
    refute_line --partial 'page.1:19'
    assert_line "6 example(s) run, 4 differ"
}
