// The loops over the vocabulary vectorise only if float compares may not trap (clang's default;
// cgo forbids the flag, so GCC gets it here).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include "atod.h"

#include <math.h>
#include <stdlib.h>

// splitmix64: a per-sequence RNG whose whole state is one integer kept by the caller,
// so draws depend only on the sequence's seed and how many tokens it has drawn.
static uint64_t rng_next(uint64_t * s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rng_uniform(uint64_t * s) {
    return (double) (rng_next(s) >> 11) * 0x1.0p-53; // [0, 1)
}

// exp_neg is e^x for x <= 0 (logits minus their maximum), free of branches and calls so that loops
// over the vocabulary vectorise: x = k·ln2 + r with |r| <= ln2/2, e^r by its degree-6 Taylor
// polynomial (relative error < 3e-7), 2^k from the exponent bits. Below −87 it gives ~1e-38, not 0.
static inline float exp_neg(float x) {
    x = x > -87.0f ? x : -87.0f;
    float k = floorf(x * 1.44269504f + 0.5f);
    float r = x - k * 0.693145751953125f - k * 1.428606820309417e-6f; // ln2 in two parts, r exact
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
    union { uint32_t u; float f; } two_k = { .u = (uint32_t) ((int32_t) k + 127) << 23 };
    return p * two_k.f;
}

// exp_sum fills p[i] = e^((l_i − m)·inv_t) and returns their sum; with sl it also accumulates
// Σ p_i (l_i − m). Eight partial sums keep the loops free of a serial dependency, so they vectorise.
static double exp_sum(const float * l, int32_t n, float m, float inv_t, float * p, double * sl) {
    for (int32_t i = 0; i < n; i++) {
        p[i] = exp_neg((l[i] - m) * inv_t);
    }
    double s[8] = { 0 }, d[8] = { 0 };
    int32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int32_t j = 0; j < 8; j++) {
            s[j] += p[i + j];
            d[j] += (double) p[i + j] * (l[i + j] - m);
        }
    }
    for (; i < n; i++) {
        s[0] += p[i];
        d[0] += (double) p[i] * (l[i] - m);
    }
    for (int32_t j = 1; j < 8; j++) {
        s[0] += s[j];
        d[0] += d[j];
    }
    if (sl) {
        *sl = d[0];
    }
    return s[0];
}

// max_logit is the largest logit, from eight partial maxima for the same reason.
static float max_logit(const float * l, int32_t n) {
    float m[8];
    for (int32_t j = 0; j < 8; j++) {
        m[j] = l[0];
    }
    int32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int32_t j = 0; j < 8; j++) {
            m[j] = l[i + j] > m[j] ? l[i + j] : m[j];
        }
    }
    for (; i < n; i++) {
        m[0] = l[i] > m[0] ? l[i] : m[0];
    }
    for (int32_t j = 1; j < 8; j++) {
        m[0] = m[j] > m[0] ? m[j] : m[0];
    }
    return m[0];
}

// "a ranks before b": higher logit first, lower token id on ties, so every order is deterministic.
static bool before(const float * l, int32_t a, int32_t b) {
    return l[a] > l[b] || (l[a] == l[b] && a < b);
}

static __thread const float * g_sort_logits; // qsort has no user pointer

static int cmp_rank(const void * pa, const void * pb) {
    int32_t a = *(const int32_t *) pa, b = *(const int32_t *) pb;
    return before(g_sort_logits, a, b) ? -1 : (before(g_sort_logits, b, a) ? 1 : 0);
}

static void sort_rank(const float * l, int32_t * idx, int32_t n) {
    g_sort_logits = l;
    qsort(idx, n, sizeof(int32_t), cmp_rank);
}

// top_k writes the k best tokens by logit into idx, best first (a heap whose root is the worst kept).
static void top_k(const float * l, int32_t n, int32_t k, int32_t * idx) {
    for (int32_t i = 0; i < n; i++) {
        int32_t j;
        if (i < k) { // sift up
            j = i;
            while (j > 0 && before(l, idx[(j - 1) / 2], i)) {
                idx[j] = idx[(j - 1) / 2];
                j = (j - 1) / 2;
            }
            idx[j] = i;
            continue;
        }
        if (!before(l, i, idx[0])) {
            continue;
        }
        j = 0; // replace the root, sift down
        for (;;) {
            int32_t c = 2 * j + 1;
            if (c >= k) break;
            if (c + 1 < k && before(l, idx[c], idx[c + 1])) c++;
            if (!before(l, i, idx[c])) break;
            idx[j] = idx[c];
            j = c;
        }
        idx[j] = i;
    }
    sort_rank(l, idx, k);
}

