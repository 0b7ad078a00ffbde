# attn — GNU Makefile. `make` builds the library and the attn command into build/ (and the
# tests when Criterion is installed).
#   make lib       libattn only (needs a C compiler, zlib and cJSON)
#   make tests     the test programs (needs Criterion)
#   make demo      install the missing Debian packages the demo needs, build, run the default job
#   make test      install the missing packages the tests need, build, run every test (also under ASan/UBSan)
#   make bench     the benchmarks
#   make deps      install every package of `make test` (scripts/deps.sh GROUP for one purpose)
#   make SAN=1     sanitizer build into build-san/
#   make install PREFIX=/usr/local
.DEFAULT_GOAL := all

PREFIX ?= /usr/local
SAN ?= 0
ifeq ($(SAN),1)
BUILD ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT ?= -O1
else
BUILD ?= build
SANFLAGS :=
OPT ?= -O3
endif
PY ?= /usr/bin/python3

CC ?= cc
CXX ?= c++
WARN := -Wall -Wextra -Werror
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE $(OPT) -g $(WARN) -fPIC -fvisibility=hidden -fopenmp \
               -Iinclude -Isrc/core $(SANFLAGS)
CFLAGS ?=
CFLAGS_ALL := $(CFLAGS_BASE) $(CFLAGS)
LDLIBS_LIB := -fopenmp -lm -lpthread
# Extension points for mk/*.mk fragments (one per component, so they never collide):
#   LIB_LDLIBS   libraries libattn needs (also listed in attn.pc)
#   CLI_LDLIBS   libraries the attn command needs beyond libattn
#   CLI_EXTRA    extra objects/archives linked into the attn command (e.g. the C++ tokenizer shim)
#   TEST_LDLIBS  libraries the C test binary needs
LIB_LDLIBS :=
CLI_LDLIBS :=
CLI_EXTRA :=
TEST_LDLIBS :=
ISA_AVX2 := -mavx2 -mfma
ISA_AVX512 := -mavx2 -mfma -mavx512f -mavx512bw -mavx512dq -mavx512vl

# Optional dependencies, reported at build time.
HAVE_CRITERION := $(shell pkg-config --exists criterion 2>/dev/null && echo 1)
ifneq ($(filter tests,$(MAKECMDGOALS)),)
ifneq ($(HAVE_CRITERION),1)
$(error Criterion not found: install libcriterion-dev (make test installs what the tests need))
endif
endif
HAVE_MPI := $(shell command -v mpicc >/dev/null 2>&1 && echo 1)

