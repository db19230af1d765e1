#!/bin/sh
# Prints the Debian changelog made from CHANGELOG.md: one entry per released version (the
# "## [X.Y.Z] - YYYY-MM-DD" sections; [Unreleased] is skipped), its "- item" lines as
# "* Kind: item" wrapped at 78 columns, signed by debian/control's Maintainer at midnight UTC
# of the release date. The top entry's version must be the one in VERSION.
# usage: debian/changelog.sh [SOURCE_DIR]
set -eu
cd "${1:-.}"
maintainer=$(sed -n 's/^Maintainer: *//p' debian/control)
version=$(cat VERSION)
top=$(sed -n 's/^## \[\([0-9][^]]*\)\].*/\1/p' CHANGELOG.md | head -n 1)
if [ "$top" != "$version" ]; then
    echo "debian/changelog.sh: CHANGELOG.md's latest release is '$top', VERSION says '$version'" >&2
    exit 1
fi
awk -v maintainer="$maintainer" '
    function flush(   words, n, i, line) {
        if (item == "") return
        n = split(kind ": " item, words, " ")
        line = "  *"
        for (i = 1; i <= n; i++) {
            if (length(line) + 1 + length(words[i]) > 78) { print line; line = "   " }
            line = line " " words[i]
        }
        print line
        item = ""
    }
    function close_entry(   cmd, stamp) {
        flush()
        if (date == "") return
        cmd = "date -u -R -d " date
        cmd | getline stamp
        close(cmd)
        printf "\n -- %s  %s\n", maintainer, stamp
        date = ""
    }
    /^## \[/ {
        close_entry()
        if ($0 !~ /^## \[[0-9]/) { skipping = 1; next }
        skipping = 0
        version = $2; gsub(/[][]/, "", version)
        date = $4
        if (entries++) print ""
        printf "asyncrun (%s) unstable; urgency=medium\n\n", version
        next
    }
    skipping || date == "" { next }
    /^### / { flush(); kind = $2; next }
    /^- / { flush(); item = substr($0, 3); next }
    /^  [^ ]/ && item != "" { sub(/^ +/, ""); item = item " " $0; next }
    /^\[/ { close_entry(); next }
    END { close_entry() }
' CHANGELOG.md
