/* mt_train.c — `attn train translate --arch transformer|gru --data DIR --out DIR [--config F]
 * [--resume]`: an encoder–decoder Transformer, or the GRU encoder–decoder with additive
 * attention, on a parallel corpus (Multi30k layout:
 * DIR/train.en, train.de, val.en, val.de) with a joint SentencePiece BPE vocabulary learned
 * from the training text, label smoothing, warm-up + inverse-square-root learning rate and
 * token-based batches of similar lengths. Each epoch: validation loss and BLEU (greedy) in
 * DIR/metrics.csv; run.safetensors (the whole run state in one atomic file: --resume reads it
 * alone), model.safetensors (last) and best.safetensors (best validation BLEU), self-contained
 * (the tokenizer is in their metadata). Optionally the last N epochs' weights are averaged and
 * the run names its final model: the best epoch or the average, whichever validates better.
 *
 * The batches, the loss and the loop are the library's (attn_mt_task_*, attn_train_run in
 * attn/train.h); this file tokenizes, prints and scores BLEU.
 *
 * Under `mpirun -np N` the run is data-parallel: every rank cuts the same batches, takes its
 * contiguous share of each batch's sentence pairs, and the gradients are summed weighted by each
 * rank's share of the batch's target tokens — the gradient of the whole batch's mean loss, as
 * one process computes it. Rank 0 learns the tokenizer and sends it to the others, decides when
 * the time limit stops the run, prints and writes every file; all ranks validate (it keeps them
 * in step). --resume reads DIR on every rank (DIR shared, as the demo's). */
#include "args.h"
#include "cli.h"
#include "config.h"

#include "bench_util.h"
#include "dist_train.h"
#include "mt.h"
#include "train_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct mt_cfg {
    attn_mt_run_config r; /* the configuration file's (attn/train.h) */
    int is_gru, threads, resume;
    const char *data, *out;
} mt_cfg;

/* ---- the command ------------------------------------------------------------------------------ */

static int load_pair(const char *dir, const char *split, attn_parallel **out)
{
    char s[600], t[600];
    snprintf(s, sizeof s, "%s/%s.en", dir, split);
    snprintf(t, sizeof t, "%s/%s.de", dir, split);
    return attn_parallel_load(s, t, out);
}

