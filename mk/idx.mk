# mk/idx.mk — libFuzzer target for the IDX loader and image sets (clang, ASan + UBSan).
#   make fuzz-idx && build/fuzz_idx -max_total_time=60 -max_len=4096 fuzz/corpus/idx
# Seeds in fuzz/corpus/idx/ (written by fuzz/make_idx_corpus.py); scripts/test.d/fuzz_idx.sh
# replays them in `make test`. Keep a minimised crash there as regress_<what>.idx once fixed.
FUZZ_IDX_SRC := src/data/idx.c src/data/image_aug.c src/core/error.c src/core/rng.c
.PHONY: fuzz-idx
fuzz-idx: $(BUILD)/fuzz_idx
$(BUILD)/fuzz_idx: tests/fuzz/fuzz_idx.c $(FUZZ_IDX_SRC) include/attn.h $(PUBLIC_HEADERS) src/data/data_internal.h src/core/internal.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -Iinclude -Isrc/core -o $@ tests/fuzz/fuzz_idx.c $(FUZZ_IDX_SRC) -lz -lm
