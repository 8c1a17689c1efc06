// Learner setup: load the base model with llama.cpp (CPU, or GPU layers when a GPU
// backend is registered), collect the tensors the graph needs, create the trainable
// tensors and the backend scheduler.
#include "trainer.hpp"

#include "ggml-cpu.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <strings.h>

void atod_set_err(char * err, size_t n_err, const char * fmt, ...) {
    if (err == nullptr || n_err == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n_err, fmt, ap);
    va_end(ap);
}

// RoPE parameters exactly as llama_context derives them with default context params.
static atod_rope rope_params(const llama_model * model) {
    const llama_hparams & hp = model->hparams;
    atod_rope r = {};
    r.n_rot       = (int) hp.n_rot;
    r.type        = (int) llama_model_rope_type(model);
    r.n_ctx_orig  = (int) (hp.n_ctx_orig_yarn != 0 ? hp.n_ctx_orig_yarn : hp.n_ctx_train);
    r.freq_base   = hp.rope_freq_base_train;
    r.freq_scale  = hp.rope_scaling_type_train == LLAMA_ROPE_SCALING_TYPE_NONE ? 1.0f : hp.rope_freq_scale_train;
    r.ext_factor  = hp.yarn_ext_factor >= 0.0f ? hp.yarn_ext_factor :
                    (hp.rope_scaling_type_train == LLAMA_ROPE_SCALING_TYPE_YARN ? 1.0f : 0.0f);
    r.attn_factor = hp.yarn_attn_factor;
    r.beta_fast   = hp.yarn_beta_fast;
    r.beta_slow   = hp.yarn_beta_slow;
    if (r.ext_factor != 0.0f) {
        auto mscale = [](float scale, float m) { return scale <= 1.0f ? 1.0f : 0.1f * m * logf(scale) + 1.0f; };
        const float factor = 1.0f / r.freq_scale;
        r.attn_factor = hp.rope_yarn_log_mul != 0.0f ? mscale(factor, 1.0f) / mscale(factor, hp.rope_yarn_log_mul)
                                                     : mscale(factor, 1.0f);
        r.attn_factor *= 1.0f / (1.0f + 0.1f * logf(factor));
    }
    r.attn_factor *= hp.rope_attn_factor;
    return r;
}

// Checks that the model is a dense llama-family decoder this graph reproduces.
static bool check_model(const llama_model * m, char * err, size_t n_err) {
    const llama_hparams & hp = m->hparams;
    if (m->arch != LLM_ARCH_LLAMA && m->arch != LLM_ARCH_QWEN2 && m->arch != LLM_ARCH_QWEN3) {
        atod_set_err(err, n_err, "architecture %s is not supported (llama, qwen2, qwen3)", m->arch_name().c_str());
        return false;
    }
    if (hp.n_embd_head_k != hp.n_embd_head_v || hp.use_kq_norm || hp.n_expert > 0 || hp.n_swa > 0) {
        atod_set_err(err, n_err, "unsupported %s variant (head dims, kq norm, experts or sliding window)",
                     m->arch_name().c_str());
        return false;
    }
    for (uint32_t il = 0; il < hp.n_layer; il++) {
        const llama_layer & L = m->layers[il];
        if (hp.n_head(il) != hp.n_head() || hp.n_head_kv(il) != hp.n_head_kv() || hp.n_head_kv(il) == 0 ||
            hp.n_head(il) % hp.n_head_kv(il) != 0) {
            atod_set_err(err, n_err, "layer %u: unsupported head counts", il);
            return false;
        }
        if (!L.wq || !L.wk || !L.wv || !L.wo || !L.ffn_gate || !L.ffn_up || !L.ffn_down || !L.attn_norm ||
            !L.ffn_norm || L.ffn_gate_inp) {
            atod_set_err(err, n_err, "layer %u: missing attention/ffn weights or MoE layer", il);
            return false;
        }
        if (m->arch == LLM_ARCH_QWEN3 && (!L.attn_q_norm || !L.attn_k_norm)) {
            atod_set_err(err, n_err, "layer %u: qwen3 without q/k norm", il);
            return false;
        }
    }
    if (!m->tok_embd || !m->output_norm || !m->output) {
        atod_set_err(err, n_err, "model without token embedding, output norm or output");
        return false;
    }
    return true;
}

