#!/usr/bin/env bats
# make install / uninstall into a temporary DESTDIR, and the installed binary runs.

load helpers

@test "make install puts binary, man page and completions under DESTDIR/PREFIX" {
    [[ "$ASYNCRUN" != *asan* ]] || skip "installs the normal build only"
    root="$BATS_TEST_DIRNAME/.."
    dest="$BATS_TEST_TMPDIR/dest"
    run -0 make -s -C "$root" install DESTDIR="$dest" PREFIX=/opt/ar
    [ -x "$dest/opt/ar/bin/asyncrun" ]
    [ -f "$dest/opt/ar/share/man/man1/asyncrun.1" ]
    [ -f "$dest/opt/ar/share/bash-completion/completions/asyncrun" ]
    run -0 "$dest/opt/ar/bin/asyncrun" -e 'async.sleep(0.01) print("installed ok")'
    assert_output "installed ok"
    run -0 make -s -C "$root" uninstall DESTDIR="$dest" PREFIX=/opt/ar
    [ ! -e "$dest/opt/ar/bin/asyncrun" ]
    [ ! -e "$dest/opt/ar/share/man/man1/asyncrun.1" ]
    [ ! -e "$dest/opt/ar/share/bash-completion/completions/asyncrun" ]
}
