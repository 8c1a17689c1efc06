// The training graph for one micro-batch: the llama-family decoder of
// models/llama.cpp, qwen2.cpp and qwen3.cpp replayed op for op over the frozen
// weights (plus LoRA), followed by the weighted log-likelihood loss.
//
// Batching: the sequences are padded to the longest and stacked along ggml's 4th
// dimension, so attention is one [T, T, heads, seqs] product with a causal mask
// that also hides padded keys (memory grows with seqs*T^2, not (sum T)^2 as with
// packing). Attention is the plain soft_max path, which ggml can differentiate.
//
// Backward is ggml's autodiff, with two fixes applied to the graph it builds:
// protect_backward_inputs (in-place hazards) and rewrite_mul_mats (speed), the
// latter also applied to forward-only graphs (quantized matrices).
#include "trainer.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "ggml-cpu.h"

struct atod_inputs {
    ggml_tensor * tokens; // I32 [n_tok*n_seq]
    ggml_tensor * pos;    // I32 [n_tok*n_seq]
    ggml_tensor * mask;   // F32 [n_tok, n_tok, 1, n_seq]
    ggml_tensor * rows;   // I32 [n_tgt]: flat position that predicts each target
    ggml_tensor * pick;   // I32 [n_tgt]: j*n_vocab + target token
    ggml_tensor * w;      // F32 [1, n_tgt]
    // the distillation term's, when the batch has one (build_soft)
    ggml_tensor * tk_pick = nullptr; // I32 [K*n_tgt]: j*n_vocab + the teacher's i-th token
    ggml_tensor * tk_p    = nullptr; // F32 [K, n_tgt]: its probability, 0 for padding
    ggml_tensor * tk_tail = nullptr; // F32 [1, n_tgt]: the teacher's tail mass 1 − Σ_i p_i
    ggml_tensor * tk_w    = nullptr; // F32 [1, n_tgt]
};

// s·B·(A·x), w's LoRA term, or null where w has no adapter.
static ggml_tensor * lora_term(const atod_trainer * t, ggml_context * ctx, ggml_tensor * w, ggml_tensor * x) {
    auto it = t->lora.find(w);
    if (it == t->lora.end()) {
        return nullptr;
    }
    return ggml_scale(ctx, ggml_mul_mat(ctx, it->second.b, ggml_mul_mat(ctx, it->second.a, x)), t->lora_scale);
}

// y = W·x + s·B·(A·x), the order of ops in llama.cpp's build_lora_mm.
static ggml_tensor * mm(const atod_trainer * t, ggml_context * ctx, ggml_tensor * w, ggml_tensor * x) {
    ggml_tensor * y = ggml_mul_mat(ctx, w, x);
    ggml_tensor * ab = lora_term(t, ctx, w, x);
    return ab != nullptr ? ggml_add(ctx, y, ab) : y;
}

static ggml_tensor * norm(const atod_trainer * t, ggml_context * ctx, ggml_tensor * x, ggml_tensor * w) {
    return ggml_mul(ctx, ggml_rms_norm(ctx, x, t->eps), w);
}

static ggml_tensor * rope(const atod_trainer * t, ggml_context * ctx, ggml_tensor * x, ggml_tensor * pos,
                          ggml_tensor * factors) {
    const atod_rope & r = t->rope;
    return ggml_rope_ext(ctx, x, pos, factors, r.n_rot, r.type, r.n_ctx_orig, r.freq_base, r.freq_scale,
                         r.ext_factor, r.attn_factor, r.beta_fast, r.beta_slow);
}

// GQA: q head h reads kv head h/(H/H_kv), as ggml_mul_mat broadcasts in inference.
// The copy makes the heads explicit, because mul_mat's backward only un-broadcasts
// 3-d tensors and here the 4th dimension holds the sequences.
static ggml_tensor * expand_kv(const atod_trainer * t, ggml_context * ctx, ggml_tensor * x, int n) {
    const int r = t->n_head / t->n_head_kv;
    if (r == 1) {
        return x;
    }
    x = ggml_reshape_4d(ctx, x, t->n_embd_head, 1, t->n_head_kv, n);
    x = ggml_repeat_4d(ctx, x, t->n_embd_head, r, t->n_head_kv, n);
    return ggml_reshape_3d(ctx, x, t->n_embd_head, t->n_head, n);
}

// q, k, v: [d, heads, n_tok*n_seq] after RoPE; returns [d*heads, n_tok*n_seq].
static ggml_tensor * attention(const atod_trainer * t, ggml_context * ctx, ggml_tensor * q, ggml_tensor * k,
                               ggml_tensor * v, ggml_tensor * mask, int n_tok, int n_seq) {
    const int d = t->n_embd_head, H = t->n_head, n = n_tok * n_seq;
    k = expand_kv(t, ctx, k, n);
    v = expand_kv(t, ctx, v, n);
    // q contiguous: the CPU's sgemm kernels need a contiguous right operand
    q = ggml_cont(ctx, ggml_permute(ctx, ggml_reshape_4d(ctx, q, d, H, n_tok, n_seq), 0, 2, 1, 3)); // [d, T, H, S]
    k = ggml_permute(ctx, ggml_reshape_4d(ctx, k, d, H, n_tok, n_seq), 0, 2, 1, 3); // [d, T, H, S]
    ggml_tensor * vt = ggml_cont(ctx, ggml_permute(ctx, ggml_reshape_4d(ctx, v, d, H, n_tok, n_seq), 1, 2, 0, 3)); // [T, d, H, S]

    ggml_tensor * kq = ggml_mul_mat(ctx, k, q); // [T_k, T_q, H, S]
    ggml_mul_mat_set_prec(kq, GGML_PREC_F32);
    kq = ggml_soft_max_ext(ctx, kq, mask, t->kq_scale, 0.0f);
    ggml_tensor * kqv = ggml_mul_mat(ctx, vt, kq); // [d, T_q, H, S]
    kqv = ggml_cont(ctx, ggml_permute(ctx, kqv, 0, 2, 1, 3)); // [d, H, T_q, S]
    return ggml_reshape_2d(ctx, kqv, d * H, n);
}