// FullWeights: an F32 trainable copy of each distinct frozen tensor (tied
// embeddings share one copy: the loader gives both uses the same name).
struct param_maker {
    atod_trainer * t;
    std::unordered_map<std::string, ggml_tensor *> by_name;
    std::vector<std::pair<ggml_tensor *, ggml_tensor *>> copies; // (param, source)

    ggml_tensor * operator()(ggml_tensor * src) {
        if (src == nullptr) {
            return nullptr;
        }
        auto it = by_name.find(ggml_get_name(src));
        if (it != by_name.end()) {
            return it->second;
        }
        ggml_tensor * p = ggml_new_tensor(t->ctx_params, GGML_TYPE_F32, ggml_n_dims(src), src->ne);
        ggml_set_name(p, ggml_get_name(src));
        by_name[ggml_get_name(src)] = p;
        copies.push_back({p, src});
        t->params.push_back(p);
        return p;
    }
};

static void add_lora(atod_trainer * t, ggml_tensor * w, int rank) {
    ggml_tensor * a = ggml_new_tensor_2d(t->ctx_params, GGML_TYPE_F32, w->ne[0], rank);
    ggml_tensor * b = ggml_new_tensor_2d(t->ctx_params, GGML_TYPE_F32, rank, w->ne[1]);
    ggml_format_name(a, "%s.lora_a", ggml_get_name(w));
    ggml_format_name(b, "%s.lora_b", ggml_get_name(w));
    t->params.push_back(a);
    t->params.push_back(b);
    t->lora[w] = {a, b};
}

static bool copy_to_f32(ggml_tensor * dst, ggml_tensor * src, char * err, size_t n_err) {
    const int64_t n = ggml_nelements(src);
    std::vector<uint8_t> raw(ggml_nbytes(src));
    ggml_backend_tensor_get(src, raw.data(), 0, raw.size());
    std::vector<float> f(n);
    if (src->type == GGML_TYPE_F32) {
        memcpy(f.data(), raw.data(), n * sizeof(float));
    } else {
        const ggml_type_traits * tr = ggml_get_type_traits(src->type);
        if (tr->to_float == nullptr) {
            atod_set_err(err, n_err, "%s: cannot convert type %s to f32", ggml_get_name(src), ggml_type_name(src->type));
            return false;
        }
        tr->to_float(raw.data(), f.data(), n);
    }
    ggml_backend_tensor_set(dst, f.data(), 0, n * sizeof(float));
    return true;
}

