/* flash.c — placeholder until the fused kernel lands: it serves nothing, so AUTO uses the
 * reference kernel. */
#include "sdpa_internal.h"

int attn_sdpa_flash_supported(const attn_sdpa_problem *p)
{
    (void)p;
    return 0;
}

int attn_sdpa_flash_forward(const attn_sdpa_problem *p, float *lse)
{
    (void)p, (void)lse;
    return attn_fail(ATTN_E_UNSUPPORTED, "attn_sdpa_forward: fused kernel not built");
}

int attn_sdpa_flash_backward(const attn_sdpa_problem *p, const attn_tensor *out, const float *lse,
                             const attn_tensor *dout, const attn_tensor *dq, const attn_tensor *dk,
                             const attn_tensor *dv, const attn_tensor *dbias)
{
    (void)p, (void)out, (void)lse, (void)dout, (void)dq, (void)dk, (void)dv, (void)dbias;
    return attn_fail(ATTN_E_UNSUPPORTED, "attn_sdpa_backward: fused kernel not built");
}
