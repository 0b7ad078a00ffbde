# mk/text_runs.mk — libattn_text's training runs (attn_cls_run, attn_mt_run, attn_lm_run), its
# language model with a tokenizer (attn_lm_model) and their test program (tests/text/test_runs.c,
# run by scripts/test.d/text.sh). Included after text.mk (TEXT_SPM_LIBS, the tests/text rule).
RUNS_TEXT_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,tools/text/cls_train.c tools/text/mt_train.c \
                   tools/text/lm_train.c tools/text/lm_model.c tools/text/spm_share.c \
                   tools/text/cls_predict.c tools/text/mt_score.c)
$(RUNS_TEXT_OBJ): CFLAGS_ALL += -Itools/text
$(RUNS_TEXT_OBJ): | check-cli
$(BUILD)/libattn_text.a: $(RUNS_TEXT_OBJ)
DEPS += $(RUNS_TEXT_OBJ:.o=.d)

$(BUILD)/test_text_runs: $(BUILD)/obj/tests/text/test_runs.o $(BUILD)/libattn_text.a $(BUILD)/libattn.a
	$(CC) $(SANFLAGS) -o $@ $< $(BUILD)/libattn_text.a $(BUILD)/libattn.a $(TEXT_SPM_LIBS) -lstdc++ $(LIB_LDLIBS) $(LDLIBS_LIB)
tests: $(BUILD)/test_text_runs
DEPS += $(BUILD)/obj/tests/text/test_runs.d