// weight_t is Wᵀ for an input gradient: the trainer's kept copy, or made in this graph.
static ggml_tensor * weight_t(const atod_trainer * t, ggml_context * ctx, ggml_tensor * w) {
    auto it = t->transposed.find(w);
    return it != t->transposed.end() ? it->second : atod_transpose(t, ctx, w);
}

// A layer's MLP inputs, gate and up, kept for its backward (keep_mlp): views
// into t->kept, which the forward copies them into and the backward reads.
struct atod_mlp {
    ggml_tensor * gate = nullptr, * up = nullptr;
};

// One decoder layer: x_{l+1} = layer_l(x_l), x [n_embd, n_tok*n_seq].
//
// With g, the gradient of x_{l+1} (recomputing), it returns a scalar whose
// gradients are those of Σ x_{l+1}·g. There the frozen down projection's
// output is never needed, only its input gradient: Σ (W·z)·g = Σ z·(Wᵀg), so
// u = Wᵀg takes the place of W·z, the same mul_mat that backward would do,
// and the layer's largest forward matmul is skipped. (Full weights train W,
// whose gradient needs W·z's graph.) With mlp kept, the gradients d of gate
// and up follow from it and g, as ggml's swiglu backward computes them, so the
// same holds for those projections, Σ (W·c)·d = Σ c·(Wᵀd), and the MLP is not
// recomputed at all. Forward with mlp, gate and up are copied into it, and
// mlp then holds the copies, for the caller to compute.
static ggml_tensor * build_layer(const atod_trainer * t, ggml_context * ctx, int il, ggml_tensor * x,
                                 const atod_inputs & in, int n_tok, int n_seq, ggml_tensor * g = nullptr,
                                 atod_mlp * mlp = nullptr) {
    const int n = n_tok * n_seq, d = t->n_embd_head;
    const atod_layer & L = t->layers[il];
    ggml_tensor * cur = norm(t, ctx, x, L.attn_norm);

    ggml_tensor * q = mm(t, ctx, L.wq, cur);
    if (L.bq) q = ggml_add(ctx, q, L.bq);
    ggml_tensor * k = mm(t, ctx, L.wk, cur);
    if (L.bk) k = ggml_add(ctx, k, L.bk);
    ggml_tensor * v = mm(t, ctx, L.wv, cur);
    if (L.bv) v = ggml_add(ctx, v, L.bv);
    q = ggml_reshape_3d(ctx, q, d, t->n_head, n);
    k = ggml_reshape_3d(ctx, k, d, t->n_head_kv, n);
    v = ggml_reshape_3d(ctx, v, d, t->n_head_kv, n);
    if (L.q_norm) q = norm(t, ctx, q, L.q_norm); // qwen3: before RoPE
    if (L.k_norm) k = norm(t, ctx, k, L.k_norm);
    q = rope(t, ctx, q, in.pos, L.rope_freqs);
    k = rope(t, ctx, k, in.pos, L.rope_freqs);

    cur = attention(t, ctx, q, k, v, in.mask, n_tok, n_seq);
    cur = mm(t, ctx, L.wo, cur);
    if (L.bo) cur = ggml_add(ctx, cur, L.bo);
    x = ggml_add(ctx, cur, x);

    cur = norm(t, ctx, x, L.ffn_norm);
    if (g != nullptr && mlp != nullptr) {
        ggml_tensor * dz = ggml_mul_mat(ctx, weight_t(t, ctx, L.down), g);
        auto it = t->lora.find(L.down);
        if (it != t->lora.end()) { // s·Aᵀ(Bᵀg) through views, which autodiff takes for constants
            ggml_tensor * at = ggml_cont(ctx, ggml_transpose(ctx, ggml_view_tensor(ctx, it->second.a)));
            ggml_tensor * bt = ggml_cont(ctx, ggml_transpose(ctx, ggml_view_tensor(ctx, it->second.b)));
            dz = ggml_add(ctx, dz, ggml_scale(ctx, ggml_mul_mat(ctx, at, ggml_mul_mat(ctx, bt, g)), t->lora_scale));
        }
        ggml_tensor * dgate = ggml_silu_back(ctx, ggml_mul(ctx, dz, mlp->up), mlp->gate);
        ggml_tensor * dup   = ggml_mul(ctx, ggml_silu(ctx, mlp->gate), dz);
        ggml_tensor * c = ggml_add(ctx, ggml_mul_mat(ctx, weight_t(t, ctx, L.up), dup),
                                   ggml_mul_mat(ctx, weight_t(t, ctx, L.gate), dgate));
        ggml_tensor * loss = ggml_add(ctx, ggml_sum(ctx, ggml_mul(ctx, cur, c)), ggml_sum(ctx, ggml_mul(ctx, x, g)));
        for (auto [w, d] : { std::pair{ L.up, dup }, std::pair{ L.gate, dgate } }) {
            if (ggml_tensor * ab = lora_term(t, ctx, w, cur)) {
                loss = ggml_add(ctx, loss, ggml_sum(ctx, ggml_mul(ctx, ab, d)));
            }
        }
        if (ggml_tensor * ab = lora_term(t, ctx, L.down, ggml_swiglu_split(ctx, mlp->gate, mlp->up))) {
            loss = ggml_add(ctx, loss, ggml_sum(ctx, ggml_mul(ctx, ab, g)));
        }
        return loss;
    }
    ggml_tensor * up   = mm(t, ctx, L.up, cur);
    ggml_tensor * gate = mm(t, ctx, L.gate, cur);
    if (mlp != nullptr) {
        mlp->gate = ggml_cpy(ctx, gate, mlp->gate);
        mlp->up   = ggml_cpy(ctx, up, mlp->up);
    }
    ggml_tensor * z = ggml_swiglu_split(ctx, gate, up);
    if (g == nullptr || t->full_weights) {
        x = ggml_add(ctx, mm(t, ctx, L.down, z), x);
        return g == nullptr ? x : ggml_sum(ctx, ggml_mul(ctx, x, g));
    }
    ggml_tensor * loss = ggml_add(ctx, ggml_sum(ctx, ggml_mul(ctx, z, ggml_mul_mat(ctx, weight_t(t, ctx, L.down), g))),
                                  ggml_sum(ctx, ggml_mul(ctx, x, g)));
    if (ggml_tensor * ab = lora_term(t, ctx, L.down, z)) {
        loss = ggml_add(ctx, loss, ggml_sum(ctx, ggml_mul(ctx, ab, g)));
    }
    return loss;
}

