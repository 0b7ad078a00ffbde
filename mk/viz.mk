# mk/viz.mk — the visualisation layer of the attn command (tools/attn/viz_*.c) needs cairo and
# cJSON; libattn does not. The page's script and style live in tools/attn/viz_page.{js,css} and
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

# tests/viz/test_viz_tool.c unit-tests the command's cairo-free viz code (its record, the JSON
# reader, the metrics table) on its own Criterion binary, run by scripts/test.d/viz.sh; libattn's
# attention analysis itself is tested in the C test binary (tests/c/test_viz.c).
VIZ_TOOL_OBJ := $(BUILD)/obj/tools/attn/viz_record.o $(BUILD)/obj/tools/attn/viz_json.o \
                $(BUILD)/obj/tools/attn/viz_overlay.o \
                $(BUILD)/obj/tools/attn/viz_metrics.o
$(BUILD)/obj/tests/viz/%.o: CFLAGS_ALL += $(shell pkg-config --cflags libcjson 2>/dev/null) -Wno-missing-field-initializers
$(BUILD)/test_viz_tool: $(BUILD)/obj/tests/viz/test_viz_tool.o $(VIZ_TOOL_OBJ) $(BUILD)/libattn.a
	$(CC) $(SANFLAGS) -o $@ $^ -lcriterion $(shell pkg-config --libs libcjson 2>/dev/null) $(LIB_LDLIBS) $(LDLIBS_LIB)
ifeq ($(HAVE_CRITERION),1)
tests: $(BUILD)/test_viz_tool
endif
-include $(BUILD)/obj/tests/viz/test_viz_tool.d

