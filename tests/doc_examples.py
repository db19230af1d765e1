#!/usr/bin/env python3
"""Runs the examples of the man page (roff) or the README (Markdown) that show output or an
exit status, and compares what the binary prints with what the document shows, so that the
two cannot drift apart (tests/docs.bats runs it).

    doc_examples.py DOCUMENT        run them; exit 1 when any differs (diffs on stdout)
    doc_examples.py --list DOCUMENT list them: line, kind, what runs

The examples of a document run in order in one temporary directory, with `asyncrun` on the
PATH ($ASYNCRUN's directory), so a file written by one example is there for the next.

What is run, found by itself:
- a shell session: an example with lines that start with "$ ". Each command runs in bash
  (stdout and stderr together, `$?` as the previous command left it) and the transcript
  must be the example. `$ cat NAME` followed by text writes NAME with that text first.
- a Lua example with "--> text" comments: it runs as `asyncrun --strict NAME` (NAME is
  script.lua unless `file` says otherwise), must exit 0, and each annotated text must be a
  line of its standard output, in that order (runs of blanks count as one).
- an example that is output only (its first line starts with "asyncrun:", "trace:",
  "tasks (" or "stack traceback:") must say what produced it with `output`, or be skipped.

Directives, on the lines just before an example: in roff `.\\" example: WORDS`, in Markdown
`<!-- example: WORDS -->`. Several may precede one example.
- `file NAME`: the example is the text of file NAME, written in the directory. In roff, a
  `.ig` block right after the directive is a file of the test that the page does not show
  (a fixed version of a script, the script behind a shown output).
- `output CMD`: the example is the output (stdout and stderr together) of shell command CMD.
- `status N`: the exit status expected of `output` or of a Lua example (default 0).
- `run CMD`: how a Lua example is run instead of `asyncrun --strict NAME`.
- `skip REASON`: the example is not run (a fragment, a peer on the network...).

Before comparing, both sides are masked: tabs expanded, trailing blanks dropped, and
numbers that change from run to run replaced: decimals (times), ports, process ids,
descriptor numbers, addresses, and the lines of asyncrun's own Lua code ([async]:N, so a
page may write [async]:N). A line that ends with a backslash continues on the next one
(a long line split to fit the page)."""

import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile

TIMEOUT = 300  # per command: --explore's 100 runs of the sanitizer build on a loaded machine
OUTPUT_START = re.compile(r"^(asyncrun:|trace:|tasks \(|\s*stack traceback:)")

MASKS = [
    (re.compile(r"\[async\]:\d+"), "[async]:N"),
    (re.compile(r"0x[0-9a-fA-F]+"), "0xADDR"),
    (re.compile(r"\d+\.\d+"), "N.N"),
    (re.compile(r"(port |server:|localhost:|127\.0\.0\.1:)\d+"), r"\1PORT"),
    (re.compile(r"(process |pid[ =])\d+"), r"\1PID"),
    (re.compile(r"\(fd \d+\)"), "(fd N)"),
    (re.compile(r"\b(accept|read|write|connect):\d+"), r"\1:FD"),
]

ROFF = [
    (r"\(aq", "'"), (r"\(dq", '"'), (r"\(lq", '"'), (r"\(rq", '"'), (r"\(ha", "^"),
    (r"\(ti", "~"), (r"\(em", "\u2014"), (r"\(en", "\u2013"), (r"\(rs", "\\"),
    (r"\-", "-"), (r"\&", ""), (r"\%", ""), (r"\fB", ""), (r"\fI", ""), (r"\fR", ""),
    (r"\fP", ""), (r"\ ", " "),
]


def unroff(line):
    out, i = [], 0
    while i < len(line):
        if line[i] == "\\":
            if line.startswith("\\e", i):
                out.append("\\")
                i += 2
                continue
            for esc, text in ROFF:
                if line.startswith(esc, i):
                    out.append(text)
                    i += len(esc)
                    break
            else:
                out.append(line[i])
                i += 1
        else:
            out.append(line[i])
            i += 1
    return "".join(out)