// Logits [n_vocab, n_tgt] of the positions that predict the targets, from the last hidden state.
// RMS norm is per position, so the predicting positions are picked first and
// only they are normed.
static ggml_tensor * build_head(const atod_trainer * t, ggml_context * ctx, const atod_inputs & in, ggml_tensor * x) {
    x = norm(t, ctx, ggml_get_rows(ctx, x, in.rows), t->output_norm);
    ggml_tensor * logits = mm(t, ctx, t->output, x);
    if (t->output_b) logits = ggml_add(ctx, logits, t->output_b);
    return logits;
}

// The distillation term's soft log-likelihood of target j, over the teacher's
// K tokens (probabilities p_i, padding p_i = 0) and a tail bucket:
//   soft_j = Σ_i p_i·log π(i) + p_tail·log π(tail),
//   π(tail) = max(1 − Σ_{i: p_i > 0} π(i), 1e-6).
// So soft_j = −KL_j − H_j, KL_j the forward KL(p ‖ π) over the K + 1 buckets and
// H_j the teacher's entropy over them, a constant. The floor keeps log π(tail)
// finite where the K probabilities sum to 1 in float32 (their rounding is near
// 1e-7 each); above it the tail is exact, below it has no gradient.
static ggml_tensor * build_soft(ggml_context * ctx, const atod_inputs & in, ggml_tensor * probs, int64_t K, int64_t n_tgt) {
    ggml_tensor * pk = ggml_reshape_2d(ctx, ggml_get_rows(ctx, probs, in.tk_pick), K, n_tgt); // π(i)
    ggml_tensor * lk = ggml_log(ctx, ggml_scale_bias(ctx, pk, 1.0f, 1e-37f));
    ggml_tensor * listed = ggml_sum_rows(ctx, ggml_mul(ctx, pk, ggml_step(ctx, in.tk_p))); // [1, n_tgt]
    ggml_tensor * tail = ggml_scale_bias(ctx, ggml_relu(ctx, ggml_scale_bias(ctx, listed, -1.0f, 1.0f - 1e-6f)), 1.0f, 1e-6f);
    return ggml_add(ctx, ggml_sum_rows(ctx, ggml_mul(ctx, lk, in.tk_p)), ggml_mul(ctx, ggml_log(ctx, tail), in.tk_tail));
}

// log π(y_j) = log(softmax(logits_j)[y_j] + 1e-37); loss = scale · Σ_j (w_j · log π(y_j) + d_j · soft_j),
// the second term where the batch has the distillation term (build_soft).
// The 1e-37 keeps a probability that underflows to 0 from giving −inf (log π
// bottoms out at −85.2, with zero gradient); it changes log π by < 1e-7 where π > 1e-30.
static ggml_tensor * build_loss(const atod_trainer * t, ggml_context * ctx, const atod_inputs & in, ggml_tensor * logits,
                                const atod_batch * b, ggml_tensor ** logp_out, ggml_tensor ** soft_out) {
    ggml_tensor * probs = ggml_soft_max(ctx, logits);
    probs = ggml_reshape_2d(ctx, probs, 1, (int64_t) t->n_vocab * b->n_tgt);
    ggml_tensor * logp = ggml_log(ctx, ggml_scale_bias(ctx, ggml_get_rows(ctx, probs, in.pick), 1.0f, 1e-37f)); // [1, n_tgt]
    ggml_set_name(logp, "logp");
    ggml_set_output(logp);
    *logp_out = logp;
    ggml_tensor * sum = ggml_mul(ctx, logp, in.w);
    *soft_out = nullptr;
    if (in.tk_pick != nullptr) {
        ggml_tensor * soft = build_soft(ctx, in, probs, b->topk, b->n_tgt);
        ggml_set_name(soft, "soft");
        ggml_set_output(soft);
        *soft_out = soft;
        sum = ggml_add(ctx, sum, ggml_mul(ctx, soft, in.tk_w));
    }
    ggml_tensor * loss = ggml_scale(ctx, ggml_sum(ctx, sum), b->loss_scale);
    ggml_set_name(loss, "loss");
    ggml_set_output(loss);
    ggml_set_loss(loss);
    return loss;
}

