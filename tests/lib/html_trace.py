"""The events of a --trace=html page decoded back into the events of --trace=json (t in
seconds), for tests/diagnostics.bats and tests/browser/check.sh. The page packs them (see
runtime/trace_html.c): one row an event, its shape's index, then t's step and the fields, as
zig-zag integers in base 32, a digit of LAST ending each."""
import json
import re

LAST, MORE = "0123456789ABCDEFGHIJKLMNOPQRSTUV", "WXYZabcdefghijklmnopqrstuvwxyz-_"


def ints(text):
    """The packed integers of the rows, then -1."""
    out, v = [], 0
    for c in text[:text.index(".")]:
        if c in MORE:
            v = v * 32 + MORE.index(c)
        elif c in LAST:
            v = v * 32 + LAST.index(c)
            out.append(-(v + 1) // 2 if v % 2 else v // 2)
            v = 0
    return out + [-1]


def decode(path):
    """The page's events, in order."""
    page = open(path, encoding="utf-8").read()
    block = lambda type, id: re.search(r'<script type="%s" id="%s">(.*?)</script>' % (type, id),
                                       page, re.S).group(1)
    rows, tables = ints(block("text/plain", "events")), json.loads(block("application/json", "tables"))
    shapes = [s.split(" ") for s in tables["shapes"]]
    out, i, t = [], 0, 0
    while rows[i] >= 0:
        shape = shapes[rows[i]]
        t += rows[i + 1]
        e = {"t": t / 1e6, "event": shape[0]}
        for j, kt in enumerate(shape[1:]):
            k, typ = kt.rsplit(":", 1)
            v = rows[i + 2 + j]
            e[k] = tables["strings"][v] if typ == "s" else v / 1e6 if typ == "n" else v
        out.append(e)
        i += 1 + len(shape)
    assert rows[i:] == [-1], rows[i:]
    return out