int cli_train_translate(int argc, char **argv)
{
    mt_cfg c = {0};
    const char *config = NULL;
    int arch_i = 0, epochs_cli = 0;
    double minutes_cli = 0;
    const arg_opt opts[] = {
        {"arch", 'a', ARG_CHOICE, &arch_i, .choices = "transformer|gru", .help = "the model"},
        {"data", 'd', ARG_STR, &c.data, .meta = "DIR", .help = "train.en/.de and val.en/.de (required)"},
        {"out", 'o', ARG_STR, &c.out, .meta = "DIR", .help = "run directory (required)"},
        {"config", 'c', ARG_STR, &config, .meta = "FILE", .help = "JSON configuration (keys below)"},
        {"threads", 'j', ARG_INT, &c.threads, .lo = 0, .hi = 4096, .help = "threads (0: all cores)"},
        {"epochs", 0, ARG_INT, &epochs_cli, .lo = 0, .hi = 100000, .help = "epochs (0: the configuration's)"},
        {"max-minutes", 0, ARG_DOUBLE, &minutes_cli, .lo = 0, .hi = 1e7,
         .help = "time limit of the whole command (0: the configuration's)"},
        {"resume", 0, ARG_FLAG, &c.resume, .help = "continue the run in --out"},
        {0}};
    const arg_spec spec = {
        .cmd = "train translate", .synopsis = "--data DIR --out DIR [options]", .opts = opts,
        .about = "An encoder-decoder (Transformer, or GRU with additive attention) on a parallel corpus,\n"
                 "with a joint SentencePiece BPE learned from the training text.",
        .epilog = "Configuration keys: vocab dropout max_len batch_tokens lr warmup epochs label_smoothing clip\n"
                  "  weight_decay max_minutes avg_last val_bleu_sentences seed schedule (invsqrt|budget)\n"
                  "  transformer: d_model nhead encoder_layers decoder_layers ff tie_output scale_embedding\n"
                  "  gru: emb enc_hidden enc_layers dec_hidden attn_size out_size\n"
                  "Defaults: transformer warmup 400, schedule budget, scale_embedding 1, 60 minutes;\n"
                  "  gru warmup 200, schedule invsqrt, 90 minutes.\n"};
    ARGS_PARSE_OR_RETURN(&spec, argc, argv, NULL, NULL);
    if (!c.data || !c.out) return args_usage_error(&spec, "--data and --out are required");
    const char *arch = arch_i ? "gru" : "transformer";
    c.is_gru = !strcmp(arch, "gru");
    attn_mt_run_config_default(&c.r, c.is_gru);
    if (config) {
        int legacy = 0, st = attn_mt_run_config_load(config, &c.r, &legacy);
        if (cfg_report("train translate", config, legacy, st)) return 2;
    }
    if (epochs_cli > 0) c.r.epochs = epochs_cli;
    if (minutes_cli > 0) c.r.max_minutes = minutes_cli;
    if (c.is_gru && c.r.tie_output) {
        fprintf(stderr, "attn train translate: tie_output is a Transformer option (the GRU's output layer is not "
                        "embedding-sized)\n");
        return 2;
    }
    const int64_t max_len = c.is_gru ? c.r.gru.max_len : c.r.model.max_len;
    if (c.r.batch_tokens < max_len)
        return args_usage_error(&spec, "batch_tokens %ld is below max_len %lld", c.r.batch_tokens, (long long)max_len);
    if (!(c.r.lr > 0)) return args_usage_error(&spec, "lr must be above 0");
    if (c.threads) attn_set_num_threads(c.threads);
    const double t0 = attn_now();
    attn_parallel *train = NULL, *val = NULL;
    attn_spm *sp = NULL;
    char *b64 = NULL, path[4200];
    attn_mt_pair *tr = NULL, *va = NULL;
    int64_t ntr = 0, nva = 0;
    mt_model mm = {0};
    attn_tape *t = NULL;
    attn_mt_task *mt = NULL;
    attn_mpi_ctx *dc = NULL;
    if (attn_mpi_init(&argc, &argv, &dc)) {
        fprintf(stderr, "attn train translate: %s\n", attn_last_error());
        return 1;
    }
    const int rank = attn_mpi_rank(dc), ranks = attn_mpi_size(dc);
    { /* every rank must run the same job; rank 0 names the first that differs */
        char desc[800];
        int n = snprintf(desc, sizeof desc,
                         "arch=%s vocab=%d epochs=%d batch_tokens=%ld lr=%.9g warmup=%ld ls=%.9g clip=%.9g "
                         "wd=%.9g minutes=%.9g avg=%d tie=%d scale=%d sched=%d resume=%d seed=%llu d=%lld ff=%lld l=%lld+%lld "
                         "h=%lld emb=%lld enc=%lldx%lld dec=%lld att=%lld out=%lld drop=%.9g/%.9g len=%lld/%lld",
                         arch, c.r.vocab, c.r.epochs, c.r.batch_tokens, (double)c.r.lr, c.r.warmup,
                         (double)c.r.label_smoothing, (double)c.r.clip, (double)c.r.weight_decay, c.r.max_minutes,
                         c.r.avg_last, c.r.tie_output, c.r.model.scale_embedding, c.r.budget_schedule, c.resume,
                         (unsigned long long)c.r.seed,
                         (long long)c.r.model.d_model, (long long)c.r.model.dim_feedforward,
                         (long long)c.r.model.num_encoder_layers, (long long)c.r.model.num_decoder_layers,
                         (long long)c.r.model.nhead, (long long)c.r.gru.emb_size, (long long)c.r.gru.enc_layers,
                         (long long)c.r.gru.enc_hidden, (long long)c.r.gru.dec_hidden, (long long)c.r.gru.attn_size,
                         (long long)c.r.gru.out_size, (double)c.r.model.dropout, (double)c.r.gru.dropout,
                         (long long)c.r.model.max_len, (long long)c.r.gru.max_len);
        n = n < 0 ? 0 : n >= (int)sizeof desc ? (int)sizeof desc - 1 : n; /* what was written */
        if (attn_mpi_check_same(dc, desc, (size_t)n, "the training configuration")) {
            if (rank == 0) fprintf(stderr, "attn train translate: %s\n", attn_last_error());
            attn_mpi_finalize(dc);
            return 1;
        }
    }
    if (rank > 0 && !freopen("/dev/null", "w", stdout)) return 1; /* rank 0 alone prints */
    int st = load_pair(c.data, "train", &train);
    if (st == ATTN_OK) st = load_pair(c.data, "val", &val);
    if (st == ATTN_OK && rank == 0) st = attn_run_dir_prepare(c.out); /* once the data is there */
    if (st) {
        cli_error("train translate", c.data, st);
        goto done;
    }
    const uint64_t data_hash = attn_parallel_hash(train);
    if (rank == 0 && c.resume) { /* the tokenizer the run state holds, not a file beside it */
        snprintf(path, sizeof path, "%s/run.safetensors", c.out);
        st = attn_spm_from_checkpoint(path, &sp);
    } else if (rank == 0) {
        printf("learning a joint BPE vocabulary of %d pieces from %lld training pairs\n", c.r.vocab,
               (long long)train->n);
        fflush(stdout);
        st = attn_spm_train_joint(train, c.r.vocab, (uint32_t)c.r.seed, &sp);
        snprintf(path, sizeof path, "%s/spm.model", c.out);
        if (st == ATTN_OK) st = attn_spm_save_atomic(sp, path);
    }
    if (ranks > 1) st = dist_share_tokenizer(dc, st, &sp, "attn train translate");
    int32_t V = 0;
    if (st == ATTN_OK) st = attn_spm_vocab_size(sp, &V);
    if (st == ATTN_OK) st = attn_spm_to_base64(sp, &b64);
    int64_t drop_tr = 0, drop_va = 0;
    if (st == ATTN_OK) st = attn_mt_encode_pairs(train, sp, max_len, &tr, &ntr, &drop_tr);
    if (st == ATTN_OK) st = attn_mt_encode_pairs(val, sp, max_len, &va, &nva, &drop_va);
    if (st) {
        cli_error("train translate", "tokenizer and data", st);
        goto done;
    }
    c.r.model.src_vocab = c.r.model.tgt_vocab = c.r.gru.src_vocab = c.r.gru.tgt_vocab = V;
    st = c.is_gru ? attn_gru_seq2seq_create(&c.r.gru, c.r.seed, &mm.gru) : attn_seq2seq_create(&c.r.model, c.r.seed, &mm.tf);
    attn_param *untied = NULL; /* generator.weight left out of the graph when tied */
    if (st == ATTN_OK && c.r.tie_output && mm.tf) { /* output projection = target embedding (shared param) */
        untied = mm.tf->generator.weight;
        mm.tf->generator.weight = mm.tf->tgt_embed.weight;
    }
    attn_tape_config tc = {.num_threads = c.threads, .seed = c.r.seed ^ 0x5eedull};
    if (st == ATTN_OK) st = attn_tape_create(&tc, &t);
    attn_mt_bleu_hook bh = {mm.tf, mm.gru, sp, val, c.r.val_bleu_n};
    attn_mt_task_config mc = {.batch_tokens = c.r.batch_tokens, .seed = c.r.seed, .label_smoothing = c.r.label_smoothing,
                              .bos = ATTN_SPM_BOS_ID, .eos = ATTN_SPM_EOS_ID, .pad = mt_model_pad(&mm),
                              .metric = attn_mt_val_bleu, .metric_user = &bh, .tie_copy_to = untied,
                              .tie_copy_from = untied ? mm.tf->tgt_embed.weight : NULL};
    if (st == ATTN_OK) st = attn_mt_task_create(mm.tf, mm.gru, tr, ntr, va, nva, &mc, &mt);
    char meta_buf[2048];
    const char *meta_kv[64];
    if (st == ATTN_OK) st = attn_mt_model_meta(mm.tf, mm.gru, b64, untied != NULL, meta_buf, sizeof meta_buf, meta_kv, 64);
    if (st) {
        cli_error("train translate", "setup", st);
        goto done;
    }
    attn_params *P = mt_model_params(&mm);
    if (mm.gru)
        printf("attn train translate: GRU encoder-decoder with additive attention, %lld parameters (embedding "
               "%lld, bidirectional encoder %lldx%lld, decoder %lld, attention %lld, output %lld)",
               (long long)attn_params_numel(P), (long long)c.r.gru.emb_size, (long long)c.r.gru.enc_layers,
               (long long)c.r.gru.enc_hidden, (long long)c.r.gru.dec_hidden, (long long)c.r.gru.attn_size,
               (long long)c.r.gru.out_size);
    else
        printf("attn train translate: Transformer %lld parameters%s (d_model %lld, %lld+%lld layers, %lld heads, "
               "FF %lld)",
               (long long)(attn_params_numel(P) - (untied ? untied->numel : 0)),
               untied ? ", output projection tied to the embedding" : "", (long long)c.r.model.d_model,
               (long long)c.r.model.num_encoder_layers, (long long)c.r.model.num_decoder_layers,
               (long long)c.r.model.nhead, (long long)c.r.model.dim_feedforward);
    printf(", vocabulary %d, %lld training pairs (%lld too long dropped), %lld validation, %d threads\n", (int)V,
           (long long)ntr, (long long)drop_tr, (long long)nva, attn_get_num_threads());
    attn_train_task task = attn_mt_task_get(mt);
    task.meta = meta_kv;
    train_view view = {.cmd = "train translate", .out = c.out, .metric_label = "val BLEU", .epochs = c.r.epochs, .items = "target tok"};
    attn_train_comm comm;
    /* the time limit covers the whole command: what the tokenizer and the data took is spent */
    const double spent = attn_now() - t0;
    attn_train_config tcfg = {
        .out_dir = c.out, .resume = c.resume, .epochs = c.r.epochs,
        .max_seconds = c.r.max_minutes > 0 ? (c.r.max_minutes * 60 - spent > 1 ? c.r.max_minutes * 60 - spent : 1) : 0,
        .optim = {.kind = ATTN_OPTIM_ADAMW, .beta1 = 0.9f, .beta2 = 0.98f, .eps = 1e-9f, .weight_decay = c.r.weight_decay},
        .schedule = {.kind = ATTN_SCHEDULE_INVSQRT, .base_lr = c.r.lr, .warmup_steps = c.r.warmup},
        .budget = c.r.budget_schedule, .clip = c.r.clip, .average_last = c.r.avg_last, .data_hash = data_hash,
        .metric_name = "val_bleu", .items_name = "tokens", .progress = train_view_event, .progress_user = &view};
    if (ranks > 1 && (st = attn_mpi_train_comm(dc, &comm)) == ATTN_OK) tcfg.comm = &comm;
    attn_train_result r;
    if (st == ATTN_OK) st = attn_train_run(&tcfg, &task, P, t, &r);
    if (st) {
        cli_error("train translate", "training", st);
        goto done;
    }
    if (rank == 0)
        printf("result: task=multi30k arch=%s val_bleu=%.2f epochs=%lld steps=%lld minutes=%.1f "
               "tokens_per_s=%.0f best=%s/best.safetensors final=%s/%s\n",
               arch, r.final_metric, (long long)r.state.epoch, (long long)r.state.step, (attn_now() - t0) / 60,
               r.items / (r.seconds > 0 ? r.seconds : 1), c.out, c.out, r.final_name);
done:
    if (st && ranks > 1) { /* a peer may be gone: leave without MPI_Finalize, which would wait for it */
        fprintf(stderr, "attn train translate (rank %d of %d): stopped with an error\n", rank, ranks);
        fflush(stdout), fflush(stderr);
        _exit(1);
    }
    attn_mpi_finalize(dc);
    free(b64);
    attn_mt_pairs_free(tr, ntr), attn_mt_pairs_free(va, nva);
    attn_mt_task_free(mt);
    attn_tape_free(t);
    mt_model_free(&mm);
    attn_spm_free(sp);
    attn_parallel_free(train), attn_parallel_free(val);
    return st ? 1 : 0;
}
