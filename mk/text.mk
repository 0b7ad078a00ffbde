# mk/text.mk — the text part: zlib for the dataset loaders, and the SentencePiece shim
# (C++17, outside libattn) for the attn command and its own test program.
LIB_LDLIBS += -lz

TEXT_SHIM_OBJ := $(BUILD)/obj/tools/text/spm_shim.o
TEXT_SPM_LIBS := -lsentencepiece -lsentencepiece_train
CLI_EXTRA += $(BUILD)/libattn_text.a
CLI_LDLIBS += $(TEXT_SPM_LIBS)

$(TEXT_SHIM_OBJ): tools/text/spm_shim.cc tools/text/spm.h include/attn.h $(PUBLIC_HEADERS)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -O2 -g -Wall -Wextra -Werror -fPIC -Iinclude -Itools/text $(SANFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libattn_text.a: $(TEXT_SHIM_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The shim's test program: C, linked with the C++ runtime (kept out of build/test_attn).
$(BUILD)/obj/tests/text/%.o: tests/text/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itools/text -MMD -MP -c $< -o $@

$(BUILD)/test_spm: $(BUILD)/obj/tests/text/test_spm.o $(BUILD)/libattn_text.a $(BUILD)/libattn.a
	$(CC) $(SANFLAGS) -o $@ $< $(BUILD)/libattn_text.a $(BUILD)/libattn.a $(TEXT_SPM_LIBS) -lstdc++ $(LIB_LDLIBS) $(LDLIBS_LIB)

tests: $(BUILD)/test_spm
DEPS += $(TEXT_SHIM_OBJ:.o=.d) $(BUILD)/obj/tests/text/test_spm.d

# libFuzzer target for cleaning, UTF-8, the BLEU tokeniser, BLEU/chrF and the loaders (clang),
# linked against the whole library compiled with clang (mk/hostile.mk's build/fuzz/fuzz_% rule:
# the text code reaches JSON and base64, which a hand-picked list of sources kept missing).
#   make fuzz-text && build/fuzz/fuzz_text -max_total_time=60
FUZZ_CC ?= clang
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude -Isrc/core
.PHONY: fuzz-text
fuzz-text: build/fuzz/fuzz_text

# libFuzzer target for loading SentencePiece models from bytes (clang; SentencePiece itself is
# not instrumented, so seed it with real models).
.PHONY: fuzz-spm
fuzz-spm: $(BUILD)/fuzz_spm
$(BUILD)/fuzz_spm: tests/fuzz/fuzz_spm.c tools/text/spm_shim.cc tools/text/spm.h
	@mkdir -p $(BUILD)/obj/fuzz
	clang++ -std=c++17 -O1 -g -fsanitize=fuzzer-no-link,address -Iinclude -Itools/text -c tools/text/spm_shim.cc -o $(BUILD)/obj/fuzz/spm_shim.o
	$(FUZZ_CC) -std=c11 -O1 -g -fsanitize=fuzzer,address -Iinclude -Itools/text -c tests/fuzz/fuzz_spm.c -o $(BUILD)/obj/fuzz/fuzz_spm.o
	clang++ -fsanitize=fuzzer,address -o $@ $(BUILD)/obj/fuzz/fuzz_spm.o $(BUILD)/obj/fuzz/spm_shim.o $(TEXT_SPM_LIBS)

# The tokenizer module: the SentencePiece shim (C++) and the text translator (C) in one archive,
# libattn_text.a, installed with its headers as attn/spm.h, attn/translator.h, attn/lm_spm.h,
# attn/text_classifier.h and `attn-text.pc`.
TEXT_C_OBJ := $(BUILD)/obj/tools/text/translator.o $(BUILD)/obj/tools/text/lm_spm.o $(BUILD)/obj/tools/text/spm_lines.o \
              $(BUILD)/obj/tools/text/text_classifier.o $(BUILD)/obj/tools/text/mt_data.o
$(TEXT_C_OBJ): CFLAGS_ALL += -Itools/text
$(BUILD)/libattn_text.a: $(TEXT_C_OBJ)
DEPS += $(TEXT_C_OBJ:.o=.d)
