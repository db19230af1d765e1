# asyncrun: `make` builds build/asyncrun; `make check` runs every test, normally and under
# AddressSanitizer + UBSan; `make demo` runs an example with --trace. Both install missing
# Debian packages first.

# The one place of the version: --version, the man page's header (checked by
# tests/package.bats), the Debian package and the source tarball take it from here.
VERSION := $(shell cat VERSION)

PKG_CONFIG ?= pkg-config
LUA_PKG    := lua5.4
# Debian's libev-dev ships no .pc file: fall back to plain -lev.
LUA_CFLAGS  = $(shell $(PKG_CONFIG) --cflags $(LUA_PKG) 2>/dev/null)
# Lua is linked in statically (Debian's liblua5.4.a): the API calls of the switch path go
# without a PLT jump (W3 runs ~9 % faster) and start-up resolves fewer symbols. The API is
# exported again (lua/exports.list) for the C modules that scripts load with require.
LUA_LIBS    = -Wl,--dynamic-list=lua/exports.list -Wl,-Bstatic \
              $(shell $(PKG_CONFIG) --libs-only-l $(LUA_PKG) 2>/dev/null || echo -llua5.4) -Wl,-Bdynamic
EV_CFLAGS   = $(shell $(PKG_CONFIG) --cflags libev 2>/dev/null)
EV_LIBS     = $(shell $(PKG_CONFIG) --libs libev 2>/dev/null || echo -lev)

WARNINGS  = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS += -D_GNU_SOURCE -iquote runtime -iquote lua -iquote cli -iquote build/gen
CFLAGS   ?= -O2 -g
ALL_CFLAGS = -std=c11 $(WARNINGS) $(CFLAGS) $(LUA_CFLAGS) $(EV_CFLAGS) -MMD -MP
# libedit (line editing at the prompt) is loaded at run time, see lua/lline.c
LDLIBS    = $(LUA_LIBS) $(EV_LIBS) -lm -lpthread -ldl

SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SRCS := $(wildcard cli/*.c runtime/*.c lua/*.c)
OBJS := $(SRCS:%.c=build/obj/%.o)
ASAN_OBJS := $(SRCS:%.c=build/asan/%.o)
NOTRACE_OBJS := $(SRCS:%.c=build/notrace/%.o)

BIN  = build/asyncrun
ASAN_BIN = build/asan/asyncrun

# Debian packages the build and the tests need.
DEB_PACKAGES = gcc make pkg-config liblua5.4-dev libev-dev bats bats-assert bats-support \
               lua-cjson python3 valgrind procps groff-base tmux zsh fish curl \
               redis-server socat netcat-openbsd libedit2 dpkg-dev debhelper lintian \
               libcurl4-openssl-dev libssl-dev openssl
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all asan check check-normal asan-check check-browser browser-deps demo deps clean bench-html-trace \
        install uninstall bench bench-deps bench-callgrind bench-trace-cost fuzz stress \
        valgrind-check dist deb check-deb

all: $(BIN)

$(BIN): $(OBJS) lua/exports.list
	@echo "  LINK    $@"
	@$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

build/obj/%.o: %.c | build/.deps
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

# The Lua half of the async module, embedded as a byte array.
build/gen/async_lua.h: lua/async.lua
	@mkdir -p $(dir $@)
	@{ echo 'static const unsigned char async_lua[] = {'; \
	  od -An -v -tx1 $< | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; echo '};'; } > $@

build/obj/lua/lasync.o build/asan/lua/lasync.o build/notrace/lua/lasync.o: build/gen/async_lua.h

# The html trace's renderer, embedded as a byte array.
build/gen/trace_html_js.h: runtime/trace_html.js
	@mkdir -p $(dir $@)
	@! grep -qiE '</script|<!--' $< || { echo "$<: must not contain </script or <!--" >&2; exit 1; }
	@{ echo 'static const unsigned char trace_html_js[] = {'; \
	  od -An -v -tx1 $< | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; echo '};'; } > $@

build/obj/runtime/trace_html.o build/asan/runtime/trace_html.o build/notrace/runtime/trace_html.o: build/gen/trace_html_js.h

build/gen/version.h: VERSION
	@mkdir -p $(dir $@)
	@echo '#define ASYNCRUN_VERSION "$(VERSION)"' > $@

build/obj/runtime/rt.o build/asan/runtime/rt.o build/notrace/runtime/rt.o: build/gen/version.h

asan: $(ASAN_BIN)

$(ASAN_BIN): $(ASAN_OBJS) lua/exports.list
	@echo "  LINK    $@"
	@$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -o $@ $(ASAN_OBJS) $(LDLIBS)

build/asan/%.o: %.c | build/.deps
	@mkdir -p $(dir $@)
	@echo "  CC      $< (asan)"
	@$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -O1 $(SAN_FLAGS) -c -o $@ $<

# Installs what is missing, once per build directory.
build/.deps:
	@$(MAKE) --no-print-directory deps
	@mkdir -p build && touch $@

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# ASan reports and leaks exit 99; tests expecting 1 therefore still catch them.
SAN_ENV = ASAN_OPTIONS=exitcode=99:detect_leaks=1:abort_on_error=0 \
          UBSAN_OPTIONS=exitcode=99:halt_on_error=1:print_stacktrace=1 \
          LSAN_OPTIONS=exitcode=99

# The normal and the sanitized runs go side by side (much of the suite's time is waiting on
# peers, timeouts and graces); the sanitized run's log follows the normal one's. The suites
# that test files rather than the binary (the completions, the Debian package) run once.
check: $(BIN) $(ASAN_BIN)
	@rm -f build/results-normal build/results-asan; \
	SKIP_SUITES="completions package" $(SAN_ENV) tests/run.sh $(ASAN_BIN) build/results-asan \
	  > build/check-asan.log 2>&1 & \
	asan=$$!; tests/run.sh $(BIN) build/results-normal; wait $$asan; \
	cat build/check-asan.log; tests/summary.sh build/results-normal build/results-asan

check-normal: $(BIN)
	@tests/run.sh $(BIN) build/results-normal

asan-check: $(ASAN_BIN)
	@$(SAN_ENV) tests/run.sh $(ASAN_BIN) build/results-asan

# Benchmarks against the peers of ../shared/bench (not part of check): BENCH_QUICK=1 for a
# short run; bench-deps installs the peers.
BENCH_PACKAGES = python3-uvloop lua5.4 lua-luv lua-cqueues hyperfine time

bench: $(BIN)
	@bench/run.sh

bench-deps:
	@missing=$$(for p in $(BENCH_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

bench-callgrind: $(BIN)
	@bench/callgrind.sh

# Reliability (not part of check): fuzzing for FUZZ_SECONDS per target, stress at full
# size, and valgrind over the API fuzzer and the stress scripts at a small size.
fuzz: $(BIN) $(ASAN_BIN)
	@tests/fuzz/run.sh $(or $(FUZZ_SECONDS),60)

stress: $(BIN)
	@tests/stress/run.sh $(BIN)

valgrind-check: $(BIN)
	@tests/fuzz/valgrind.sh $(BIN) $(or $(VALGRIND_SEEDS),8)

# The cost of the diagnostics' hooks when they are off: instructions (callgrind) against a
# build without them, and the slowdown of --trace=json.
build/notrace/asyncrun: $(NOTRACE_OBJS) lua/exports.list
	@echo "  LINK    $@"
	@$(CC) $(ALL_CFLAGS) -o $@ $(NOTRACE_OBJS) $(LDLIBS)

build/notrace/%.o: %.c | build/.deps
	@mkdir -p $(dir $@)
	@echo "  CC      $< (no trace hooks)"
	@$(CC) $(CPPFLAGS) -DASYNCRUN_NO_TRACE_HOOKS $(ALL_CFLAGS) -c -o $@ $<

bench-trace-cost: $(BIN) build/notrace/asyncrun
	@bench/trace_cost.sh $(BIN) build/notrace/asyncrun

# The --trace=html page of W3 at 100,000 round trips: its size, first view and frame times.
bench-html-trace: $(BIN)
	@bench/html_trace.sh $(BIN)

# The html trace rendered by a real headless Chromium (installed on demand).
check-browser: $(BIN) browser-deps
	@tests/browser/check.sh $(BIN)

browser-deps:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium; }

demo: $(BIN)
	$(BIN) --trace examples/hello.lua

# Installation honours PREFIX and DESTDIR.
PREFIX ?= /usr/local
BINDIR  = $(DESTDIR)$(PREFIX)/bin
MANDIR  = $(DESTDIR)$(PREFIX)/share/man/man1
BASHDIR = $(DESTDIR)$(PREFIX)/share/bash-completion/completions
ZSHDIR  = $(DESTDIR)$(PREFIX)/share/zsh/site-functions
FISHDIR = $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d

install: $(BIN)
	install -d $(BINDIR) $(MANDIR) $(BASHDIR)
	install -m 755 $(BIN) $(BINDIR)/asyncrun
	install -m 644 man/asyncrun.1 $(MANDIR)/asyncrun.1
	install -m 644 completions/asyncrun.bash $(BASHDIR)/asyncrun
	if [ -f completions/asyncrun.zsh ]; then install -d $(ZSHDIR) && \
	  install -m 644 completions/asyncrun.zsh $(ZSHDIR)/_asyncrun; fi
	if [ -f completions/asyncrun.fish ]; then install -d $(FISHDIR) && \
	  install -m 644 completions/asyncrun.fish $(FISHDIR)/asyncrun.fish; fi

uninstall:
	rm -f $(BINDIR)/asyncrun $(MANDIR)/asyncrun.1 $(BASHDIR)/asyncrun \
	      $(ZSHDIR)/_asyncrun $(FISHDIR)/asyncrun.fish

# The source tarball: the files git tracks (every file, outside a git checkout), under
# asyncrun-VERSION/, with fixed owners, order and times so that it is the same each time.
DIST_FILES := $(shell if [ -e .git ]; then git ls-files; else find . -path ./build -prune -o -type f -print; fi)
# file times: the last commit's (in an unpacked tarball, the tarball's: lintian rejects 1970)
DIST_TIME  := $(shell if [ -e .git ]; then git log -1 --format=%ct; else stat -c %Y VERSION; fi)
DIST_LIST   = $(sort $(wildcard $(patsubst ./%,%,$(DIST_FILES))))
DIST = build/asyncrun-$(VERSION).tar.gz

dist: $(DIST)

$(DIST): $(DIST_LIST)
	@mkdir -p build
	@echo "  DIST    $@"
	@printf '%s\n' $(DIST_LIST) | \
	  tar -c --no-recursion --transform='s,^,asyncrun-$(VERSION)/,' --owner=0 --group=0 \
	      --numeric-owner --mtime=@$(DIST_TIME) -T - | gzip -9n > $@.tmp && mv $@.tmp $@

# The Debian package is built by dpkg-buildpackage with debhelper from debian/, not put
# together with dpkg-deb from a staged `make install`: debhelper does what lintian checks
# (hardening flags from dpkg-buildflags, Depends from dpkg-shlibdeps, stripping, compressed
# man page and changelogs, md5sums, permissions) the way every other Debian package does.
# It builds in the unpacked tarball, which shows the tarball builds and keeps its clean
# step (make clean) away from this checkout's build/.
DEB_ARCH = $(shell dpkg --print-architecture 2>/dev/null)
DEB = build/asyncrun_$(VERSION)_$(DEB_ARCH).deb

deb: $(DEB)

$(DEB): $(DIST) | build/.deps
	@echo "  DEB     $@"
	@rm -rf build/deb && mkdir -p build/deb
	@tar -xzf $(DIST) -C build/deb
	@debian/changelog.sh build/deb/asyncrun-$(VERSION) > build/deb/asyncrun-$(VERSION)/debian/changelog
	@cd build/deb/asyncrun-$(VERSION) && dpkg-buildpackage -b -us -uc > ../build.log 2>&1 || \
	  { tail -n 30 ../build.log; exit 1; }
	@cp build/deb/$(notdir $@) $@

# The package test, plus (as root) installing it with dpkg -i and removing it with dpkg -r.
check-deb: $(DEB) $(BIN)
	@ASYNCRUN_CHECK_DEB_INSTALL=1 bats tests/package.bats

clean:
	rm -rf build

-include $(OBJS:.o=.d) $(ASAN_OBJS:.o=.d) $(NOTRACE_OBJS:.o=.d)
