# mk/hostile.mk — hostile input (issue 19): the sanitizer build of the attn command for
# scripts/test.d/hostile.sh, and the libFuzzer targets of the loaders (clang, ASan + UBSan):
#   build/fuzz/fuzz_checkpoint  safetensors → metadata → configuration → model _open → forward
#   build/fuzz/fuzz_base64      the strict base64 decoder (round trips both ways)
#   build/fuzz/fuzz_data        the dataset loaders under a 64 KiB limit (gzip bombs)
#   build/fuzz/fuzz_view        attention.json (attn_attention_view_parse): refused, or a fixed point
# `make fuzz-loaders` builds them; `make fuzz-loaders-run` runs each for FUZZ_LOADER_SECONDS at
# nice 19, one at a time, adding what it finds to build/fuzz/corpus-<name>/ (the committed
# seeds and regression inputs in fuzz/corpus/<name>/ are only read);
# scripts/test.d/fuzz_loaders.sh replays fuzz/corpus/<name>/ in `make test`.
# The library is compiled once more with clang into build/fuzz/obj/ (OpenMP pragmas ignored:
# one thread), each SIMD file with its own ISA flags as in the main build.

ifeq ($(SAN),1)
tests: $(BUILD)/attn
endif

FZ_CC ?= clang
FZ_CFLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
             -fno-sanitize-recover=undefined -Wno-unknown-pragmas -Iinclude -Isrc/core
FZ_LIB_OBJ := $(patsubst %.c,build/fuzz/obj/%.o,$(LIB_SRC))
FZ_TARGETS := build/fuzz/fuzz_checkpoint build/fuzz/fuzz_base64 build/fuzz/fuzz_data build/fuzz/fuzz_view
FUZZ_LOADER_SECONDS ?= 600

build/fuzz/obj/%_avx512.o: %_avx512.c
	@mkdir -p $(dir $@)
	$(FZ_CC) $(FZ_CFLAGS) $(ISA_AVX512) -MMD -MP -c $< -o $@
build/fuzz/obj/%_avx2.o: %_avx2.c
	@mkdir -p $(dir $@)
	$(FZ_CC) $(FZ_CFLAGS) $(ISA_AVX2) -MMD -MP -c $< -o $@
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FZ_CC) $(FZ_CFLAGS) -MMD -MP -c $< -o $@

build/fuzz/libattn_fuzz.a: $(FZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c build/fuzz/libattn_fuzz.a
	$(FZ_CC) $(FZ_CFLAGS) -fsanitize=fuzzer -o $@ $< build/fuzz/libattn_fuzz.a $(LIB_LDLIBS) -lm -lpthread

# the seed checkpoints (one small model of each kind), written by the library itself
build/fuzz/fuzz_seeds: tests/fuzz/fuzz_seeds.c $(BUILD)/libattn.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libattn.a $(LIB_LDLIBS) $(LDLIBS_LIB)

.PHONY: fuzz-loaders fuzz-loaders-run fuzz-seeds
fuzz-loaders: $(FZ_TARGETS)
fuzz-seeds: build/fuzz/fuzz_seeds
	@mkdir -p fuzz/corpus/checkpoint
	build/fuzz/fuzz_seeds fuzz/corpus/checkpoint
fuzz-loaders-run: $(FZ_TARGETS)
	@for t in checkpoint base64 data view; do \
	    mkdir -p build/fuzz/corpus-$$t fuzz/corpus/$$t; \
	    nice -n 19 build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_LOADER_SECONDS) -rss_limit_mb=1024 \
	        -malloc_limit_mb=512 -max_len=65536 -print_final_stats=1 -artifact_prefix=build/fuzz/$$t- \
	        build/fuzz/corpus-$$t fuzz/corpus/$$t || exit 1; \
	done

DEPS += $(FZ_LIB_OBJ:.o=.d)
