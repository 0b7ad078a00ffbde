# mk/viz.mk — the drawing side of the attn command (tools/attn/viz_*.c) needs cairo (and cJSON
# for index.json); libattn does not need cairo. The page's script and style live in tools/attn/viz_page.{js,css} and
# are turned into a C header at build time, so they stay readable (and checkable by node).
VIZ_PKGS := cairo fontconfig libcjson
CLI_LDLIBS += $(shell pkg-config --libs $(VIZ_PKGS) 2>/dev/null)
$(BUILD)/obj/tools/attn/viz_%.o: CFLAGS_ALL += $(shell pkg-config --cflags $(VIZ_PKGS) 2>/dev/null) -I$(BUILD)/gen

$(BUILD)/gen/viz_page.h: tools/attn/viz_page.js tools/attn/viz_page.css scripts/embed_text.sh
	@mkdir -p $(dir $@)
	scripts/embed_text.sh viz_page_js tools/attn/viz_page.js viz_page_css tools/attn/viz_page.css > $@.tmp
	mv $@.tmp $@
$(BUILD)/obj/tools/attn/viz_html.o: $(BUILD)/gen/viz_page.h

# The sanitizer build (`make SAN=1 tests`, part of `make test`) also builds build-san/attn, so
# scripts/test.d/viz.sh can run the viz command-line checks under ASan+UBSan with leak checks.
ifeq ($(SAN),1)
tests: $(BUILD)/attn
endif

# The viewer's data model (attention views, attention.json) is libattn's (src/analysis/view*.c),
# tested in the C test binary (tests/c/test_view.c).
