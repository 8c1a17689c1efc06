#include "atod.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "ggml-cpu.h"

struct atod_ctx {
    struct llama_model        * model;
    struct llama_context      * lctx;
    struct llama_context_params cparams;
    struct llama_batch          batch;        // n_batch tokens, one sequence id each
    int32_t                     n_vocab;
    int32_t                     n_threads;    // for reducing logits
    int64_t                     reduce_chunk; // logits per reduce thread, at least
    float                     * scratch_p;    // n_threads × n_vocab, for atod_reduce
    int32_t                   * scratch_i;    // n_threads × n_vocab
    const float              ** rows;         // n_batch: logits of the outputs of one llama_decode
    int32_t                   * row_out;      // n_batch: where each goes in outs
};

atod_ctx * atod_ctx_new(struct llama_model * model, struct llama_context_params cparams) {
    struct llama_context * lctx = llama_init_from_model(model, cparams);
    if (lctx == NULL) {
        return NULL;
    }
    atod_ctx * c = calloc(1, sizeof(atod_ctx));
    c->model     = model;
    c->lctx      = lctx;
    c->cparams   = cparams;
    c->batch     = llama_batch_init((int32_t) llama_n_batch(lctx), 0, 1);
    c->n_vocab   = llama_vocab_n_tokens(llama_model_get_vocab(model));
    atod_ctx_set_reduce(c, 1 << 20, cparams.n_threads); // threads pay off from ~1 ms of work each
    c->rows      = malloc(sizeof(float *) * llama_n_batch(lctx));
    c->row_out   = malloc(sizeof(int32_t) * llama_n_batch(lctx));
    return c;
}

void atod_ctx_free(atod_ctx * c) {
    if (c == NULL) {
        return;
    }
    free(c->row_out);
    free(c->rows);
    free(c->scratch_i);
    free(c->scratch_p);
    llama_batch_free(c->batch);
    if (c->lctx) {
        llama_free(c->lctx);
    }
    free(c);
}

void atod_ctx_set_reduce(atod_ctx * c, int64_t chunk, int32_t n_threads) {
    c->reduce_chunk = chunk > 0 ? chunk : 1;
    c->n_threads    = n_threads > 0 ? n_threads : 1;
    c->scratch_p    = realloc(c->scratch_p, sizeof(float) * c->n_vocab * c->n_threads);
    c->scratch_i    = realloc(c->scratch_i, sizeof(int32_t) * c->n_vocab * c->n_threads);
}

struct llama_context * atod_ctx_llama(atod_ctx * c) {
    return c->lctx;
}

// llama.cpp reuses the previous compute graph when the next batch has the same shape, and that graph
// still multiplies by the previous adapter set, so switching adapters takes a fresh llama_context.
// The old one is freed first so that two KV caches never have to fit at once.
// Returns -1 when the new context cannot be made (c->lctx is then NULL).
int atod_ctx_set_adapter(atod_ctx * c, struct llama_adapter_lora * adapter, float scale) {
    if (c->lctx) {
        llama_free(c->lctx);
    }
    c->lctx = llama_init_from_model(c->model, c->cparams);
    if (c->lctx == NULL) {
        return -1;
    }
    if (adapter) {
        llama_set_adapter_lora(c->lctx, adapter, scale);
    }
    return 0;
}

// reduce_rows reduces the logits rows t, t+stride, ... of one decode; each thread has its own scratch.
typedef struct reduce_args {
    atod_ctx * c;
    int32_t    n_rows, t, stride;
    atod_out * outs;
    int32_t    top_n;
    int32_t  * top_tok;
    float    * top_lp;
} reduce_args;

static void * reduce_rows(void * p) {
    reduce_args * a = p;
    atod_ctx * c = a->c;
    for (int32_t r = a->t; r < a->n_rows; r += a->stride) {
        int32_t k = c->row_out[r];
        atod_reduce(c->rows[r], c->n_vocab, &a->outs[k], a->top_n > 0 ? a->top_tok + (size_t) k * a->top_n : NULL,
                    a->top_n > 0 ? a->top_lp + (size_t) k * a->top_n : NULL,
                    c->scratch_p + (size_t) a->t * c->n_vocab, c->scratch_i + (size_t) a->t * c->n_vocab);
    }
    return NULL;
}

