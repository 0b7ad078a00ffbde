# mk/io.mk — checkpoints (safetensors): cJSON for the header, and the libFuzzer target.
LIB_LDLIBS += -lcjson

# make fuzz: build the libFuzzer target with clang (ASan + UBSan) into build/fuzz/ and run it for
# FUZZ_SECONDS on one core. New inputs go to build/fuzz/corpus/; the seeds in
# fuzz/corpus/safetensors/ (made by fuzz/make_corpus.py) are only read. Crashes land in build/fuzz/
# (never committed): fix the bug, then keep the minimised input (-minimize_crash=1) as
# fuzz/corpus/safetensors/regress_<what>.safetensors; scripts/test.d/fuzz_corpus.sh replays
# the whole directory in `make test`.
# The library sources it needs (core and io) use no OpenMP, so they compile as they are.
FUZZ_SECONDS ?= 600
FUZZ_CC ?= clang
FUZZ_FLAGS ?=
# the safetensors reader and what it needs (checkpoint.c sits on the nn parameter table: not fuzzed here)
FUZZ_SRC := $(sort $(wildcard src/core/*.c) $(filter-out src/io/checkpoint.c,$(wildcard src/io/*.c)))
FUZZ_HDR := include/attn.h $(PUBLIC_HEADERS) src/core/internal.h $(wildcard src/io/*.h)

build/fuzz/fuzz_safetensors: fuzz/fuzz_safetensors.c $(FUZZ_SRC) $(FUZZ_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -Iinclude -Isrc/core -o $@ fuzz/fuzz_safetensors.c $(FUZZ_SRC) -lcjson -lm -lpthread

.PHONY: fuzz fuzz-build
fuzz-build: build/fuzz/fuzz_safetensors

fuzz: build/fuzz/fuzz_safetensors
	@mkdir -p build/fuzz/corpus
	cd build/fuzz && nice -n 10 ./fuzz_safetensors -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
	    -dict=../../fuzz/safetensors.dict -print_final_stats=1 $(FUZZ_FLAGS) \
	    corpus ../../fuzz/corpus/safetensors
