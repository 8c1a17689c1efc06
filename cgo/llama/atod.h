// Small C layer over llama.cpp for atod: model checks and loading, batched decoding whose
// logits are reduced in C (log-prob, entropy, sampling, top-k), and benchmark baselines.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ggml-backend.h"
#include "llama.h"

#ifdef __cplusplus
extern "C" {
#endif

// logging and backends (model.c)

void         atod_init(bool debug);
void         atod_clear_error(void);
const char * atod_last_error(void); // llama.cpp/ggml error lines logged on this thread since the last clear
ggml_backend_dev_t atod_find_gpu(const char * reg_name); // first GPU of that backend ("CUDA", "Metal"), any GPU if NULL

// atod_check_gguf validates a GGUF file before llama.cpp sees it: header, tensor data within the file,
// general.architecture (copied to arch) and general.type. want_adapter selects model or LoRA checks.
// Returns 0, or -1 with a message in err.
int atod_check_gguf(const char * path, bool want_adapter, char * arch, size_t arch_len, char * err, size_t err_len);

struct llama_model * atod_model_load(const char * path, ggml_backend_dev_t dev, int32_t n_gpu_layers, bool no_repack);
int32_t atod_vocab_diff(const struct llama_vocab * a, const struct llama_vocab * b); // first differing token, -1 if equal

// contexts (context.c)

// One logits row reduced in C. Inputs: target (token to score, or -1 to sample one), sampling settings and
// the sequence's RNG state (advanced by each draw). Outputs: token, its temperature-1 log-prob, and the
// entropy of the full temperature-1 distribution.
typedef struct atod_out {
    int32_t  target;
    float    temp;
    float    top_p;
    int32_t  top_k;
    uint64_t rng;
    int32_t  n_top; // top-k log-probs to report, at most the call's top_n

    int32_t  token;
    float    logprob;
    float    entropy;
} atod_out;

typedef struct atod_ctx atod_ctx;

atod_ctx * atod_ctx_new(struct llama_model * model, struct llama_context_params cparams);
void       atod_ctx_free(atod_ctx * c);
int        atod_ctx_set_adapter(atod_ctx * c, struct llama_adapter_lora * adapter, float scale);

// Overwrite lora_a (is_b 0) or lora_b of the pair for base tensor name base with n F32 values (adapter_set.cpp).
int atod_adapter_set(struct llama_adapter_lora * a, const char * base, int is_b, const float * data, size_t n,
                     char * err, size_t n_err);
struct llama_context * atod_ctx_llama(atod_ctx * c);
// The logits reduction's threads, and how many logits each thread gets at least.
void       atod_ctx_set_reduce(atod_ctx * c, int64_t chunk, int32_t n_threads);

// atod_decode decodes n tokens (tok[i] at pos[i] of sequence seq[i]) in chunks of n_batch. Where out[i] >= 0
// token i's logits are reduced into outs[out[i]] right after its chunk; top-k go to
// top_tok/top_lp[out[i]*top_n ...]. Returns 0 or llama_decode's error code.
int atod_decode(atod_ctx * c, int32_t n, const int32_t * tok, const int32_t * pos, const int32_t * seq,
                const int32_t * out, atod_out * outs, int32_t top_n, int32_t * top_tok, float * top_lp);

// sampling (sample.c)

void atod_reduce(const float * logits, int32_t n_vocab, atod_out * o, int32_t * top_tok, float * top_lp,
                 float * scratch_p, int32_t * scratch_i);

// benchmark baselines (context.c): plain llama.cpp loops without atod's bookkeeping

int atod_raw_generate(atod_ctx * c, int32_t n_seq, const int32_t * prompt, int32_t n_prompt, const int32_t * n_gen,
                      float temp, uint64_t seed);
int atod_raw_prefill(atod_ctx * c, const int32_t * tok, int32_t n);
// seconds of one F32 ggml mul_mat of an [n_in, n_out] matrix by n_tok vectors on the CPU, after a warm-up
// run: the FLOP rate a model of that size can reach; < 0 when ggml cannot allocate it.
double atod_raw_matmul(int64_t n_in, int64_t n_out, int64_t n_tok, int32_t n_threads);

#ifdef __cplusplus
}
#endif