// sample draws a token: keep the top_k best logits, then the smallest best-first set whose probability
// at temperature temp reaches top_p, then draw from p_i ∝ exp((l_i − max)/temp) over what is kept.
// p is indexed by token id and on entry holds exp(l_i − max), whose sum is s1; idx lists the kept
// tokens when some are dropped.
static int32_t sample(const float * l, int32_t n, float max, atod_out * o, float * p, int32_t * idx, double s1) {
    bool nucleus = o->top_p > 0.0f && o->top_p < 1.0f;
    bool all = true; // every token kept, in id order (idx unused)
    int32_t k = n;
    double total = 0.0;
    if (o->top_k > 0 && o->top_k < n) {
        all = false;
        k = o->top_k;
        top_k(l, n, k, idx);
        for (int32_t j = 0; j < k; j++) {
            p[idx[j]] = exp_neg((l[idx[j]] - max) / o->temp);
            total += p[idx[j]];
        }
    } else {
        total = o->temp == 1.0f ? s1 : exp_sum(l, n, max, 1.0f / o->temp, p, NULL);
        if (nucleus) {
            // Sorting the whole vocabulary is slow. The nucleus is made of the best tokens, so it lies
            // among the tokens with p_i >= t as soon as those carry top_p of the mass: lower t until they do.
            all = false;
            for (float t = 1e-2f; ; t = t > 1e-30f ? t * 1e-2f : 0.0f) {
                double mass = 0.0;
                k = 0;
                for (int32_t i = 0; i < n; i++) {
                    if (p[i] >= t) {
                        idx[k++] = i;
                        mass += p[i];
                    }
                }
                if (mass >= o->top_p * total || t == 0.0f) {
                    break;
                }
            }
            sort_rank(l, idx, k);
        }
    }
    if (nucleus) {
        double cum = 0.0;
        int32_t j = 0;
        while (j < k) {
            cum += p[idx[j++]];
            if (cum >= o->top_p * total) break;
        }
        k = j;
        total = cum;
    }
    double r = rng_uniform(&o->rng) * total;
    double cum = 0.0;
    for (int32_t j = 0; j < k; j++) {
        int32_t i = all ? j : idx[j];
        cum += p[i];
        if (r < cum) {
            return i;
        }
    }
    return all ? k - 1 : idx[k - 1]; // r within rounding of total
}

// atod_reduce turns one logits row into the token (sampled, or the target), its temperature-1 log-prob
//   log π(y) = l_y − log Σ_i exp(l_i),
// the entropy H = −Σ_i π_i log π_i = log s − Σ_i e_i (l_i − m) / s  with e_i = exp(l_i − m), s = Σ e_i,
// and the n_top best tokens with their log-probs.
void atod_reduce(const float * l, int32_t n, atod_out * o, int32_t * top_tok, float * top_lp,
                 float * scratch_p, int32_t * scratch_i) {
    float max = max_logit(l, n);
    double sl;
    double s = exp_sum(l, n, max, 1.0f, scratch_p, &sl);
    double log_s = log(s);
    float logz = max + (float) log_s;

    if (o->target >= 0) {
        o->token = o->target;
    } else if (o->temp <= 0.0f) {
        o->token = 0;
        while (o->token < n - 1 && l[o->token] != max) { // the first best token
            o->token++;
        }
    } else {
        o->token = sample(l, n, max, o, scratch_p, scratch_i, s);
    }
    o->logprob = l[o->token] - logz;
    o->entropy = (float) (log_s - sl / s);

    if (o->n_top > 0) {
        int32_t k = o->n_top < n ? o->n_top : n;
        top_k(l, n, k, scratch_i);
        for (int32_t j = 0; j < k; j++) {
            top_tok[j] = scratch_i[j];
            top_lp[j] = l[scratch_i[j]] - logz;
        }
    }
}
