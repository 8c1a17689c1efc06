// In-place update of a loaded LoRA adapter's tensors, so a trainer can hand
// its new weights to the sampler without a file. Uses llama.cpp's internal
// llama_adapter_lora (llama-adapter.h), whose tensors live in backend buffers.
#include "atod.h"

#include "ggml-backend.h"
#include "llama-adapter.h"

#include <cstdio>
#include <string>

extern "C" int atod_adapter_set(struct llama_adapter_lora * a, const char * base, int is_b, const float * data,
                                size_t n, char * err, size_t n_err) {
    auto it = a->ab_map.find(base);
    if (it == a->ab_map.end()) {
        snprintf(err, n_err, "the adapter has no LoRA pair for %s", base);
        return 1;
    }
    ggml_tensor * t = is_b ? it->second.b : it->second.a;
    if (t->type != GGML_TYPE_F32 || (size_t) ggml_nelements(t) != n) {
        snprintf(err, n_err, "%s.lora_%c: %s with %lld values, given %zu F32", base, is_b ? 'b' : 'a', ggml_type_name(t->type),
                 (long long) ggml_nelements(t), n);
        return 1;
    }
    ggml_backend_tensor_set(t, data, 0, n * sizeof(float));
    return 0;
}