static bool setup_params(atod_trainer * t, const atod_train_params * p, char * err, size_t n_err) {
    const llama_model * m = t->model;
    const size_t n_max = 16 * (m->layers.size() + 4) * 2 + 1; // every tensor + its gradient + the seed
    ggml_init_params ip = { ggml_tensor_overhead() * n_max, nullptr, true };
    t->ctx_params = ggml_init(ip);

    t->tok_embd    = m->tok_embd;
    t->output_norm = m->output_norm;
    t->output      = m->output;
    t->output_b    = m->output_b;
    t->layers.resize(m->layers.size());
    for (size_t il = 0; il < m->layers.size(); il++) {
        const llama_layer & L = m->layers[il];
        atod_layer & o = t->layers[il];
        o.attn_norm = L.attn_norm;
        o.wq = L.wq; o.wk = L.wk; o.wv = L.wv; o.wo = L.wo;
        o.bq = L.bq; o.bk = L.bk; o.bv = L.bv; o.bo = L.bo;
        o.q_norm = L.attn_q_norm; o.k_norm = L.attn_k_norm;
        o.ffn_norm = L.ffn_norm;
        o.gate = L.ffn_gate; o.up = L.ffn_up; o.down = L.ffn_down;
        o.rope_freqs = L.rope_freqs;
    }

    param_maker mk = { t, {}, {} };
    if (t->full_weights) {
        t->tok_embd = mk(t->tok_embd);
        for (atod_layer & o : t->layers) {
            o.attn_norm = mk(o.attn_norm);
            o.wq = mk(o.wq); o.wk = mk(o.wk); o.wv = mk(o.wv); o.wo = mk(o.wo);
            o.bq = mk(o.bq); o.bk = mk(o.bk); o.bv = mk(o.bv); o.bo = mk(o.bo);
            o.q_norm = mk(o.q_norm); o.k_norm = mk(o.k_norm);
            o.ffn_norm = mk(o.ffn_norm);
            o.gate = mk(o.gate); o.up = mk(o.up); o.down = mk(o.down);
        }
        t->output_norm = mk(t->output_norm);
        t->output      = mk(t->output);
        t->output_b    = mk(t->output_b);
    } else {
        for (atod_layer & o : t->layers) {
            // the order of lora_targets' bits (train.h)
            ggml_tensor * ws[7] = { o.wq, o.wk, o.wv, o.wo, o.gate, o.up, o.down };
            for (int i = 0; i < 7; i++) {
                if (p->lora_targets & (1u << i)) {
                    add_lora(t, ws[i], p->lora_rank);
                }
            }
        }
    }
    if (t->params.empty()) {
        atod_set_err(err, n_err, "no trainable tensors");
        return false;
    }
    for (ggml_tensor * q : t->params) {
        ggml_set_param(q);
        ggml_tensor * g = ggml_dup_tensor(t->ctx_params, q);
        ggml_format_name(g, "grad.%d", (int) t->grads.size());
        t->grads.push_back(g);
    }
    t->loss_seed = ggml_new_tensor_1d(t->ctx_params, GGML_TYPE_F32, 1);
    ggml_set_name(t->loss_seed, "loss_seed");

    t->buf_params = ggml_backend_alloc_ctx_tensors(t->ctx_params, t->gpu ? t->gpu : t->cpu);
    if (t->buf_params == nullptr) {
        atod_set_err(err, n_err, "cannot allocate %d trainable tensors", (int) t->params.size());
        return false;
    }
    ggml_backend_buffer_clear(t->buf_params, 0);
    const float one = 1.0f;
    ggml_backend_tensor_set(t->loss_seed, &one, 0, sizeof(one));
    for (auto & c : mk.copies) {
        if (!copy_to_f32(c.first, c.second, err, n_err)) {
            return false;
        }
    }
    return true;
}

// LoRA mode with keep_transposed: a transposed copy of each frozen F32/F16/BF16
// matrix in host memory, as transpose.cpp makes them per graph, so that the
// whole-graph backward computes input gradients with mul_mat (see graph.cpp)
// without transposing them each time; this doubles the memory of those
// weights. Without it each graph transposes the weights it uses (one layer's,
// recomputing).
static bool cache_transposed(atod_trainer * t, char * err, size_t n_err) {
    std::vector<ggml_tensor *> ws;
    for (const atod_layer & o : t->layers) {
        for (ggml_tensor * w : { o.wq, o.wk, o.wv, o.wo, o.gate, o.up, o.down }) ws.push_back(w);
    }
    ws.push_back(t->output);
    std::vector<ggml_tensor *> todo;
    for (ggml_tensor * w : ws) {
        if (!ggml_is_quantized(w->type) && atod_can_keep_transpose(w) && !t->transposed.count(w)) {
            t->transposed[w] = nullptr;
            todo.push_back(w);
        }
    }
    if (todo.empty()) {
        return true;
    }
    t->ctx_wt = ggml_init({ ggml_tensor_overhead() * todo.size(), nullptr, true });
    for (ggml_tensor * w : todo) {
        t->transposed[w] = ggml_new_tensor_2d(t->ctx_wt, atod_transpose_type(w), w->ne[1], w->ne[0]);
    }
    t->buf_wt = ggml_backend_alloc_ctx_tensors(t->ctx_wt, t->cpu);
    if (t->buf_wt == nullptr) {
        atod_set_err(err, n_err, "cannot allocate transposed weights");
        return false;
    }
    std::vector<std::pair<ggml_tensor *, ggml_tensor *>> dst_src;
    for (ggml_tensor * w : todo) {
        dst_src.push_back({ t->transposed[w], w });
    }
    if (!atod_transpose_now(t->cpu, dst_src)) {
        atod_set_err(err, n_err, "transposing the frozen weights failed");
        return false;
    }
    return true;
}