// set_input fills an input tensor, unless the graph does not use it (then it has no buffer).
static void set_input(ggml_tensor * x, const void * data) {
    if (x->buffer != nullptr) {
        ggml_backend_tensor_set(x, data, 0, ggml_nbytes(x));
    }
}

static void fill_inputs(const atod_trainer * t, const atod_inputs & in, const atod_batch * b) {
    const int T = b->n_tok, S = b->n_seq;
    const bool layers = in.mask->buffer != nullptr; // a head-only graph needs no mask
    std::vector<int32_t> pos(layers ? (size_t) T * S : 0);
    std::vector<float> mask(layers ? (size_t) T * T * S : 0);
    for (int s = 0; layers && s < S; s++) {
        for (int i = 0; i < T; i++) {
            pos[(size_t) s * T + i] = i;
            for (int j = 0; j < T; j++) {
                // query i sees keys j <= i of its own sequence, never padding;
                // padded queries still see key 0, so no softmax row is empty.
                const bool vis = j <= i && j < b->lens[s];
                mask[((size_t) s * T + i) * T + j] = vis ? 0.0f : -INFINITY;
            }
        }
    }
    std::vector<int32_t> rows(b->n_tgt), pick(b->n_tgt);
    for (int j = 0; j < b->n_tgt; j++) {
        rows[j] = b->tgt_pos[j] - 1;
        pick[j] = j * t->n_vocab + b->tokens[b->tgt_pos[j]];
    }
    set_input(in.tokens, b->tokens);
    set_input(in.pos, pos.data());
    set_input(in.mask, mask.data());
    set_input(in.rows, rows.data());
    set_input(in.pick, pick.data());
    set_input(in.w, b->tgt_w);
    if (in.tk_pick != nullptr) {
        const int K = b->topk;
        std::vector<int32_t> tk_pick((size_t) K * b->n_tgt);
        std::vector<float> tail(b->n_tgt);
        for (int j = 0; j < b->n_tgt; j++) {
            float listed = 0;
            for (int i = 0; i < K; i++) {
                tk_pick[(size_t) j * K + i] = j * t->n_vocab + b->tk_id[(size_t) j * K + i];
                listed += b->tk_p[(size_t) j * K + i];
            }
            tail[j] = std::max(0.0f, 1.0f - listed);
        }
        set_input(in.tk_pick, tk_pick.data());
        set_input(in.tk_p, b->tk_p);
        set_input(in.tk_tail, tail.data());
        set_input(in.tk_w, b->tk_w);
    }
}

// ggml-alloc may compute an op in place over any one of its sources, but two CPU
// backward kernels are only correct in place over one of them: RMS_NORM_BACK
// copies x into dst before reading dz (src0), SOFT_MAX_BACK copies dy into dst
// before reading y (src1). Flagging that source as an output keeps its memory from
// being reused (it is alive until its backward op anyway).
static void protect_backward_inputs(ggml_cgraph * gf) {
    for (int i = 0; i < ggml_graph_n_nodes(gf); i++) {
        ggml_tensor * node = ggml_graph_node(gf, i);
        ggml_tensor * src = node->op == GGML_OP_RMS_NORM_BACK ? node->src[0] :
                            node->op == GGML_OP_SOFT_MAX_BACK ? node->src[1] : nullptr;
        if (src != nullptr) {
            ggml_set_output(src->view_src ? src->view_src : src);
        }
    }
}

// dense_pays: mm multiplies a quantized matrix in host memory by at least
// t->dense_from tokens on a CPU with an F16 sgemm (see rewrite_mul_mats); a
// GPU's quantized kernels are fast. (Trained matrices are F32 copies.)
static bool dense_pays(const atod_trainer * t, const ggml_tensor * mm) {
    const ggml_tensor * w = mm->src[0];
    static const bool f16_sgemm = ggml_cpu_has_f16c() || ggml_cpu_has_fp16_va();
    return t->gpu == nullptr && f16_sgemm && ggml_is_quantized(w->type) && ggml_nrows(mm->src[1]) >= t->dense_from &&
           atod_can_keep_transpose(w);
}

