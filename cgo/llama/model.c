#include "atod.h"

#include "gguf.h"

#include <stdio.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

// llama.cpp and ggml log through one callback: quiet unless debugging, but error lines are kept
// per thread so that a failing call can return them in its error.
static bool g_debug;
static __thread char g_err[2048];
static __thread enum ggml_log_level g_last_level;

static void atod_log(enum ggml_log_level level, const char * text, void * user_data) {
    (void) user_data;
    if (g_debug) {
        fputs(text, stderr);
    }
    if (level != GGML_LOG_LEVEL_CONT) {
        g_last_level = level;
    }
    if (g_last_level != GGML_LOG_LEVEL_ERROR) {
        return;
    }
    size_t len = strlen(g_err);
    if (len + strlen(text) >= sizeof(g_err)) {
        len = 0; // keep the latest lines
    }
    snprintf(g_err + len, sizeof(g_err) - len, "%s", text);
}

void atod_init(bool debug) {
    g_debug = debug;
#ifdef __GLIBC__
    // Switching adapters frees and reallocates large buffers (KV cache, compute buffers, LoRA
    // tensors) from whichever OS thread Go runs the call on. By default glibc raises its mmap
    // threshold after such frees and gives each new thread its own arena, so freed memory stays
    // spread over many arenas and RSS creeps up. A fixed threshold keeps large buffers in mmap
    // (returned when freed) and two arenas keep the small ones together (llama.cpp allocates
    // little while decoding, so sharing arenas costs little).
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    mallopt(M_ARENA_MAX, 2);
#endif
    llama_log_set(atod_log, NULL);
    llama_backend_init();
}

void atod_clear_error(void) {
    g_err[0] = '\0';
}

const char * atod_last_error(void) {
    return g_err;
}

ggml_backend_dev_t atod_find_gpu(const char * reg_name) {
    for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
        ggml_backend_dev_t dev = ggml_backend_dev_get(i);
        enum ggml_backend_dev_type type = ggml_backend_dev_type(dev);
        if (type != GGML_BACKEND_DEVICE_TYPE_GPU && type != GGML_BACKEND_DEVICE_TYPE_IGPU) {
            continue;
        }
        if (reg_name == NULL || strcasecmp(ggml_backend_reg_name(ggml_backend_dev_backend_reg(dev)), reg_name) == 0) {
            return dev;
        }
    }
    return NULL;
}

// gguf_get_val_str asserts the type, so every string key is type-checked first.
static const char * kv_str(const struct gguf_context * g, const char * key) {
    int64_t id = gguf_find_key(g, key);
    if (id < 0 || gguf_get_kv_type(g, id) != GGUF_TYPE_STRING) {
        return NULL;
    }
    return gguf_get_val_str(g, id);
}

int atod_check_gguf(const char * path, bool want_adapter, char * arch, size_t arch_len, char * err, size_t err_len) {
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, err_len, "cannot read file");
        return -1;
    }
    struct gguf_init_params params = { .no_alloc = true, .ctx = NULL };
    struct gguf_context * g = gguf_init_from_file(path, params);
    if (g == NULL) {
        snprintf(err, err_len, "not a valid GGUF file (bad magic or version, or truncated or corrupt header)");
        return -1;
    }
    int rc = -1;
    size_t end = gguf_get_data_offset(g);
    for (int64_t i = 0; i < gguf_get_n_tensors(g); i++) {
        size_t e = gguf_get_data_offset(g) + gguf_get_tensor_offset(g, i) + gguf_get_tensor_size(g, i);
        if (e > end) {
            end = e;
        }
    }
    const char * a = kv_str(g, "general.architecture");
    const char * type = kv_str(g, "general.type");
    if (end > (size_t) st.st_size) {
        snprintf(err, err_len, "truncated GGUF file: tensor data ends at byte %zu, file has %lld bytes",
                 end, (long long) st.st_size);
    } else if (a == NULL) {
        snprintf(err, err_len, "GGUF file has no general.architecture");
    } else if (want_adapter && (type == NULL || strcmp(type, "adapter") != 0)) {
        snprintf(err, err_len, "not an adapter: general.type is %s", type ? type : "missing");
    } else if (want_adapter && (kv_str(g, "adapter.type") == NULL || strcmp(kv_str(g, "adapter.type"), "lora") != 0)) {
        snprintf(err, err_len, "not a LoRA adapter: adapter.type must be \"lora\"");
    } else if (!want_adapter && type != NULL && strcmp(type, "adapter") == 0) {
        snprintf(err, err_len, "file is an adapter, not a model");
    } else {
        snprintf(arch, arch_len, "%s", a);
        rc = 0;
    }
    gguf_free(g);
    return rc;
}

struct llama_model * atod_model_load(const char * path, ggml_backend_dev_t dev, int32_t n_gpu_layers, bool no_repack) {
    ggml_backend_dev_t devs[2] = { dev, NULL }; // dev NULL: an empty list, so the CPU only
    struct llama_model_params mp = llama_model_default_params();
    mp.devices = devs;
    mp.use_extra_bufts = !no_repack;
    mp.n_gpu_layers = dev ? n_gpu_layers : 0;
    return llama_model_load_from_file(path, mp);
}

int32_t atod_vocab_diff(const struct llama_vocab * a, const struct llama_vocab * b) {
    int32_t na = llama_vocab_n_tokens(a);
    int32_t nb = llama_vocab_n_tokens(b);
    int32_t n = na < nb ? na : nb;
    for (int32_t i = 0; i < n; i++) {
        if (strcmp(llama_vocab_get_text(a, i), llama_vocab_get_text(b, i)) != 0 ||
            llama_vocab_get_attr(a, i) != llama_vocab_get_attr(b, i)) {
            return i;
        }
    }
    return na == nb ? -1 : n;
}