// The first GPU device, of registry reg_name if given (as cgo/llama picks it).
static ggml_backend_dev_t find_gpu(const char * reg_name) {
    for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
        ggml_backend_dev_t dev = ggml_backend_dev_get(i);
        const enum ggml_backend_dev_type type = ggml_backend_dev_type(dev);
        if ((type == GGML_BACKEND_DEVICE_TYPE_GPU || type == GGML_BACKEND_DEVICE_TYPE_IGPU) &&
            (reg_name == nullptr || strcasecmp(ggml_backend_reg_name(ggml_backend_dev_backend_reg(dev)), reg_name) == 0)) {
            return dev;
        }
    }
    return nullptr;
}

extern "C" struct atod_trainer * atod_train_init(const atod_train_params * p, char * err, size_t n_err) {
    llama_backend_init();
    atod_trainer * t = new atod_trainer();
    t->model_path   = p->model_path;
    t->full_weights = p->full_weights != 0;
    t->lora_alpha   = p->lora_alpha;
    t->lora_scale   = p->lora_alpha != 0.0f ? p->lora_alpha / (float) p->lora_rank : 1.0f;

    t->cpu = ggml_backend_init_by_type(GGML_BACKEND_DEVICE_TYPE_CPU, nullptr);
    if (t->cpu == nullptr) {
        atod_set_err(err, n_err, "no CPU backend");
        atod_train_free(t);
        return nullptr;
    }
    if (p->n_threads > 0) {
        ggml_backend_cpu_set_n_threads(t->cpu, p->n_threads);
    }
    ggml_backend_dev_t dev = p->use_gpu ? find_gpu(p->use_gpu > 1 ? p->gpu_reg : nullptr) : nullptr;
    if (dev != nullptr) {
        t->gpu = ggml_backend_dev_init(dev, nullptr);
    }
    if (t->gpu == nullptr && p->use_gpu > 1) {
        atod_set_err(err, n_err, "no %s device registered (build it with `make %s`)", p->gpu_reg, p->gpu_reg);
        atod_train_free(t);
        return nullptr;
    }
    t->backend_name = ggml_backend_name(t->gpu ? t->gpu : t->cpu);

    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers    = t->gpu ? p->n_gpu_layers : 0;
    mp.use_extra_bufts = false; // repacked weights only support inference matmuls, not out_prod/get_rows
    ggml_backend_dev_t devices[2] = { t->gpu ? dev : nullptr, nullptr };
    mp.devices = devices;
    // the Go side checked the file (llama.CheckGGUF) before calling in
    if (p->model != nullptr) {
        t->model      = (llama_model *) p->model;
        t->owns_model = false;
    } else {
        t->model = llama_model_load_from_file(p->model_path, mp);
    }
    if (t->model == nullptr) {
        atod_set_err(err, n_err, "llama.cpp cannot load %s", p->model_path);
        atod_train_free(t);
        return nullptr;
    }
    if (!check_model(t->model, err, n_err)) {
        atod_train_free(t);
        return nullptr;
    }
    const llama_hparams & hp = t->model->hparams;
    t->arch        = t->model->arch_name();
    t->n_embd      = (int) hp.n_embd;
    t->n_layer     = (int) hp.n_layer;
    t->n_head      = (int) hp.n_head();
    t->n_head_kv   = (int) hp.n_head_kv();
    t->n_embd_head = (int) hp.n_embd_head_k;
    t->n_vocab     = llama_vocab_n_tokens(llama_model_get_vocab(t->model));
    t->eps         = hp.f_norm_rms_eps;
    t->kq_scale    = hp.f_attention_scale == 0.0f ? 1.0f / sqrtf((float) t->n_embd_head) : hp.f_attention_scale;
    t->rope        = rope_params(t->model);

    if (!setup_params(t, p, err, n_err) || (!t->full_weights && p->keep_transposed && !cache_transposed(t, err, n_err))) {
        atod_train_free(t);
        return nullptr;
    }
    if (t->gpu) {
        // Untested here (no GPU): ops the GPU backend lacks run on the CPU. Input
        // gradients are mul_mats (graph.cpp), through a quantized weight of its
        // dequantized transpose.
        fprintf(stderr, "atod train: computing on %s, CPU fallback%s\n", t->backend_name.c_str(),
                ggml_is_quantized(t->layers[0].wq->type) ? "; quantized base: backward through frozen weights runs on the CPU" : "");
    }

    t->head_chunk = p->head_chunk;
    t->keep_mlp   = (size_t) std::max<int64_t>(0, p->keep_mlp);
    t->dense_from = p->dense_from > 0 ? p->dense_from : 256;
    t->graph_size = 4096 + (size_t) t->n_layer * 1024;
    // per micro-batch: the tensors, the forward+backward graph and its re-collected copy (graph.cpp)
    t->meta.resize(ggml_tensor_overhead() * t->graph_size + 2 * ggml_graph_overhead_custom(t->graph_size, true));
    ggml_backend_t backends[2] = { t->gpu ? t->gpu : t->cpu, t->cpu };
    t->sched = ggml_backend_sched_new(backends, nullptr, t->gpu ? 2 : 1, t->graph_size, false, true);
    return t;
}