// rewrite_mul_mats makes the graph's matrix products fast on the CPU, and
// re-collects it so that the copies it adds precede their uses.
//
// ggml's autodiff computes both gradients of a mul_mat with out_prod: the input
// gradient of y = W·x as out_prod(W, dyᵀ), a weight gradient as out_prod(x, dy).
// The CPU out_prod is a blocked axpy loop, several times slower than the matmul
// kernels (llamafile sgemm), and has no F16/BF16 kernel. The same sums as mul_mat:
//   out_prod(a, b) = mul_mat(aᵀ, bᵀ)   (aᵀ, bᵀ made contiguous; (xᵀ)ᵀ = x)
// with the same broadcasting over dims 2 and 3. So every out_prod is rewritten in
// place, with Wᵀ from the trainer's cache or from extra where there is one, and
// other transposes made once per tensor (F32 or BF16, dequantized: transpose.cpp).
//
// And ggml's quantized CPU kernels multiply at 0.55–0.8 of the F16 sgemm's speed
// (4864×896 by 2,048 tokens, 2 threads: Q5_K 88, Q4_K 114, Q5_0 120, Q8_0 145,
// F16 176 GFLOP/s), while dequantizing costs about what the faster product saves
// on 60 tokens. So where dense_pays, W·x multiplies W dequantized to F16, a copy
// made once in the graph, and rounds x to F16 as an F16 model does (ggml's
// quantized kernels round it to 8 bits: log-probs differ by 0.03–0.05 on the
// tiny test models, so micro-batches under dense_from tokens and the output
// head's chunks, 32 targets at a 128k vocabulary, which stay on those kernels,
// compute slightly other numbers). Each copy is freed after its one use.
static ggml_cgraph * rewrite_mul_mats(const atod_trainer * t, ggml_context * ctx, ggml_cgraph * gf,
                                      const atod_transposes & extra = {}) {
    atod_transposes transposed = t->transposed;
    transposed.insert(extra.begin(), extra.end());
    auto tr = [&](ggml_tensor * x) {
        if (x->op == GGML_OP_TRANSPOSE) {
            return ggml_is_contiguous(x->src[0]) ? x->src[0] : ggml_cont(ctx, x->src[0]);
        }
        auto it = transposed.find(x);
        return it != transposed.end() ? it->second : transposed[x] = atod_transpose(t, ctx, x);
    };
    std::unordered_map<const ggml_tensor *, ggml_tensor *> dense;
    const int n = ggml_graph_n_nodes(gf);
    for (int i = 0; i < n; i++) {
        ggml_tensor * node = ggml_graph_node(gf, i);
        if (node->op == GGML_OP_MUL_MAT && dense_pays(t, node)) {
            ggml_tensor *& d = dense[node->src[0]];
            node->src[0] = d != nullptr ? d : d = atod_dense(ctx, node->src[0]);
        }
        if (node->op != GGML_OP_OUT_PROD) {
            continue;
        }
        ggml_tensor * a = tr(node->src[0]);
        ggml_tensor * b = tr(node->src[1]);
        node->op = GGML_OP_MUL_MAT;
        memset(node->op_params, 0, sizeof(node->op_params));
        node->src[0] = a;
        node->src[1] = b;
    }
    ggml_cgraph * gb = ggml_new_graph_custom(ctx, t->graph_size, false);
    for (int i = 0; i < n; i++) {
        ggml_build_forward_expand(gb, ggml_graph_node(gf, i));
    }
    return gb;
}

static ggml_tensor * new_input(ggml_context * ctx, ggml_type type, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3,
                               const char * name) {
    ggml_tensor * x = ggml_new_tensor_4d(ctx, type, ne0, ne1, ne2, ne3);
    ggml_set_name(x, name);
    ggml_set_input(x);
    return x;
}

static atod_inputs new_inputs(ggml_context * ctx, const atod_batch * b) {
    const int T = b->n_tok, S = b->n_seq;
    atod_inputs in;
    in.tokens = new_input(ctx, GGML_TYPE_I32, (int64_t) T * S, 1, 1, 1, "tokens");
    in.pos    = new_input(ctx, GGML_TYPE_I32, (int64_t) T * S, 1, 1, 1, "pos");
    in.mask   = new_input(ctx, GGML_TYPE_F32, T, T, 1, S, "mask");
    in.rows   = new_input(ctx, GGML_TYPE_I32, b->n_tgt, 1, 1, 1, "rows");
    in.pick   = new_input(ctx, GGML_TYPE_I32, b->n_tgt, 1, 1, 1, "pick");
    in.w      = new_input(ctx, GGML_TYPE_F32, 1, b->n_tgt, 1, 1, "weights");
    if (b->topk > 0) {
        in.tk_pick = new_input(ctx, GGML_TYPE_I32, (int64_t) b->topk * b->n_tgt, 1, 1, 1, "tk_pick");
        in.tk_p    = new_input(ctx, GGML_TYPE_F32, b->topk, b->n_tgt, 1, 1, "tk_p");
        in.tk_tail = new_input(ctx, GGML_TYPE_F32, 1, b->n_tgt, 1, 1, "tk_tail");
        in.tk_w    = new_input(ctx, GGML_TYPE_F32, 1, b->n_tgt, 1, 1, "tk_w");
    }
    return in;
}

// with_backward adds loss's backward to gf, gradients accumulating into the
// persistent grads tensors (across micro-batches and, recomputing, across the
// layers' graphs), and returns the graph to run.
static ggml_cgraph * with_backward(const atod_trainer * t, ggml_context * ctx, ggml_cgraph * gf, ggml_tensor * loss,
                                   const atod_transposes & extra = {}) {
    std::unordered_map<const ggml_tensor *, ggml_tensor *> acc;
    for (size_t i = 0; i < t->params.size(); i++) {
        acc[t->params[i]] = t->grads[i];
    }
    acc[loss] = t->loss_seed;
    std::vector<ggml_tensor *> accs(ggml_graph_n_nodes(gf), nullptr);
    for (int i = 0; i < ggml_graph_n_nodes(gf); i++) {
        auto it = acc.find(ggml_graph_node(gf, i));
        if (it != acc.end()) {
            accs[i] = it->second;
        }
    }
    ggml_build_backward_expand(ctx, gf, accs.data());
    protect_backward_inputs(gf);
    return rewrite_mul_mats(t, ctx, gf, extra);
}

