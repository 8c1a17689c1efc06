// GGUF writers: a llama.cpp LoRA adapter, or (FullWeights) the whole model with
// the original metadata and the trained weights in F32.
#include "trainer.hpp"

#include "gguf.h"

#include <cstdio>
#include <memory>
#include <vector>

struct gguf_deleter {
    void operator()(gguf_context * c) const { gguf_free(c); }
};
struct ggml_deleter {
    void operator()(ggml_context * c) const { ggml_free(c); }
};

// Tensors added to a gguf_context point at host copies owned here until written.
struct host_tensors {
    std::unique_ptr<ggml_context, ggml_deleter> ctx;
    std::vector<std::vector<uint8_t>> data;

    explicit host_tensors(size_t n) : ctx(ggml_init({ ggml_tensor_overhead() * (n + 1), nullptr, true })) {
        data.reserve(n);
    }

    ggml_tensor * add(const char * name, ggml_type type, int n_dims, const int64_t * ne) {
        ggml_tensor * x = ggml_new_tensor(ctx.get(), type, n_dims, ne);
        ggml_set_name(x, name);
        data.emplace_back(ggml_nbytes(x));
        x->data = data.back().data();
        return x;
    }
};

extern "C" int atod_train_save_adapter(const atod_trainer * t, const char * path, char * err, size_t n_err) {
    if (t->full_weights) {
        atod_set_err(err, n_err, "FullWeights trainer has no adapter (use SaveModel)");
        return 1;
    }
    std::unique_ptr<gguf_context, gguf_deleter> g(gguf_init_empty());
    gguf_set_val_str(g.get(), "general.type", "adapter");
    gguf_set_val_str(g.get(), "general.architecture", t->arch.c_str());
    gguf_set_val_str(g.get(), "adapter.type", "lora");
    gguf_set_val_f32(g.get(), "adapter.lora.alpha", t->lora_alpha);

    host_tensors h(t->params.size());
    for (ggml_tensor * p : t->params) {
        ggml_tensor * x = h.add(ggml_get_name(p), GGML_TYPE_F32, 2, p->ne);
        ggml_backend_tensor_get(p, x->data, 0, ggml_nbytes(p));
        gguf_add_tensor(g.get(), x);
    }
    if (!gguf_write_to_file(g.get(), path, false)) {
        atod_set_err(err, n_err, "cannot write %s", path);
        return 1;
    }
    return 0;
}

extern "C" int atod_train_save_model(const atod_trainer * t, const char * path, char * err, size_t n_err) {
    if (!t->full_weights) {
        atod_set_err(err, n_err, "LoRA trainer has no full model (use SaveAdapter)");
        return 1;
    }
    const std::string src_path = t->model_path;
    ggml_context * meta_raw = nullptr;
    std::unique_ptr<gguf_context, gguf_deleter> src(gguf_init_from_file(src_path.c_str(), { true, &meta_raw }));
    std::unique_ptr<ggml_context, ggml_deleter> meta(meta_raw);
    if (!src) {
        atod_set_err(err, n_err, "cannot read %s", src_path.c_str());
        return 1;
    }
    std::unique_ptr<gguf_context, gguf_deleter> g(gguf_init_empty());
    gguf_set_kv(g.get(), src.get());
    gguf_set_val_u32(g.get(), "general.file_type", LLAMA_FTYPE_ALL_F32);

    std::unique_ptr<FILE, int (*)(FILE *)> f(fopen(src_path.c_str(), "rb"), fclose);
    if (!f) {
        atod_set_err(err, n_err, "cannot open %s", src_path.c_str());
        return 1;
    }
    std::unordered_map<std::string, const ggml_tensor *> trained;
    for (const ggml_tensor * p : t->params) {
        trained[ggml_get_name(p)] = p;
    }
    const int64_t n = gguf_get_n_tensors(src.get());
    host_tensors h((size_t) n);
    for (int64_t i = 0; i < n; i++) {
        const char * name = gguf_get_tensor_name(src.get(), i);
        const ggml_tensor * orig = ggml_get_tensor(meta.get(), name);
        auto it = trained.find(name);
        if (it != trained.end()) {
            ggml_tensor * x = h.add(name, GGML_TYPE_F32, ggml_n_dims(orig), orig->ne);
            ggml_backend_tensor_get(it->second, x->data, 0, ggml_nbytes(x));
            gguf_add_tensor(g.get(), x);
            continue;
        }
        // untrained tensors (e.g. rope_freqs) are copied byte for byte
        ggml_tensor * x = h.add(name, orig->type, ggml_n_dims(orig), orig->ne);
        const size_t off = gguf_get_data_offset(src.get()) + gguf_get_tensor_offset(src.get(), i);
        if (fseek(f.get(), (long) off, SEEK_SET) != 0 || fread(x->data, 1, ggml_nbytes(x), f.get()) != ggml_nbytes(x)) {
            atod_set_err(err, n_err, "cannot read tensor %s from %s", name, src_path.c_str());
            return 1;
        }
        gguf_add_tensor(g.get(), x);
    }
    if (!gguf_write_to_file(g.get(), path, false)) {
        atod_set_err(err, n_err, "cannot write %s", path);
        return 1;
    }
    return 0;
}
