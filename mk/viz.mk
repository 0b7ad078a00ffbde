# mk/viz.mk — the drawing side of the attn command (tools/attn/viz_*.c) needs cairo (and cJSON
# for index.json); libattn does not need cairo. The page's markup, script and style live in
# tools/viewer/page.{html,js,css} and are turned into a C header at build time, so they stay
# readable (and checkable by node).
VIZ_PKGS := cairo fontconfig libcjson
CLI_LDLIBS += $(shell pkg-config --libs $(VIZ_PKGS) 2>/dev/null)
$(BUILD)/obj/tools/attn/viz_%.o: CFLAGS_ALL += $(shell pkg-config --cflags $(VIZ_PKGS) 2>/dev/null) -I$(BUILD)/gen

$(BUILD)/gen/viz_page.h: tools/viewer/page.html tools/viewer/page.js tools/viewer/page.css scripts/embed_text.sh
	@mkdir -p $(dir $@)
	scripts/embed_text.sh viz_page_html tools/viewer/page.html viz_page_js tools/viewer/page.js \
	    viz_page_css tools/viewer/page.css > $@.tmp
	mv $@.tmp $@
$(BUILD)/obj/tools/attn/viz_html.o: $(BUILD)/gen/viz_page.h

# The sanitizer build (`make SAN=1 tests`, part of `make test`) also builds build-san/attn, so
# scripts/test.d/viz.sh can run the viz command-line checks under ASan+UBSan with leak checks.
ifeq ($(SAN),1)
tests: $(BUILD)/attn
endif

# The viewer's data model (attention views, attention.json) is libattn's (src/analysis/view*.c),
# tested in the C test binary (tests/c/test_view.c).

# The attention views of the tokenizer module's models (tools/text/text_view.c, header
# attn/text_view.h) go into libattn_text.a beside the translator; their test program
# (tests/text/test_text_view.c) is run by scripts/test.d/viz.sh.
VIZ_TEXT_OBJ := $(BUILD)/obj/tools/text/text_view.o
$(VIZ_TEXT_OBJ): CFLAGS_ALL += -Itools/text
$(VIZ_TEXT_OBJ): | check-cli
$(BUILD)/libattn_text.a: $(VIZ_TEXT_OBJ)
DEPS += $(VIZ_TEXT_OBJ:.o=.d) $(BUILD)/obj/tests/text/test_text_view.d
$(BUILD)/test_text_view: $(BUILD)/obj/tests/text/test_text_view.o $(BUILD)/libattn_text.a $(BUILD)/libattn.a
	$(CC) $(SANFLAGS) -o $@ $< $(BUILD)/libattn_text.a $(BUILD)/libattn.a $(TEXT_SPM_LIBS) -lstdc++ $(LIB_LDLIBS) $(LDLIBS_LIB)
tests: $(BUILD)/test_text_view
install: install-text-view
.PHONY: install-text-view
install-text-view: $(BUILD)/libattn_text.a
	install -D -m 644 tools/text/text_view.h $(DESTDIR)$(PREFIX)/include/attn/text_view.h