// run allocates gf, fills the batch inputs and extra (tensor, host data) pairs, and computes.
static bool run(atod_trainer * t, ggml_cgraph * gf, const atod_inputs & in, const atod_batch * b,
                const std::vector<std::pair<ggml_tensor *, const float *>> & extra, char * err, size_t n_err) {
    ggml_backend_sched_reset(t->sched);
    if (!ggml_backend_sched_alloc_graph(t->sched, gf)) {
        atod_set_err(err, n_err, "cannot allocate the training graph (%d seqs x %d tokens)", b->n_seq, b->n_tok);
        return false;
    }
    fill_inputs(t, in, b);
    for (const auto & e : extra) {
        set_input(e.first, e.second);
    }
    if (ggml_backend_sched_graph_compute(t->sched, gf) != GGML_STATUS_SUCCESS) {
        atod_set_err(err, n_err, "graph compute failed");
        return false;
    }
    return true;
}

static ggml_context * new_ctx(atod_trainer * t) {
    ggml_init_params ip = { t->meta.size(), t->meta.data(), true };
    return ggml_init(ip);
}

// hidden_input is an F32 [n_embd, n] graph input, with a gradient when grad: a layer's input or output gradient.
static ggml_tensor * hidden_input(const atod_trainer * t, ggml_context * ctx, int64_t n, bool grad, const char * name) {
    ggml_tensor * h = new_input(ctx, GGML_TYPE_F32, t->n_embd, n, 1, 1, name);
    if (grad) {
        ggml_set_param(h);
    }
    return h;
}

// transpose_output makes Wᵀ of the output head for the head's input
// gradient: it is the largest matrix (n_vocab rows), which each chunk's graph
// would transpose again. Made at the first use and kept, or remade each call
// where the output is trained (full weights); not made where the trainer keeps
// one already, or on a GPU backend (each graph transposes there).
static bool transpose_output(atod_trainer * t, atod_transposes & map, char * err, size_t n_err) {
    ggml_tensor * w = t->output;
    if (t->transposed.count(w) || t->gpu != nullptr || !atod_can_keep_transpose(w)) {
        return true;
    }
    const bool fresh = t->output_t == nullptr;
    if (fresh) {
        t->ctx_ot = ggml_init({ ggml_tensor_overhead(), nullptr, true });
        t->output_t = ggml_new_tensor_2d(t->ctx_ot, atod_transpose_type(w), w->ne[1], w->ne[0]);
        t->buf_ot = ggml_backend_alloc_ctx_tensors(t->ctx_ot, t->cpu);
    }
    bool ok = t->buf_ot != nullptr;
    if (ok && (fresh || t->full_weights)) {
        ok = atod_transpose_now(t->cpu, { { t->output_t, w } });
    }
    if (!ok) { // nothing half made is kept: the next call starts again
        atod_set_err(err, n_err, "cannot make the output head's transpose (%.0f MiB)", ggml_nbytes(t->output_t) / 1048576.0);
        if (t->buf_ot) ggml_backend_buffer_free(t->buf_ot);
        ggml_free(t->ctx_ot);
        t->buf_ot = nullptr, t->ctx_ot = nullptr, t->output_t = nullptr;
        return false;
    }
    map[w] = t->output_t;
    return true;
}

// eval_head_chunks runs the output head and the loss from the last hidden state
// x, in chunks of targets small enough that a chunk's [n_vocab, chunk] logits
// (with their softmax and gradients) stay near 16 MiB: at a real vocabulary the
// logits of every target at once are the largest tensor of a step. It writes the
// log-probs and the loss, and dx = ∂loss/∂x summed over the chunks.
static int eval_head_chunks(atod_trainer * t, const atod_batch * b, const std::vector<float> & x, std::vector<float> & dx,
                            float * logp_out, float * soft_out, double * loss_out, char * err, size_t n_err) {
    const int64_t n = (int64_t) b->n_tok * b->n_seq;
    const int chunk = std::max(1, std::min(b->n_tgt, t->head_chunk > 0 ? t->head_chunk : (1 << 22) / t->n_vocab));
    atod_transposes wt;
    if (!transpose_output(t, wt, err, n_err)) {
        return 1;
    }
    std::fill(dx.begin(), dx.end(), 0.0f);
    std::vector<float> part(dx.size());
    double loss_sum = 0;
    for (int lo = 0; lo < b->n_tgt; lo += chunk) {
        atod_batch c = *b;
        c.n_tgt = std::min(chunk, b->n_tgt - lo);
        c.tgt_pos += lo;
        c.tgt_w += lo;
        if (c.topk > 0) {
            c.tk_id += (size_t) lo * c.topk;
            c.tk_p += (size_t) lo * c.topk;
            c.tk_w += lo;
        }
        ggml_context * ctx = new_ctx(t);
        atod_inputs in = new_inputs(ctx, &c);
        ggml_tensor * h = hidden_input(t, ctx, n, true, "h");
        ggml_tensor * logp = nullptr, * soft = nullptr;
        ggml_tensor * loss = build_loss(t, ctx, in, build_head(t, ctx, in, h), &c, &logp, &soft);
        ggml_cgraph * gf = ggml_new_graph_custom(ctx, t->graph_size, true);
        ggml_build_forward_expand(gf, loss);
        ggml_cgraph * gb = with_backward(t, ctx, gf, loss, wt);
        ggml_tensor * dh = ggml_graph_get_grad(gf, h);
        ggml_set_output(dh);
        bool ok = run(t, gb, in, &c, { { h, x.data() } }, err, n_err);
        if (ok) {
            ggml_backend_tensor_get(logp, logp_out + lo, 0, ggml_nbytes(logp));
            if (soft != nullptr) {
                ggml_backend_tensor_get(soft, soft_out + lo, 0, ggml_nbytes(soft));
            }
            float l = 0;
            ggml_backend_tensor_get(loss, &l, 0, sizeof(l));
            loss_sum += l;
            ggml_backend_tensor_get(dh, part.data(), 0, part.size() * sizeof(float));
            for (size_t i = 0; i < dx.size(); i++) {
                dx[i] += part[i];
            }
        }
        ggml_backend_sched_reset(t->sched);
        ggml_free(ctx);
        if (!ok) {
            return 1;
        }
    }
    *loss_out = loss_sum;
    return 0;
}

