# gemm: `attn bench gemm` compares attn_sgemm with OpenBLAS (Debian's libopenblas-dev) when
# pkg-config finds it; without it the command is built all the same and times attn alone (the
# demo and the library do not need OpenBLAS).
HAVE_OPENBLAS := $(shell pkg-config --exists openblas 2>/dev/null && echo 1)
ifeq ($(HAVE_OPENBLAS),1)
CLI_LDLIBS += -lopenblas
$(BUILD)/obj/tools/attn/bench_gemm.o: CFLAGS_ALL += -DATTN_HAVE_OPENBLAS
endif

.PHONY: bench-gemm
bench-gemm:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory features lib cli
	@$(BUILD)/attn bench gemm
