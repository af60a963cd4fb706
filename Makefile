# rebill -- build, test, install.  See README.md.
#
#   make            librebill.a, librebill.so and the rebill binary (in build/release/)
#   make test       unit + CLI tests, then the same suite built with ASan+UBSan
#   make check      only the sanitizer run (built with clang)
#   make demo       a scripted scenario on a fresh database
#   make bench      benchmarks (not part of test)
#   make install PREFIX=/usr/local
#
# Dependencies come from Debian packages found with pkg-config. When one is missing, the
# build installs it (as root) or prints the apt-get line to run and stops.

CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build/release
SAN     ?=
PYTHON  ?= python3

PKGS     = lua5.4 lmdb libcmark-gfm zlib
DEB_PKGS = pkg-config liblua5.4-dev liblmdb-dev libcmark-gfm-dev libcmark-gfm-extensions-dev \
           zlib1g-dev python3 clang chromium poppler-utils
# The sanitizer run is built with clang, the release one with cc (gcc): both compilers
# build the whole tree with -Werror on every `make test`.
CHECK_CC ?= clang
VERSION  = 0.1.0

-include build/config.mk

WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
CFLAGS  ?= -O2 -g
ifeq ($(SAN),1)
CFLAGS   = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) -D_GNU_SOURCE -fPIC -fvisibility=hidden -pthread \
             -Iinclude -Iengine $(DEP_CFLAGS) -MMD -MP
ALL_LIBS   = $(DEP_LIBS) -lcmark-gfm-extensions -lm -pthread

LIB_SRC  = $(sort $(wildcard engine/*.c))
CLI_SRC  = $(sort $(wildcard engine/cli/*.c))
UNIT_SRC = $(sort $(wildcard tests/unit/test_*.c))
LUA_SRC  = $(sort $(shell find scripts -name '*.lua' 2>/dev/null))

LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/engine/scripts_embed.o
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all test check unit demo bench install clean deps checksrc format

all: $(BUILD)/librebill.a $(BUILD)/librebill.so $(BUILD)/rebill

# ---- dependencies -------------------------------------------------------------------------
build/config.mk: Makefile
	@mkdir -p build
	@missing=""; \
	for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) \
	      >build/apt.log 2>&1 || { cat build/apt.log; exit 1; }; \
	  else \
	    echo "missing packages; run:  sudo apt-get install -y$$missing" >&2; exit 1; \
	  fi; \
	fi; \
	pkg-config --exists $(PKGS) || { echo "pkg-config cannot find: $(PKGS)" >&2; exit 1; }; \
	{ echo "DEP_CFLAGS = $$(pkg-config --cflags $(PKGS))"; \
	  echo "DEP_LIBS = $$(pkg-config --libs $(PKGS))"; } > $@.tmp && mv $@.tmp $@

deps: build/config.mk

# ---- library and binary ------------------------------------------------------------------
$(BUILD)/%.o: %.c build/config.mk
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# Lua shipped in scripts/ is embedded in the library (served by the sandbox's require).
$(BUILD)/engine/scripts_embed.c: $(LUA_SRC) tests/tools/embed.py
	@mkdir -p $(dir $@)
	$(PYTHON) tests/tools/embed.py $@ $(LUA_SRC)
$(BUILD)/engine/scripts_embed.o: $(BUILD)/engine/scripts_embed.c
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/librebill.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/librebill.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,librebill.so.0 $(LDFLAGS) -o $@ $^ $(ALL_LIBS)

$(BUILD)/rebill: $(CLI_OBJ) $(BUILD)/librebill.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/librebill.a $(ALL_LIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/harness.h $(BUILD)/librebill.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/librebill.a $(ALL_LIBS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- tests ---------------------------------------------------------------------------------
unit: all $(UNIT_BIN)
	@sh tests/run.sh $(BUILD)

test: deps
	@$(MAKE) --no-print-directory unit BUILD=build/release
	@$(MAKE) --no-print-directory check
	@sh tests/total.sh build/release build/asan

check: deps
	@$(MAKE) --no-print-directory unit BUILD=build/asan SAN=1 CC=$(CHECK_CC) \
	  ASAN_OPTIONS=detect_leaks=1

checksrc:
	@sh tests/tools/checksrc.sh

format:
	clang-format -i $(LIB_SRC) $(CLI_SRC) engine/*.h include/rebill.h

# ---- demo, bench, install -------------------------------------------------------------------
demo: all
	@sh tests/demo.sh $(BUILD)/rebill

bench: all
	@sh tests/bench/run.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 755 $(BUILD)/rebill $(DESTDIR)$(PREFIX)/bin/rebill
	install -m 644 $(BUILD)/librebill.a $(DESTDIR)$(PREFIX)/lib/librebill.a
	install -m 755 $(BUILD)/librebill.so $(DESTDIR)$(PREFIX)/lib/librebill.so.$(VERSION)
	ln -sf librebill.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/librebill.so.0
	ln -sf librebill.so.0 $(DESTDIR)$(PREFIX)/lib/librebill.so
	install -m 644 include/rebill.h $(DESTDIR)$(PREFIX)/include/rebill.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    -e 's|@REQUIRES@|$(PKGS)|g' rebill.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/rebill.pc

clean:
	rm -rf build