// grow_kept makes t->kept hold bytes at least (at most keep_mlp: see
// eval_recompute); it stays for the next micro-batches. False where that
// memory cannot be had: then the layers keep nothing.
static bool grow_kept(atod_trainer * t, size_t bytes) {
    if (t->kept != nullptr && ggml_nbytes(t->kept) >= bytes) {
        return true;
    }
    if (t->buf_kept) ggml_backend_buffer_free(t->buf_kept);
    if (t->ctx_kept) ggml_free(t->ctx_kept);
    t->ctx_kept = ggml_init({ ggml_tensor_overhead(), nullptr, true });
    t->kept = ggml_new_tensor_1d(t->ctx_kept, GGML_TYPE_F32, bytes / sizeof(float));
    t->buf_kept = ggml_backend_alloc_ctx_tensors(t->ctx_kept, t->gpu ? t->gpu : t->cpu);
    if (t->buf_kept == nullptr) {
        ggml_free(t->ctx_kept);
        t->ctx_kept = nullptr, t->kept = nullptr;
        return false;
    }
    return true;
}

// kept_mlp is the k-th keeping layer's gate and up [n_ff, n] in t->kept.
static atod_mlp kept_mlp(const atod_trainer * t, ggml_context * ctx, int k, int64_t n_ff, int64_t n) {
    const size_t sz = (size_t) n_ff * n * sizeof(float);
    return { ggml_view_2d(ctx, t->kept, n_ff, n, n_ff * sizeof(float), 2 * k * sz),
             ggml_view_2d(ctx, t->kept, n_ff, n, n_ff * sizeof(float), (2 * k + 1) * sz) };
}