extern "C" void atod_train_free(atod_trainer * t) {
    if (t == nullptr) {
        return;
    }
    if (t->sched) ggml_backend_sched_free(t->sched);
    if (t->buf_params) ggml_backend_buffer_free(t->buf_params);
    if (t->buf_wt) ggml_backend_buffer_free(t->buf_wt);
    if (t->ctx_wt) ggml_free(t->ctx_wt);
    if (t->buf_ot) ggml_backend_buffer_free(t->buf_ot);
    if (t->ctx_ot) ggml_free(t->ctx_ot);
    if (t->buf_kept) ggml_backend_buffer_free(t->buf_kept);
    if (t->ctx_kept) ggml_free(t->ctx_kept);
    if (t->ctx_params) ggml_free(t->ctx_params);
    if (t->model && t->owns_model) llama_model_free(t->model);
    if (t->gpu) ggml_backend_free(t->gpu);
    if (t->cpu) ggml_backend_free(t->cpu);
    delete t;
}

extern "C" int32_t atod_train_n_vocab(const atod_trainer * t) { return t->n_vocab; }
extern "C" int32_t atod_train_n_ctx_train(const atod_trainer * t) { return (int32_t) t->model->hparams.n_ctx_train; }
extern "C" const char * atod_train_arch(const atod_trainer * t) { return t->arch.c_str(); }
extern "C" const char * atod_train_backend(const atod_trainer * t) { return t->backend_name.c_str(); }
extern "C" int32_t atod_train_n_params(const atod_trainer * t) { return (int32_t) t->params.size(); }
extern "C" const char * atod_train_param_name(const atod_trainer * t, int32_t i) { return ggml_get_name(t->params[i]); }
extern "C" int64_t atod_train_param_ne(const atod_trainer * t, int32_t i, int32_t dim) { return t->params[i]->ne[dim]; }

extern "C" void atod_train_param_get(const atod_trainer * t, int32_t i, float * dst) {
    ggml_backend_tensor_get(t->params[i], dst, 0, ggml_nbytes(t->params[i]));
}

extern "C" void atod_train_param_set(atod_trainer * t, int32_t i, const float * src) {
    ggml_backend_tensor_set(t->params[i], src, 0, ggml_nbytes(t->params[i]));
}

extern "C" void atod_train_grad_get(const atod_trainer * t, int32_t i, float * dst) {
    ggml_backend_tensor_get(t->grads[i], dst, 0, ggml_nbytes(t->grads[i]));
}

extern "C" void atod_train_grad_zero(atod_trainer * t) {
    for (ggml_tensor * g : t->grads) {
        ggml_backend_tensor_memset(g, 0, 0, ggml_nbytes(g));
    }
}