LIB_SRC := $(shell find src -name '*.c' | sort)
PUBLIC_HEADERS := $(sort $(wildcard include/attn/*.h))
LIB_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC))
CLI_SRC := $(shell find tools/attn -name '*.c' 2>/dev/null | sort)
CLI_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(CLI_SRC))
TEST_SRC := $(shell find tests/c -name '*.c' | sort)
TEST_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(TEST_SRC))
DEPS := $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)

-include $(sort $(wildcard mk/*.mk))

.PHONY: all lib cli tests test demo bench install uninstall clean features deps check-lib check-cli check-tests
# `all` builds the tests only when Criterion is there (`make tests` insists on it).
all: features lib cli $(if $(HAVE_CRITERION),tests)

# the best instruction set the CPU offers among those libattn has kernels for
CPU_ISA := $(shell if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then echo avx512f; \
                   elif grep -qw avx2 /proc/cpuinfo 2>/dev/null; then echo avx2; else echo portable; fi)
features:
	@echo "attn: build=$(BUILD) cc=$$($(CC) -dumpfullversion) criterion=$(if $(HAVE_CRITERION),yes,no) mpi=$(if $(DIST_MPI),yes,no) cpu=$(CPU_ISA)"
	@$(if $(HAVE_CRITERION),:,echo "attn: Criterion not found (libcriterion-dev): building without the tests; make tests needs it")

# Before compiling: are the libraries there? (pkg-config decides; the message names the Debian
# package.) Order-only, so they never cause a rebuild.
# `make lib` alone checks the library's needs; any goal that builds the command checks all of
# them at once, so one message lists everything missing.
CHECK_GROUP := $(if $(filter-out lib features,$(or $(MAKECMDGOALS),all)),build,lib)
check-lib:
	@scripts/deps.sh --check $(CHECK_GROUP)
check-cli: check-lib
	@scripts/deps.sh --check build
check-tests: check-lib
	@pkg-config --exists criterion || { echo "Criterion not found: install libcriterion-dev (or run make test, which installs what the tests need)" >&2; exit 1; }
$(LIB_OBJ): | check-lib
$(CLI_OBJ) $(TEXT_SHIM_OBJ) $(TEXT_C_OBJ) $(DIST_OBJ): | check-cli
$(TEST_OBJ): | check-tests

lib: $(BUILD)/libattn.a $(BUILD)/libattn.so
cli: $(BUILD)/attn
tests: $(BUILD)/test_attn

$(BUILD)/obj/%_avx512.o: %_avx512.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(ISA_AVX512) -MMD -MP -c $< -o $@
$(BUILD)/obj/%_avx2.o: %_avx2.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(ISA_AVX2) -MMD -MP -c $< -o $@
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/libattn.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(BUILD)/libattn.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libattn.so.0 $(SANFLAGS) -o $@ $^ $(LIB_LDLIBS) $(LDLIBS_LIB)

$(BUILD)/attn: $(CLI_OBJ) $(CLI_EXTRA) $(BUILD)/libattn.a
	$(CXX) $(SANFLAGS) -o $@ $(CLI_OBJ) $(CLI_EXTRA) $(BUILD)/libattn.a $(CLI_LDLIBS) $(LIB_LDLIBS) $(LDLIBS_LIB)

$(BUILD)/obj/tests/c/%.o: CFLAGS_ALL += -Wno-missing-field-initializers
$(BUILD)/test_attn: $(TEST_OBJ) $(BUILD)/libattn.a
	$(CC) $(SANFLAGS) -o $@ $(TEST_OBJ) $(BUILD)/libattn.a -lcriterion $(TEST_LDLIBS) $(LIB_LDLIBS) $(LDLIBS_LIB)

deps:
	@PY=$(PY) scripts/deps.sh test

# the builds `make test` runs (and the fuzz targets its stages build) use every core
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
test:
	@PY=$(PY) scripts/deps.sh test
	@$(MAKE) -j$(JOBS) --no-print-directory all tests
	@$(MAKE) -j$(JOBS) --no-print-directory SAN=1 lib tests
	@JOBS=$(JOBS) PY=$(PY) scripts/run_tests.sh

# DEMO_ARGS: options for the demo (empty: its defaults); the README test shortens it.
DEMO_ARGS ?=
demo:
	@scripts/deps.sh demo
	@$(MAKE) --no-print-directory features lib cli
	@$(BUILD)/attn demo $(DEMO_ARGS)

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory features lib cli
	@$(BUILD)/attn bench attention

install: lib $(BUILD)/libattn_text.a
	install -d $(DESTDIR)$(PREFIX)/include/attn $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/attn.h $(DESTDIR)$(PREFIX)/include/attn.h
	install -m 644 $(PUBLIC_HEADERS) $(DESTDIR)$(PREFIX)/include/attn/
	install -m 644 $(BUILD)/libattn.a $(DESTDIR)$(PREFIX)/lib/libattn.a
	install -m 755 $(BUILD)/libattn.so $(DESTDIR)$(PREFIX)/lib/libattn.so.0
	ln -sf libattn.so.0 $(DESTDIR)$(PREFIX)/lib/libattn.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|0.1.0|' -e 's|@LIBS_PRIVATE@|$(LIB_LDLIBS)|' attn.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/attn.pc
	@if [ -f $(BUILD)/attn ]; then install -d $(DESTDIR)$(PREFIX)/bin && install -m 755 $(BUILD)/attn $(DESTDIR)$(PREFIX)/bin/attn; fi
	@if [ -f $(BUILD)/libattn_text.a ]; then \
	    install -m 644 tools/text/spm.h tools/text/translator.h tools/text/lm_spm.h tools/text/text_classifier.h $(DESTDIR)$(PREFIX)/include/attn/ && \
	    install -m 644 $(BUILD)/libattn_text.a $(DESTDIR)$(PREFIX)/lib/libattn_text.a && \
	    sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|0.1.0|' attn-text.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/attn-text.pc; fi

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/include/attn
	rm -f $(DESTDIR)$(PREFIX)/include/attn.h $(DESTDIR)$(PREFIX)/lib/libattn.a \
	      $(DESTDIR)$(PREFIX)/lib/libattn.so $(DESTDIR)$(PREFIX)/lib/libattn.so.0 \
	      $(DESTDIR)$(PREFIX)/lib/pkgconfig/attn.pc $(DESTDIR)$(PREFIX)/bin/attn \
	      $(DESTDIR)$(PREFIX)/lib/libattn_text.a $(DESTDIR)$(PREFIX)/lib/pkgconfig/attn-text.pc

clean:
	rm -rf build build-san

-include $(DEPS)
