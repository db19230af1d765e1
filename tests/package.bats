#!/usr/bin/env bats
# The release: one version (VERSION) in --version, the man page, CHANGELOG.md, the source
# tarball and the Debian package; `make deb` builds a lintian-clean package whose binary runs
# from an extracted root. `make check-deb` (ASYNCRUN_CHECK_DEB_INSTALL=1) also installs it
# with dpkg -i and removes it with dpkg -r, as root.

load helpers

ROOT="$BATS_TEST_DIRNAME/.."

# make deb once for the file: make check runs this suite twice, and the second `make deb`
# finds the package up to date.
setup_file() {
    if command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null; then
        local out
        out=$(make -s -C "$ROOT" deb 2>&1) || { printf '# %s\n' "$out" >&3; return 1; }
    fi
}

setup() {
    VERSION=$(cat "$ROOT/VERSION")
    ARCH=$(dpkg --print-architecture 2>/dev/null || true)
    DEB="$ROOT/build/asyncrun_${VERSION}_${ARCH}.deb"
    # the unpacked tarball that make deb built the package in
    DIST_TREE="$ROOT/build/deb/asyncrun-$VERSION"
}

need_deb() {
    command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null ||
        skip "dpkg-buildpackage or debhelper is not installed (Debian packages dpkg-dev, debhelper)"
    [ -f "$DEB" ] || fail "make deb did not build $DEB"
}

