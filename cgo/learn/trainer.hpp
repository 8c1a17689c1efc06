// Internal state shared by train.cpp, graph.cpp and save.cpp.
//
// Why llama.cpp's own model loader: llama_model_load_from_file parses every
// llama-family hparam (GQA, RoPE type/base/scaling, eps, tied output) and maps the
// same weight data llama.cpp infers with, so the training graph below is built over
// exactly those tensors (through the internal header llama-model.h) and parity with
// inference is a matter of replaying the same ops.
#pragma once

#include "train.h"

#include "ggml.h"
#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "llama.h"
#include "llama-model.h"

#include <string>
#include <unordered_map>
#include <vector>

// The tensors one decoder layer multiplies by: the model's frozen ones, or the
// trainable F32 copies in FullWeights mode.
struct atod_layer {
    ggml_tensor * attn_norm = nullptr;
    ggml_tensor * wq = nullptr, * wk = nullptr, * wv = nullptr, * wo = nullptr;
    ggml_tensor * bq = nullptr, * bk = nullptr, * bv = nullptr, * bo = nullptr;
    ggml_tensor * q_norm = nullptr, * k_norm = nullptr; // qwen3
    ggml_tensor * ffn_norm = nullptr;
    ggml_tensor * gate = nullptr, * up = nullptr, * down = nullptr;
    ggml_tensor * rope_freqs = nullptr; // llama3 rope factors, frozen
};

struct atod_lora {
    ggml_tensor * a; // [n_in, r]
    ggml_tensor * b; // [r, n_out]
};

// frozen matrix → its transpose, for backward's mul_mats
using atod_transposes = std::unordered_map<const ggml_tensor *, ggml_tensor *>;

struct atod_rope {
    int   n_rot;
    int   type;
    int   n_ctx_orig;
    float freq_base, freq_scale, ext_factor, attn_factor, beta_fast, beta_slow;
};

struct atod_trainer {
    llama_model * model = nullptr;
    bool          owns_model = true; // false: the sampler's model, which it frees
    std::string   model_path;
    std::string   arch;
    std::string   backend_name;

    // hparams used by the graph
    int   n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, n_embd_head = 0, n_vocab = 0;
    float eps = 0, kq_scale = 0;
    atod_rope rope = {};

    ggml_tensor * tok_embd = nullptr, * output_norm = nullptr, * output = nullptr, * output_b = nullptr;
    std::vector<atod_layer> layers;

    bool  full_weights = false;
    float lora_alpha = 0, lora_scale = 0;
    std::unordered_map<const ggml_tensor *, atod_lora> lora; // key: frozen base weight

    // trainables, their gradient accumulators, and the constant 1 that seeds backward
    std::vector<ggml_tensor *> params, grads;
    ggml_tensor * loss_seed = nullptr;
    ggml_context * ctx_params = nullptr;
    ggml_backend_buffer_t buf_params = nullptr;

    // Wᵀ of frozen host-memory weights, for the input gradients (graph.cpp)
    atod_transposes transposed;
    ggml_context * ctx_wt = nullptr;
    ggml_backend_buffer_t buf_wt = nullptr;
    // Wᵀ of the output head, for the recomputed head (graph.cpp)
    ggml_tensor * output_t = nullptr;
    ggml_context * ctx_ot = nullptr;
    ggml_backend_buffer_t buf_ot = nullptr;

    ggml_backend_t cpu = nullptr, gpu = nullptr;
    ggml_backend_sched_t sched = nullptr;
    size_t graph_size = 0;
    int head_chunk = 0; // see atod_train_params
    int dense_from = 256; // see atod_train_params
    // the MLP inputs kept from recompute's forward (graph.cpp), at most keep_mlp bytes
    size_t keep_mlp = 0;
    ggml_tensor * kept = nullptr;
    ggml_context * ctx_kept = nullptr;
    ggml_backend_buffer_t buf_kept = nullptr;
    std::vector<uint8_t> meta; // reused metadata arena of the per-micro-batch context
};

void atod_set_err(char * err, size_t n_err, const char * fmt, ...);

// transpose.cpp: xᵀ in atod_transpose_type(x) as a graph op (ggml's copy on a
// GPU backend); and, for transposes kept outside graphs, whether a weight can
// have one (host memory, a convertible type) and each dst = srcᵀ computed now.
ggml_type atod_transpose_type(const ggml_tensor * x);
ggml_tensor * atod_transpose(const atod_trainer * t, ggml_context * ctx, ggml_tensor * x);
bool atod_can_keep_transpose(const ggml_tensor * w);
bool atod_transpose_now(ggml_backend_t cpu, const std::vector<std::pair<ggml_tensor *, ggml_tensor *>> & dst_src);
// and w dequantized to F16, in w's shape, as a graph op (CPU, atod_can_keep_transpose(w))
ggml_tensor * atod_dense(ggml_context * ctx, ggml_tensor * w);
