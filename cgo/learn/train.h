// C API of atod's training graph: a llama-family decoder built as a ggml graph over
// the frozen weights of a model loaded by llama.cpp, plus trainable tensors (LoRA A/B
// or every weight). The optimizer lives in Go: this layer computes log-probs, the
// loss and accumulated gradients, and moves parameter values in and out.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct atod_train_params {
    const char * model_path;
    int32_t  n_threads;
    int32_t  n_gpu_layers;
    int32_t  use_gpu;      // 0: CPU only; 1: the first GPU if one is registered; 2: require gpu_reg's
    const char * gpu_reg;  // with use_gpu 2: backend registry name, "CUDA" or "Metal"
    int32_t  full_weights; // train every weight instead of LoRA
    int32_t  lora_rank;
    float    lora_alpha;
    uint32_t lora_targets; // bit i: the layer's i-th matrix of q, k, v, o, gate, up, down (Go's model.LoRATargets)
    int32_t  head_chunk;   // targets per chunk of the recomputed output head; 0: logits near 16 MiB a chunk
    int32_t  keep_transposed; // LoRA: keep a transposed copy (transpose.cpp) of every frozen F32/F16/BF16 matrix (else per graph)
    int64_t  keep_mlp;     // recompute, LoRA: bytes for the MLP inputs kept from the forward (graph.cpp's eval_recompute)
    int32_t  dense_from;   // CPU: a frozen quantized matrix's mul_mat over at least this many tokens multiplies its F16 copy (graph.cpp); 0: 256
    void *   model;        // a loaded struct llama_model to train over, not owned (NULL: load model_path)
};

// One micro-batch: n_seq sequences padded to n_tok tokens each (row-major, seq-major).
// Target j is the token at flat position tgt_pos[j] (never a sequence's first token),
// predicted from the position before it; its loss weight is tgt_w[j].
struct atod_batch {
    int32_t         n_seq;
    int32_t         n_tok;
    const int32_t * tokens; // n_seq*n_tok
    const int32_t * lens;   // n_seq
    int32_t         n_tgt;
    const int32_t * tgt_pos;
    const float   * tgt_w;
    // The top-k distillation term (topk 0: none). Target j has topk teacher
    // tokens tk_id[j*topk + i] with probabilities p_i = tk_p[j*topk + i] (0: a
    // padding entry) and the term's weight tk_w[j]; its soft log-likelihood is
    //   soft[j] = sum_i p_i*log pi(i) + p_tail*log pi(tail),
    //   p_tail = 1 - sum_i p_i,  pi(tail) = max(1 - sum_{i: p_i > 0} pi(i), 1e-6).
    int32_t         topk;
    const int32_t * tk_id;
    const float   * tk_p;
    const float   * tk_w;
    float           loss_scale; // the loss is loss_scale * sum_j (tgt_w[j]*logp[j] + tk_w[j]*soft[j])
};

struct atod_trainer;

struct atod_trainer * atod_train_init(const struct atod_train_params * p, char * err, size_t n_err);
void atod_train_free(struct atod_trainer * t);

int32_t      atod_train_n_vocab(const struct atod_trainer * t);
int32_t      atod_train_n_ctx_train(const struct atod_trainer * t);
const char * atod_train_arch(const struct atod_trainer * t);
const char * atod_train_backend(const struct atod_trainer * t);

// Trainable tensors, in a fixed order. Values are F32, ggml order (ne0 contiguous).
int32_t      atod_train_n_params(const struct atod_trainer * t);
const char * atod_train_param_name(const struct atod_trainer * t, int32_t i);
int64_t      atod_train_param_ne(const struct atod_trainer * t, int32_t i, int32_t dim);
void         atod_train_param_get(const struct atod_trainer * t, int32_t i, float * dst);
void         atod_train_param_set(struct atod_trainer * t, int32_t i, const float * src);
void         atod_train_grad_get(const struct atod_trainer * t, int32_t i, float * dst);
void         atod_train_grad_zero(struct atod_trainer * t);

// Runs the graph on one micro-batch: writes logp[n_tgt], soft[n_tgt] (with
// topk > 0; else soft may be NULL) and the micro-batch loss;
// with backward != 0, adds the loss gradient into the gradient accumulators:
// backward 1 differentiates the whole graph, 2 recomputes it a layer at a time.
// Returns 0 on success, else writes err.
int atod_train_eval(struct atod_trainer * t, const struct atod_batch * b, int backward,
                    float * logp, float * soft, double * loss, char * err, size_t n_err);

// Write GGUF files (not atomic: the caller writes to a temp path and renames).
int atod_train_save_adapter(const struct atod_trainer * t, const char * path, char * err, size_t n_err);
int atod_train_save_model(const struct atod_trainer * t, const char * path, char * err, size_t n_err);

#ifdef __cplusplus
}
#endif