class Example:
    def __init__(self, line, text, directives):
        self.line, self.text, self.directives = line, text, directives

    def get(self, key):
        for k, v in self.directives:
            if k == key:
                return v
        return None


def parse_roff(lines):
    """(examples, hidden files) in document order: ("example", Example) or ("file", ...)."""
    items, directives, i = [], [], 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r'^\.\\"\s*example:\s*(\S+)\s*(.*)$', line)
        if m:
            directives.append((m.group(1), unroff(m.group(2)).strip()))
        elif line.startswith(".ig") and directives and directives[-1][0] == "file":
            start, body = i + 1, []
            i += 1
            while i < len(lines) and lines[i] != "..":
                body.append(lines[i])
                i += 1
            items.append(("file", start, directives.pop()[1], "\n".join(body) + "\n"))
        elif line.startswith(".EX"):
            start, body = i + 1, []
            i += 1
            while i < len(lines) and not lines[i].startswith(".EE"):
                if not re.match(r"^[.']", lines[i]):
                    body.append(unroff(lines[i]))
                i += 1
            items.append(("example", Example(start + 1, "\n".join(body) + "\n", directives)))
            directives = []
        elif directives and not re.match(r"^\.(PP|P|LP|IP|TP|RS|RE|sp|in)\b", line):
            pass  # directives wait for their example across prose
        i += 1
    return items


def parse_markdown(lines):
    items, directives, i = [], [], 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^<!--\s*example:\s*(\S+)\s*(.*?)\s*-->\s*$", line)
        if m:
            directives.append((m.group(1), m.group(2).strip()))
        elif line.startswith("```"):
            start, body = i + 1, []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            items.append(("example", Example(start + 1, "\n".join(body) + "\n", directives)))
            directives = []
        i += 1
    return items


def join_continued(text):
    return text.replace("\\\n", "")


def mask(text):
    lines = []
    for line in text.expandtabs(8).split("\n"):
        for pattern, repl in MASKS:
            line = pattern.sub(repl, line)
        lines.append(line.rstrip())
    while lines and lines[-1] == "":
        lines.pop()
    return lines


def squeeze(s):
    return " ".join(s.split())


def kind_of(ex):
    if ex.get("skip") is not None:
        return "skip"
    if ex.get("output") is not None:
        return "output"
    if any(l.startswith("$ ") for l in ex.text.split("\n")):
        return "session"
    if "-->" in ex.text:
        return "lua"
    if ex.get("file") is not None:
        return "file"
    first = next((l for l in ex.text.split("\n") if l.strip()), "")
    if OUTPUT_START.match(first):
        return "unmarked"
    return "none"