// reduce runs reduce_rows on the context's threads when the rows are many vocabulary-sized passes
// (large vocabularies × many sequences), else on this thread. Each row's result is the same either way.
static void reduce(atod_ctx * c, int32_t n_rows, atod_out * outs, int32_t top_n, int32_t * top_tok, float * top_lp) {
    if (n_rows == 0) {
        return;
    }
    int64_t work = (int64_t) n_rows * c->n_vocab;
    int32_t n_threads = (int32_t) (work / c->reduce_chunk) + 1;
    n_threads = n_threads < c->n_threads ? n_threads : c->n_threads;
    n_threads = n_threads < n_rows ? n_threads : n_rows;
    reduce_args args[n_threads];
    pthread_t   tid[n_threads];
    for (int32_t t = 0; t < n_threads; t++) {
        args[t] = (reduce_args) { c, n_rows, t, n_threads, outs, top_n, top_tok, top_lp };
        if (t > 0 && pthread_create(&tid[t], NULL, reduce_rows, &args[t]) != 0) {
            args[t].stride = -1; // not started: this thread does its rows below
        }
    }
    reduce_rows(&args[0]);
    for (int32_t t = 1; t < n_threads; t++) {
        if (args[t].stride < 0) {
            args[t].stride = n_threads;
            reduce_rows(&args[t]);
        } else {
            pthread_join(tid[t], NULL);
        }
    }
}

int atod_decode(atod_ctx * c, int32_t n, const int32_t * tok, const int32_t * pos, const int32_t * seq,
                const int32_t * out, atod_out * outs, int32_t top_n, int32_t * top_tok, float * top_lp) {
    const int32_t n_batch = (int32_t) llama_n_batch(c->lctx);
    struct llama_batch b = c->batch;
    for (int32_t i0 = 0; i0 < n; i0 += n_batch) {
        b.n_tokens = n - i0 < n_batch ? n - i0 : n_batch;
        for (int32_t j = 0; j < b.n_tokens; j++) {
            b.token[j]     = tok[i0 + j];
            b.pos[j]       = pos[i0 + j];
            b.n_seq_id[j]  = 1;
            b.seq_id[j][0] = seq[i0 + j];
            b.logits[j]    = out[i0 + j] >= 0;
        }
        int rc = llama_decode(c->lctx, b);
        if (rc != 0) {
            return rc;
        }
        int32_t n_rows = 0;
        for (int32_t j = 0; j < b.n_tokens; j++) {
            if (out[i0 + j] < 0) {
                continue;
            }
            c->rows[n_rows] = llama_get_logits_ith(c->lctx, j);
            c->row_out[n_rows] = out[i0 + j];
            if (c->rows[n_rows++] == NULL) {
                return -3;
            }
        }
        reduce(c, n_rows, outs, top_n, top_tok, top_lp);
    }
    return 0;
}