// eval_recompute is the backward with activation checkpointing: a forward pass,
// a layer at a time, keeps only each layer's input x_l; then the head (in chunks
// of targets), and each layer from the last to the first, is rebuilt from its
// saved input and differentiated alone, with the gradient dx of its output
// carried down as the loss Σ y·dy. So one layer's activations (and its
// attention) are alive at a time, not all of them. The top layers whose MLP
// inputs (gate and up, 2·n_ff floats a token) fit in keep_mlp bytes keep those
// too, and their backward skips the gate and up matmuls: 70 % of the forward
// work that recomputing repeats at 0.5B.
static int eval_recompute(atod_trainer * t, const atod_batch * b, float * logp_out, float * soft_out, double * loss_out,
                          char * err, size_t n_err) {
    const int T = b->n_tok, S = b->n_seq, L = t->n_layer;
    const int64_t n = (int64_t) T * S, n_ff = t->layers[0].gate->ne[1];
    const size_t hn = (size_t) t->n_embd * n, per_layer = 2 * n_ff * n * sizeof(float);
    int keep = t->full_weights ? 0 : (int) std::min<size_t>(L, t->keep_mlp / per_layer);
    if (keep > 0 && !grow_kept(t, keep * per_layer)) {
        keep = 0;
    }
    std::vector<std::vector<float>> xs(L + 1, std::vector<float>(hn));
    for (int il = 0; il < L; il++) { // a graph a layer: the scheduler's buffer holds one layer's activations
        const int k = il - (L - keep); // ≥ 0: a layer that keeps its MLP inputs
        ggml_context * ctx = new_ctx(t);
        atod_inputs in = new_inputs(ctx, b);
        ggml_tensor * h = il == 0 ? ggml_get_rows(ctx, t->tok_embd, in.tokens) : hidden_input(t, ctx, n, false, "h");
        atod_mlp mlp = k >= 0 ? kept_mlp(t, ctx, k, n_ff, n) : atod_mlp{};
        ggml_tensor * y = build_layer(t, ctx, il, h, in, T, S, nullptr, k >= 0 ? &mlp : nullptr);
        ggml_cgraph * gf = ggml_new_graph_custom(ctx, t->graph_size, false);
        for (ggml_tensor * x : { h, y, mlp.gate, mlp.up }) {
            if (x != nullptr) {
                ggml_set_output(x);
                ggml_build_forward_expand(gf, x);
            }
        }
        std::vector<std::pair<ggml_tensor *, const float *>> extra;
        if (il > 0) {
            extra.push_back({ h, xs[il].data() });
        }
        bool ok = run(t, rewrite_mul_mats(t, ctx, gf), in, b, extra, err, n_err);
        if (ok && il == 0) {
            ggml_backend_tensor_get(h, xs[0].data(), 0, hn * sizeof(float));
        }
        if (ok) {
            ggml_backend_tensor_get(y, xs[il + 1].data(), 0, hn * sizeof(float));
        }
        ggml_backend_sched_reset(t->sched);
        ggml_free(ctx);
        if (!ok) {
            return 1;
        }
    }
    std::vector<float> dy(hn);
    if (eval_head_chunks(t, b, xs[L], dy, logp_out, soft_out, loss_out, err, n_err) != 0) {
        return 1;
    }
    const bool embd_grad = std::find(t->params.begin(), t->params.end(), t->tok_embd) != t->params.end();
    for (int il = L - 1; il >= 0; il--) {
        const int k = il - (L - keep);
        ggml_context * ctx = new_ctx(t);
        atod_inputs in = new_inputs(ctx, b);
        const bool need_dx = il > 0 || embd_grad;
        ggml_tensor * h = hidden_input(t, ctx, n, need_dx, "h");
        ggml_tensor * g = hidden_input(t, ctx, n, false, "dy");
        atod_mlp mlp = k >= 0 ? kept_mlp(t, ctx, k, n_ff, n) : atod_mlp{};
        ggml_tensor * loss = build_layer(t, ctx, il, h, in, T, S, g, k >= 0 ? &mlp : nullptr);
        ggml_set_loss(loss);
        ggml_cgraph * gf = ggml_new_graph_custom(ctx, t->graph_size, true);
        ggml_build_forward_expand(gf, loss);
        ggml_cgraph * gb = with_backward(t, ctx, gf, loss);
        ggml_tensor * dh = need_dx ? ggml_graph_get_grad(gf, h) : nullptr;
        if (dh != nullptr) {
            ggml_set_output(dh);
        }
        bool ok = run(t, gb, in, b, { { h, xs[il].data() }, { g, dy.data() } }, err, n_err);
        if (ok && dh != nullptr) {
            ggml_backend_tensor_get(dh, dy.data(), 0, hn * sizeof(float));
        } else if (ok) {
            std::fill(dy.begin(), dy.end(), 0.0f); // the layers below get no gradient from here
        }
        ggml_backend_sched_reset(t->sched);
        ggml_free(ctx);
        if (!ok) {
            return 1;
        }
    }
    if (embd_grad) { // full weights: the embedding's gradient, Σ x_0·dx_0
        ggml_context * ctx = new_ctx(t);
        atod_inputs in = new_inputs(ctx, b);
        ggml_tensor * g = hidden_input(t, ctx, n, false, "dy");
        ggml_tensor * loss = ggml_sum(ctx, ggml_mul(ctx, ggml_get_rows(ctx, t->tok_embd, in.tokens), g));
        ggml_set_loss(loss);
        ggml_cgraph * gf = ggml_new_graph_custom(ctx, t->graph_size, true);
        ggml_build_forward_expand(gf, loss);
        bool ok = run(t, with_backward(t, ctx, gf, loss), in, b, { { g, dy.data() } }, err, n_err);
        ggml_backend_sched_reset(t->sched);
        ggml_free(ctx);
        if (!ok) {
            return 1;
        }
    }
    return 0;
}

extern "C" int atod_train_eval(atod_trainer * t, const atod_batch * b, int backward, float * logp_out,
                               float * soft_out, double * loss_out, char * err, size_t n_err) {
    if (backward == 2) {
        return eval_recompute(t, b, logp_out, soft_out, loss_out, err, n_err);
    }
    const int T = b->n_tok, S = b->n_seq;
    ggml_context * ctx = new_ctx(t);
    atod_inputs in = new_inputs(ctx, b);

    ggml_tensor * x = ggml_get_rows(ctx, t->tok_embd, in.tokens);
    for (int il = 0; il < t->n_layer; il++) {
        x = build_layer(t, ctx, il, x, in, T, S);
    }
    ggml_tensor * logp = nullptr, * soft = nullptr;
    ggml_tensor * loss = build_loss(t, ctx, in, build_head(t, ctx, in, x), b, &logp, &soft);

    ggml_cgraph * gf = ggml_new_graph_custom(ctx, t->graph_size, backward != 0);
    ggml_build_forward_expand(gf, loss);
    gf = backward ? with_backward(t, ctx, gf, loss) : rewrite_mul_mats(t, ctx, gf);
    if (!run(t, gf, in, b, {}, err, n_err)) {
        ggml_backend_sched_reset(t->sched);
        ggml_free(ctx);
        return 1;
    }
    ggml_backend_tensor_get(logp, logp_out, 0, ggml_nbytes(logp));
    if (soft != nullptr) {
        ggml_backend_tensor_get(soft, soft_out, 0, ggml_nbytes(soft));
    }
    float l = 0;
    ggml_backend_tensor_get(loss, &l, 0, sizeof(l));
    *loss_out = l;
    ggml_backend_sched_reset(t->sched);
    ggml_free(ctx);
    return 0;
}