class Runner:
    def __init__(self, workdir, bindir):
        self.workdir = workdir
        self.env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
        for name in ("ASYNCRUN_TRACE", "ASYNCRUN_TRACE_FILE", "ASYNCRUN_STATS", "ASYNCRUN_SEED",
                     "ASYNCRUN_SEED_STRATEGY", "ASYNCRUN_MEMLIMIT", "LUA_INIT", "LUA_INIT_5_4"):
            self.env.pop(name, None)

    def write(self, name, text):
        with open(os.path.join(self.workdir, name), "w") as f:
            f.write(text)

    def shell(self, script):
        try:
            p = subprocess.run(["bash", "-c", script], cwd=self.workdir, env=self.env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=TIMEOUT)
            return p.returncode, p.stdout.decode(errors="replace")
        except subprocess.TimeoutExpired as e:
            return 124, (e.stdout or b"").decode(errors="replace") + "\n(timed out)\n"

    def session(self, ex):
        """The transcript of the session's commands, to compare with the example."""
        text = join_continued(ex.text)
        parts, cmd, shown = [], None, []

        def flush():
            if cmd is None:
                return
            m = re.match(r"^cat\s+(\S+)$", cmd)
            if m and shown:
                body = "\n".join(shown) + "\n"
                parts.append("cat > %s <<'__DOC_EXAMPLE_EOF__'\n%s__DOC_EXAMPLE_EOF__\n"
                             % (shquote(m.group(1)), body))
            parts.append("printf '%%s\\n' %s\n(exit $__s); eval %s 2>&1; __s=$?\n"
                         % (shquote("$ " + cmd), shquote(cmd)))

        for line in text.rstrip("\n").split("\n"):
            if line.startswith("$ "):
                flush()
                cmd, shown = line[2:], []
            else:
                shown.append(line)
        flush()
        _, out = self.shell("__s=0\n" + "".join(parts))
        return mask(text), mask(out)

    def output(self, ex):
        status, out = self.shell(ex.get("output"))
        want = int(ex.get("status") or 0)
        problems = [] if status == want else ["status %d, want %d" % (status, want)]
        return mask(join_continued(ex.text)), mask(out), problems

    def lua(self, ex):
        name = ex.get("file") or "script.lua"
        self.write(name, ex.text)
        cmd = ex.get("run") or "asyncrun --strict %s" % shquote(name)
        status, out = self.shell(cmd + " 2>__doc_example_stderr")
        with open(os.path.join(self.workdir, "__doc_example_stderr")) as f:
            err = f.read()
        want = int(ex.get("status") or 0)
        problems = [] if status == want else ["status %d, want %d; stderr:\n%s" % (status, want, err)]
        expected = [squeeze(l.split("-->", 1)[1]) for l in ex.text.split("\n") if "-->" in l]
        got = [squeeze(l) for l in mask(out)]
        j = 0
        for line in got:
            if j < len(expected) and line == squeeze(mask(expected[j])[0] if mask(expected[j]) else ""):
                j += 1
        if j < len(expected):
            problems.append("annotation %r is not in the output (in order):\n%s"
                            % (expected[j], "\n".join(got)))
        return problems


def shquote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def main(argv):
    listing = argv[1:2] == ["--list"]
    if listing:
        argv = argv[1:]
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    doc = argv[1]
    with open(doc) as f:
        lines = f.read().split("\n")
    items = parse_markdown(lines) if doc.endswith(".md") else parse_roff(lines)
    asyncrun = os.environ.get("ASYNCRUN") or shutil.which("asyncrun")
    if not listing and not asyncrun:
        sys.stderr.write("doc_examples.py: set ASYNCRUN to the binary under test\n")
        return 2
    failed = ran = 0
    with tempfile.TemporaryDirectory(prefix="doc-examples.") as work:
        runner = Runner(work, os.path.dirname(os.path.abspath(asyncrun or "asyncrun")))
        for item in items:
            if item[0] == "file":
                _, line, name, text = item
                if listing:
                    print("%s:%d: file %s (not shown)" % (doc, line, name))
                else:
                    runner.write(name, text)
                continue
            ex = item[1]
            kind = kind_of(ex)
            where = "%s:%d" % (doc, ex.line)
            if listing:
                print("%s: %s %s" % (where, kind, ex.get("output") or ex.get("file") or ex.get("skip") or ""))
                continue
            if kind == "file":
                runner.write(ex.get("file"), ex.text)
            if kind in ("none", "file", "skip"):
                continue
            ran += 1
            problems = []
            if kind == "unmarked":
                problems = ["an output that no directive produces: add `output CMD` (or `skip "
                            "REASON`) before it, see tests/doc_examples.py"]
            elif kind == "lua":
                problems = runner.lua(ex)
            else:
                want, got, problems = runner.output(ex) if kind == "output" else runner.session(ex) + ([],)
                if want != got:
                    problems.append("".join(difflib.unified_diff(
                        [l + "\n" for l in want], [l + "\n" for l in got],
                        "the document", "the binary")))
            if problems:
                failed += 1
                print("not ok %s (%s)" % (where, kind))
                for p in problems:
                    print("    " + p.replace("\n", "\n    "))
            else:
                print("ok %s (%s)" % (where, kind))
    if not listing:
        print("%d example(s) run, %d differ" % (ran, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
