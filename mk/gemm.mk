# gemm: `attn bench gemm` compares attn_sgemm with OpenBLAS (Debian's libopenblas-dev).
CLI_LDLIBS += -lopenblas

.PHONY: bench-gemm
bench-gemm: all
	@$(BUILD)/attn bench gemm