# The files (not directories) the package installs, sorted, without the leading ".".
expected_files() {
    local f
    {
        printf '%s\n' /usr/bin/asyncrun /usr/share/man/man1/asyncrun.1.gz \
            /usr/share/bash-completion/completions/asyncrun \
            /usr/share/zsh/vendor-completions/_asyncrun \
            /usr/share/fish/vendor_completions.d/asyncrun.fish \
            /usr/share/doc/asyncrun/copyright /usr/share/doc/asyncrun/changelog.Debian.gz \
            /usr/share/doc/asyncrun/changelog.gz /usr/share/doc/asyncrun/README.md.gz
        for f in "$ROOT"/examples/*; do
            printf '/usr/share/doc/asyncrun/examples/%s\n' "$(basename "$f")"
        done
    } | sort
}

# ---------------------------------------------------------------- one version

@test "VERSION is X.Y.Z and --version, the man page header and CHANGELOG.md say it" {
    [[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "VERSION is '$VERSION'"
    run -0 "$ASYNCRUN" --version
    [[ $output == "asyncrun $VERSION ("* ]] || fail "--version says: $output"
    run -0 grep -m1 '^\.TH ' "$ROOT/man/asyncrun.1"
    [[ $output == *"\"asyncrun $VERSION\""* ]] || fail "man page header: $output"
    run -0 grep -m1 -E '^## \[[0-9]' "$ROOT/CHANGELOG.md"
    [[ $output == "## [$VERSION] - "* ]] || fail "CHANGELOG.md's latest release: $output"
}

@test "make dist: build/asyncrun-VERSION.tar.gz holds the tracked files under asyncrun-VERSION/" {
    run -0 make -s -C "$ROOT" dist
    tarball="$ROOT/build/asyncrun-$VERSION.tar.gz"
    [ -f "$tarball" ]
    run -0 tar -tzf "$tarball"
    for f in VERSION CHANGELOG.md Makefile man/asyncrun.1 debian/rules runtime/rt.c tests/package.bats; do
        assert_line "asyncrun-$VERSION/$f"
    done
    refute_line --regexp '/build/'
    if [ -e "$ROOT/.git" ]; then
        assert_equal "${#lines[@]}" "$(git -C "$ROOT" ls-files | wc -l)"
    fi
}

@test "the tarball's tree, built by make deb, reports the version and passes a suite" {
    need_deb
    [ -x "$DIST_TREE/build/asyncrun" ] || fail "no build/asyncrun in $DIST_TREE"
    run -0 "$DIST_TREE/build/asyncrun" --version
    [[ $output == "asyncrun $VERSION ("* ]] || fail "--version says: $output"
    run -0 env ASYNCRUN="$DIST_TREE/build/asyncrun" bats --tap "$DIST_TREE/tests/basics.bats"
    refute_line --partial 'not ok'
    assert_line --regexp '^ok 1 '
}

# ---------------------------------------------------------------- the package

@test "make deb builds build/asyncrun_VERSION_ARCH.deb, up to date on a second run" {
    need_deb
    run -0 make -q -C "$ROOT" deb
}

@test "the package holds the binary, man page, completions, examples, copyright, changelogs" {
    need_deb
    run -0 bash -c "dpkg-deb -c '$DEB' | awk '\$1 !~ /^d/ { print substr(\$6, 2) }' | sort"
    assert_equal "$output" "$(expected_files)"
    run -0 bash -c "dpkg-deb -c '$DEB' | awk '\$6 == \"./usr/bin/asyncrun\" { print \$1 }'"
    assert_output '-rwxr-xr-x'
}

@test "the package's control fields: name, version, arch, computed Depends without Lua" {
    need_deb
    run -0 dpkg-deb -f "$DEB" Package Version Architecture Section Maintainer
    assert_line "Package: asyncrun"
    assert_line "Version: $VERSION"
    assert_line "Architecture: $ARCH"
    assert_line --regexp '^Section: [a-z]+$'
    assert_line --regexp '^Maintainer: .+ <.+@.+>$'
    run -0 dpkg-deb -f "$DEB" Depends
    # dpkg-shlibdeps' versioned entries; Lua is linked in, so no liblua
    assert_output --regexp '(^|, )libc6 \(>= [0-9.]+\)'
    assert_output --regexp '(^|, )libev4 \(>= [0-9.:]+\)'
    refute_output --partial 'lua'
    # loaded on first use (dlopen), so declared by hand as if linked
    assert_output --regexp '(^|, )libssl3(,|$)'
    run -0 dpkg-deb -f "$DEB" Description
    assert_line --index 0 --regexp 'event loop$'
}

@test "lintian reports no error and no warning on the package" {
    need_deb
    command -v lintian >/dev/null || skip "lintian is not installed (Debian package lintian)"
    [[ "$ASYNCRUN" != *asan* ]] || skip "the package does not change with the binary under test"
    run --separate-stderr lintian --fail-on error,warning "$DEB"
    assert_output ""
    assert_success
}

@test "extracted with dpkg-deb -x, the binary runs an example; the docs are what they claim" {
    need_deb
    root="$BATS_TEST_TMPDIR/root"
    run -0 dpkg-deb -x "$DEB" "$root"
    run -0 "$root/usr/bin/asyncrun" --version
    [[ $output == "asyncrun $VERSION ("* ]] || fail "--version says: $output"
    # dpkg-buildflags' LDFLAGS reached the link (lintian checks relro and PIE)
    run -0 readelf -d "$root/usr/bin/asyncrun"
    assert_output --partial BIND_NOW
    run -0 --separate-stderr "$root/usr/bin/asyncrun" "$root/usr/share/doc/asyncrun/examples/hello.lua"
    assert_line --index 0 "tick 1"
    assert_line --index -1 "$(printf 'tick done\ttock done')"
    run -0 bash -c "zcat '$root/usr/share/man/man1/asyncrun.1.gz' | grep -m1 '^\.TH '"
    assert_output --partial "\"asyncrun $VERSION\""
    run -0 bash -c "zcat '$root/usr/share/doc/asyncrun/changelog.Debian.gz' | head -n 1"
    assert_output "asyncrun ($VERSION) unstable; urgency=medium"
    run -0 head -n 1 "$root/usr/share/doc/asyncrun/copyright"
    assert_output "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
    run -0 bash --norc --noprofile -c \
        "source '$root/usr/share/bash-completion/completions/asyncrun' && complete -p asyncrun"
    assert_output --partial 'asyncrun'
}

# ---------------------------------------------------------------- make check-deb

installed_here=

teardown() {
    if [ -n "$installed_here" ] && dpkg-query -W asyncrun >/dev/null 2>&1; then
        dpkg -r asyncrun >/dev/null 2>&1 || true
    fi
}

@test "check-deb: dpkg -i puts everything where the shells look; dpkg -r leaves nothing" {
    [ "${ASYNCRUN_CHECK_DEB_INSTALL:-}" = 1 ] || skip "installs system-wide: run by make check-deb"
    need_deb
    [ "$(id -u)" = 0 ] || skip "dpkg -i needs root"
    dpkg-query -W -f='${Status}' asyncrun 2>/dev/null | grep -q 'ok installed' &&
        skip "the asyncrun package is installed already; check-deb would replace it"
    [ ! -e /usr/bin/asyncrun ] || skip "/usr/bin/asyncrun exists; dpkg -i would replace it"

    installed_here=1
    run -0 dpkg -i "$DEB"
    run -0 dpkg-query -W -f='${Status} ${Version}' asyncrun
    assert_output "install ok installed $VERSION"
    run -0 dpkg -L asyncrun
    listed=$output
    while read -r f; do
        grep -qxF "$f" <<<"$listed" || fail "dpkg -L lacks $f"
        [ -f "$f" ] || fail "$f is not installed"
    done < <(expected_files)
    owned=$(while read -r f; do [ -d "$f" ] || printf '%s\n' "$f"; done <<<"$listed")

    run -0 /usr/bin/asyncrun -e 'async.sleep(0.01) print("installed ok")'
    assert_output "installed ok"
    if command -v man >/dev/null; then
        run -0 man -w asyncrun
        assert_output /usr/share/man/man1/asyncrun.1.gz
    fi
    run -0 bash --norc --noprofile -c \
        'source /usr/share/bash-completion/completions/asyncrun && complete -p asyncrun'
    if command -v zsh >/dev/null; then
        run -0 zsh -fc 'print -l $fpath'
        assert_line /usr/share/zsh/vendor-completions
    fi
    if command -v fish >/dev/null; then
        run -0 fish -c 'printf "%s\n" $fish_complete_path'
        assert_line /usr/share/fish/vendor_completions.d
    fi

    run -0 dpkg -r asyncrun
    run dpkg-query -W -f='${Status}' asyncrun
    [[ $status -ne 0 || $output != *" installed" ]] || fail "still installed: $output"
    while read -r f; do
        [ ! -e "$f" ] || fail "$f is left behind"
    done <<<"$owned"
    [ ! -e /usr/share/doc/asyncrun ] || fail "/usr/share/doc/asyncrun is left behind"
}