int atod_raw_generate(atod_ctx * c, int32_t n_seq, const int32_t * prompt, int32_t n_prompt, const int32_t * n_gen,
                      float temp, uint64_t seed) {
    const int32_t n_batch = (int32_t) llama_n_batch(c->lctx);
    struct llama_batch b = c->batch;
    atod_out * o = calloc(n_seq, sizeof(atod_out));
    int rc = 0;
    for (int32_t s = 0; s < n_seq; s++) {
        o[s].target = -1;
        o[s].temp = temp;
        o[s].rng = seed + (uint64_t) s;
    }
    llama_memory_clear(llama_get_memory(c->lctx), true);

    // prompts: n_seq × n_prompt tokens, logits at each prompt's last token
    for (int32_t i0 = 0; i0 < n_seq * n_prompt && rc == 0; i0 += n_batch) {
        b.n_tokens = n_seq * n_prompt - i0 < n_batch ? n_seq * n_prompt - i0 : n_batch;
        for (int32_t j = 0; j < b.n_tokens; j++) {
            b.token[j]     = prompt[i0 + j];
            b.pos[j]       = (i0 + j) % n_prompt;
            b.n_seq_id[j]  = 1;
            b.seq_id[j][0] = (i0 + j) / n_prompt;
            b.logits[j]    = b.pos[j] == n_prompt - 1;
        }
        rc = llama_decode(c->lctx, b);
        for (int32_t j = 0; j < b.n_tokens && rc == 0; j++) {
            if (b.logits[j]) {
                atod_reduce(llama_get_logits_ith(c->lctx, j), c->n_vocab, &o[b.seq_id[j][0]], NULL, NULL,
                            c->scratch_p, c->scratch_i);
            }
        }
    }
    // generation: sequence s decodes its latest token until it has n_gen[s] tokens
    for (int32_t step = 1; rc == 0; step++) {
        b.n_tokens = 0;
        for (int32_t s = 0; s < n_seq; s++) {
            if (step < n_gen[s]) {
                b.token[b.n_tokens]     = o[s].token;
                b.pos[b.n_tokens]       = n_prompt + step - 1;
                b.n_seq_id[b.n_tokens]  = 1;
                b.seq_id[b.n_tokens][0] = s;
                b.logits[b.n_tokens]    = true;
                b.n_tokens++;
            }
        }
        if (b.n_tokens == 0) {
            break;
        }
        rc = llama_decode(c->lctx, b);
        for (int32_t j = 0; j < b.n_tokens && rc == 0; j++) {
            atod_reduce(llama_get_logits_ith(c->lctx, j), c->n_vocab, &o[b.seq_id[j][0]], NULL, NULL,
                        c->scratch_p, c->scratch_i);
        }
    }
    free(o);
    return rc;
}

int atod_raw_prefill(atod_ctx * c, const int32_t * tok, int32_t n) {
    const int32_t n_batch = (int32_t) llama_n_batch(c->lctx);
    struct llama_batch b = c->batch;
    llama_memory_clear(llama_get_memory(c->lctx), true);
    for (int32_t i0 = 0; i0 < n; i0 += n_batch) {
        b.n_tokens = n - i0 < n_batch ? n - i0 : n_batch;
        for (int32_t j = 0; j < b.n_tokens; j++) {
            b.token[j]     = tok[i0 + j];
            b.pos[j]       = i0 + j;
            b.n_seq_id[j]  = 1;
            b.seq_id[j][0] = 0;
            b.logits[j]    = true;
        }
        int rc = llama_decode(c->lctx, b);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

double atod_raw_matmul(int64_t n_in, int64_t n_out, int64_t n_tok, int32_t n_threads) {
    // the tensors, the graph, and ggml's work buffer (F32 needs no conversion of src1, some slack)
    size_t mem = (size_t) (n_in * n_out + n_in * n_tok + n_out * n_tok) * sizeof(float) + 4 * ggml_tensor_overhead() +
                 ggml_graph_overhead() + (size_t) n_threads * (1 << 20) + (1 << 20);
    struct ggml_context * ctx = ggml_init((struct ggml_init_params) { mem, NULL, false });
    if (ctx == NULL) {
        return -1;
    }
    struct ggml_tensor * w = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, n_in, n_out);
    struct ggml_tensor * x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, n_in, n_tok);
    for (int64_t i = 0; i < ggml_nelements(w); i++) {
        ((float *) w->data)[i] = (float) (i % 7) * 0.01f;
    }
    for (int64_t i = 0; i < ggml_nelements(x); i++) {
        ((float *) x->data)[i] = (float) (i % 5) * 0.01f;
    }
    struct ggml_cgraph * gf = ggml_new_graph(ctx);
    ggml_build_forward_expand(gf, ggml_mul_mat(ctx, w, x));
    double s = -1;
    struct timespec t0, t1;
    for (int rep = 0; rep < 2; rep++) {
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (ggml_graph_compute_with_ctx(ctx, gf, n_threads) != GGML_STATUS_SUCCESS) {
            s = -1;
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        s = (double) (t1.tv_sec - t0.tv_sec) + 1e-9 * (double) (t1.tv_nsec - t0.tv_nsec);
    }
    ggml_free(ctx);
    return s;
}
