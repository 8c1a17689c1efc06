// Transposes for backward's mul_mats (graph.cpp), as a ggml custom op on the CPU;
// and dense (F16) copies of quantized matrices for the forward's (atod_dense).
//
// ggml_cont(ggml_transpose(x)) copies element by element, a memcpy call each
// (ggml-cpu's dup_bytes): on a real-shape step that was over half the time.
// Here a tile of rows is converted to F32 (dequantized where quantized), then
// written out column by column, so both sides move whole cache lines.
//
// The type of Wᵀ: F32 where W is F32 (exact gradients, the finite-difference
// tests); otherwise BF16 where the CPU's sgemm has a BF16 kernel (x86), as it
// multiplies BF16 faster than F32 and the matrix is half the size. Not F16: the
// mul_mat rounds dy to Wᵀ's type, and a loss averaged over thousands of tokens
// has gradients below F16's normal range; BF16 has F32's exponents.
#include "trainer.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "ggml-cpu.h"

// rows_f32 converts n contiguous values of type to F32.
static void rows_f32(ggml_type type, const void * src, float * dst, int64_t n) {
    if (type == GGML_TYPE_F32) {
        memcpy(dst, src, n * sizeof(float));
    } else {
        ggml_get_type_traits(type)->to_float(src, dst, n);
    }
}

// dst [ne1, ne0, ne2, ne3] (F32 or BF16) = src [ne0, ne1, ne2, ne3]ᵀ, tiles of rows split over the threads.
static void transpose_kernel(const ggml_tensor * src, ggml_tensor * dst, int ith, int nth) {
    constexpr int64_t TR = 32; // rows of src per tile: each write is a run of TR values
    const int64_t ne0 = src->ne[0], ne1 = src->ne[1], planes = src->ne[2] * src->ne[3];
    const int64_t tiles = (ne1 + TR - 1) / TR;
    std::vector<float> buf(TR * ne0);
    const bool bf16 = dst->type == GGML_TYPE_BF16;
    for (int64_t k = ith; k < tiles * planes; k += nth) {
        const int64_t p = k / tiles, r0 = (k % tiles) * TR, nr = std::min(TR, ne1 - r0);
        const int64_t i2 = p % src->ne[2], i3 = p / src->ne[2];
        const char * s = (const char *) src->data + i2 * src->nb[2] + i3 * src->nb[3];
        float * d = (float *) ((char *) dst->data + i2 * dst->nb[2] + i3 * dst->nb[3]);
        for (int64_t r = 0; r < nr; r++) {
            rows_f32(src->type, s + (r0 + r) * src->nb[1], buf.data() + r * ne0, ne0);
        }
        for (int64_t c = 0; c < ne0; c++) { // column c of the tile is nr consecutive values of dst's row c
            if (bf16) {
                uint16_t * out = (uint16_t *) d + c * ne1 + r0;
                for (int64_t r = 0; r < nr; r++) {
                    uint32_t u;
                    memcpy(&u, &buf[r * ne0 + c], 4);
                    out[r] = (uint16_t) ((u + 0x7fff + ((u >> 16) & 1)) >> 16); // round to nearest even
                }
            } else {
                float * out = d + c * ne1 + r0;
                for (int64_t r = 0; r < nr; r++) {
                    out[r] = buf[r * ne0 + c];
                }
            }
        }
    }
}

static void transpose_op(ggml_tensor * dst, int ith, int nth, void *) {
    transpose_kernel(dst->src[0], dst, ith, nth);
}

static void transpose_into_op(ggml_tensor * dst, int ith, int nth, void *) {
    transpose_kernel(dst->src[1], dst, ith, nth); // src[0] is dst's own storage
}

// Rows must be contiguous (quantized: whole blocks) and the type convertible to F32.
static bool transposable(const ggml_tensor * x) {
    return x->nb[0] == ggml_type_size(x->type) && ggml_blck_size(x->type) <= x->ne[0] &&
           (x->type == GGML_TYPE_F32 || ggml_get_type_traits(x->type)->to_float != nullptr);
}

ggml_type atod_transpose_type(const ggml_tensor * x) {
    const bool bf16_sgemm = ggml_cpu_has_avx2() || ggml_cpu_has_avx512();
    return x->type != GGML_TYPE_F32 && bf16_sgemm ? GGML_TYPE_BF16 : GGML_TYPE_F32;
}

ggml_tensor * atod_transpose(const atod_trainer * t, ggml_context * ctx, ggml_tensor * x) {
    if (t->gpu != nullptr || !transposable(x)) {
        // ggml's own copy: any backend, any layout (custom ops run on the CPU only)
        if (ggml_is_quantized(x->type)) {
            x = ggml_cast(ctx, x, GGML_TYPE_F32);
        }
        return ggml_cont(ctx, ggml_transpose(ctx, x));
    }
    return ggml_custom_4d(ctx, atod_transpose_type(x), x->ne[1], x->ne[0], x->ne[2], x->ne[3], &x, 1, transpose_op,
                          GGML_N_TASKS_MAX, nullptr);
}

bool atod_transpose_now(ggml_backend_t cpu, const std::vector<std::pair<ggml_tensor *, ggml_tensor *>> & dst_src) {
    const size_t n_graph = 4 * dst_src.size() + 16; // each a node, its view and two leaves
    ggml_context * ctx = ggml_init({ ggml_tensor_overhead() * dst_src.size() + ggml_graph_overhead_custom(n_graph, false),
                                     nullptr, true });
    ggml_cgraph * g = ggml_new_graph_custom(ctx, n_graph, false);
    for (const auto & ds : dst_src) {
        ggml_tensor * x = ds.second;
        ggml_build_forward_expand(g, ggml_custom_inplace(ctx, ds.first, &x, 1, transpose_into_op, GGML_N_TASKS_MAX, nullptr));
    }
    const bool ok = ggml_backend_graph_compute(cpu, g) == GGML_STATUS_SUCCESS;
    ggml_free(ctx);
    return ok;
}

bool atod_can_keep_transpose(const ggml_tensor * w) {
    return w->buffer != nullptr && ggml_backend_buffer_is_host(w->buffer) && transposable(w);
}

// dst (F16, w's shape) = w dequantized, a block of rows a thread.
static void dense_op(ggml_tensor * dst, int ith, int nth, void *) {
    const ggml_tensor * w = dst->src[0];
    const int64_t ne0 = w->ne[0], ne1 = w->ne[1], rows = ggml_nrows(w);
    const int64_t r0 = rows * ith / nth, r1 = rows * (ith + 1) / nth;
    std::vector<float> buf(ne0);
    for (int64_t r = r0; r < r1; r++) {
        const int64_t i1 = r % ne1, i2 = r / ne1 % w->ne[2], i3 = r / ne1 / w->ne[2];
        rows_f32(w->type, (const char *) w->data + i1 * w->nb[1] + i2 * w->nb[2] + i3 * w->nb[3], buf.data(), ne0);
        ggml_cpu_fp32_to_fp16(buf.data(), (ggml_fp16_t *) ((char *) dst->data + i1 * dst->nb[1] + i2 * dst->nb[2] + i3 * dst->nb[3]), ne0);
    }
}

ggml_tensor * atod_dense(ggml_context * ctx, ggml_tensor * w) {
    return ggml_custom_4d(ctx, GGML_TYPE_F16, w->ne[0], w->ne[1], w->ne[2], w->ne[3], &w, 1, dense_op, GGML_N_TASKS_MAX,
                          nullptr);
}
