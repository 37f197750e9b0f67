/* Latency-domain kernels of SpykeTorch-style convolutional layers (private; loaded by
 * _latency_native.py with ctypes, plain C, no Python or torch headers).
 *
 * Inputs are first-spike steps (uint8, >= T: never fired) of accumulating spike waves;
 * weights are float32 [F][C][k][k] (row-major, as torch stores a conv weight).
 *
 *   lt_forward      first-spike step (and potential then) of every neuron of a conv layer
 *                   with a threshold, for a batch of images (event-driven: each input
 *                   adds its weights once, at its step, instead of T dense convolutions);
 *   lt_stdp         sequential STDP of such a layer over a list of images: forward,
 *                   pointwise inhibition, k winners with an exclusion radius, the update
 *                   (stabiliser, clamp, flush of denormals to the bounds), image after image;
 *   lt_decision     the decision layer of Mozafari et al. 2019 (no threshold, one winner,
 *                   R-STDP): decide a batch (in parallel over images), or decide and learn
 *                   image after image (in parallel over features: one barrier per image).
 *
 * Layer-1/2 potentials are accumulated in double.  The decision layer's winner is exact:
 * float32 weights in [lo, hi] with lo > 0 are multiples of ulp(lo), and sums of a few
 * thousand of them stay far below 2**53 such units, so their double sums are exact in any
 * order and the winner (first maximum) is the real-number rule's.  lt_decision sums per image
 * whichever of the fired or the silent inputs is the smaller set (potential = all-live-inputs
 * sum minus the silent ones), first in float32 from half-precision weights, then exactly
 * for every value within that pass's error bound of the maximum.
 *
 * Weight updates are float32 operations in the order torch performs them (built with
 * -ffp-contract=off), so given the same winners the weights equal the eager path's bits.
 */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__F16C__) && defined(__AVX__)
#include <immintrin.h>
#endif
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

typedef int64_t i64;

int64_t lt_abi_version(void) { return 2; }

static inline i64 imax(i64 a, i64 b) { return a > b ? a : b; }
static inline i64 imin(i64 a, i64 b) { return a < b ? a : b; }

/* wt[j][f] = w[f][j] (in double: the forward adds them without conversions); in tiles, cache-friendly */
static void transpose(const float *restrict w, double *restrict wt, i64 F, i64 K) {
    for (i64 f0 = 0; f0 < F; f0 += 32)
        for (i64 j0 = 0; j0 < K; j0 += 32)
            for (i64 f = f0; f < imin(F, f0 + 32); f++)
                for (i64 j = j0; j < imin(K, j0 + 32); j++) wt[j * F + f] = w[f * K + j];
}

/* ------------------------------------------------------------------ forward */
typedef struct {
    double *pot;      /* [P][F] potentials */
    uint8_t *tf;      /* [P][F] first firing step, T = never */
    double *vf;       /* [P][F] potential at that step */
    int32_t *events;  /* [C*H*W] fired inputs sorted by step */
    i64 *start;       /* [T+1] bucket starts */
    i64 *cursor;      /* [T] */
    uint8_t *touched; /* [P] */
} fwd_buf;

static void fwd_free(fwd_buf *b) {
    free(b->pot); free(b->tf); free(b->vf); free(b->events); free(b->start); free(b->cursor); free(b->touched);
}

static int fwd_alloc(fwd_buf *b, i64 P, i64 F, i64 n_in, i64 T) {
    b->pot = malloc(sizeof(double) * P * F);
    b->tf = malloc((size_t)(P * F));
    b->vf = malloc(sizeof(double) * P * F);
    b->events = malloc(sizeof(int32_t) * (n_in > 0 ? n_in : 1));
    b->start = malloc(sizeof(i64) * (T + 1));
    b->cursor = malloc(sizeof(i64) * (T > 0 ? T : 1));
    b->touched = malloc((size_t)(P > 0 ? P : 1));
    if (!b->pot || !b->tf || !b->vf || !b->events || !b->start || !b->cursor || !b->touched) {
        fwd_free(b);
        return -1;
    }
    return 0;
}

/* First-spike step and potential of every neuron [P][F] of one image.
 * A neuron fires at the first step whose potential exceeds thr (strictly); with
 * non-negative weights the potential never decreases, so this is SpykeTorch's
 * T - #(steps above the threshold). */
static void forward_one(const uint8_t *restrict tin, i64 C, i64 H, i64 W, i64 k, const double *restrict wt, i64 F,
                        double thr, i64 T, fwd_buf *b) {
    const i64 Ho = H - k + 1, Wo = W - k + 1, P = Ho * Wo, HW = H * W, n = C * HW;
    i64 *st = b->start;
    memset(st, 0, sizeof(i64) * (T + 1));
    for (i64 i = 0; i < n; i++)
        if (tin[i] < T) st[tin[i] + 1]++;
    for (i64 s = 0; s < T; s++) {
        st[s + 1] += st[s];
        b->cursor[s] = st[s];
    }
    for (i64 i = 0; i < n; i++)
        if (tin[i] < T) b->events[b->cursor[tin[i]]++] = (int32_t)i;
    memset(b->pot, 0, sizeof(double) * P * F);
    memset(b->tf, (int)T, (size_t)(P * F));
    for (i64 s = 0; s < T; s++) {
        if (st[s] == st[s + 1]) continue;
        memset(b->touched, 0, (size_t)P);
        for (i64 q = st[s]; q < st[s + 1]; q++) {
            const i64 idx = b->events[q], c = idx / HW, y = (idx / W) % H, x = idx % W;
            const i64 ky0 = imax(0, y - Ho + 1), ky1 = imin(k - 1, y);
            const i64 kx0 = imax(0, x - Wo + 1), kx1 = imin(k - 1, x);
            for (i64 ky = ky0; ky <= ky1; ky++)
                for (i64 kx = kx0; kx <= kx1; kx++) {
                    const i64 p = (y - ky) * Wo + (x - kx);
                    const double *restrict row = wt + ((c * k + ky) * k + kx) * F;
                    double *restrict a = b->pot + p * F;
                    for (i64 f = 0; f < F; f++) a[f] += row[f];
                    b->touched[p] = 1;
                }
        }
        for (i64 p = 0; p < P; p++) {
            if (!b->touched[p]) continue;
            const double *a = b->pot + p * F;
            uint8_t *t = b->tf + p * F;
            double *v = b->vf + p * F;
            const uint8_t tb = (uint8_t)T, sb = (uint8_t)s;
            for (i64 f = 0; f < F; f++) { /* branch-free: vectorises */
                const int now = (t[f] == tb) & (a[f] > thr);
                t[f] = now ? sb : t[f];
                v[f] = now ? a[f] : v[f];
            }
        }
    }
}

/* Batch forward: tout [B][F][Ho][Wo] first-spike steps (T = never), vout (optional) the
 * potentials then (0 where never).  Returns 0, or -1 when out of memory. */
int64_t lt_forward(const uint8_t *tin, i64 B, i64 C, i64 H, i64 W, const float *w, i64 F, i64 k, double thr, i64 T,
                   uint8_t *tout, float *vout, i64 nthreads) {
    const i64 Ho = H - k + 1, Wo = W - k + 1, P = Ho * Wo, K = C * k * k, n_in = C * H * W;
    double *wt = malloc(sizeof(double) * (K * F > 0 ? K * F : 1));
    if (!wt) return -1;
    transpose(w, wt, F, K);
    int64_t status = 0;
    {
        fwd_buf buf;
        int ok = fwd_alloc(&buf, P, F, n_in, T) == 0;
        if (!ok) {
            status = -1;
        }
        for (i64 i = 0; i < B; i++) {
            if (!ok) continue;
            forward_one(tin + i * n_in, C, H, W, k, wt, F, thr, T, &buf);
            uint8_t *to = tout + i * F * P;
            for (i64 p = 0; p < P; p++)
                for (i64 f = 0; f < F; f++) to[f * P + p] = buf.tf[p * F + f];
            if (vout) {
                float *vo = vout + i * F * P;
                for (i64 p = 0; p < P; p++)
                    for (i64 f = 0; f < F; f++) vo[f * P + p] = buf.tf[p * F + f] < T ? (float)buf.vf[p * F + f] : 0.0f;
            }
        }
        if (ok) fwd_free(&buf);
    }
    free(wt);
    return status;
}

/* ------------------------------------------------------------------ STDP */
static inline float clamp_flush(float v, float lo, float hi) {
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    if (v - lo < FLT_MIN) v = lo; /* as STDP._update_weights: no denormal distance to a bound */
    if (hi - v < FLT_MIN) v = hi;
    return v;
}

/* Is every weight already clamped and flushed (so that a whole-layer pass changes nothing)? */
static int settled(const float *w, i64 n, float lo, float hi) {
    for (i64 i = 0; i < n; i++)
        if (clamp_flush(w[i], lo, hi) != w[i]) return 0;
    return 1;
}

/* Sequential STDP of a conv layer with threshold thr over images order[0..n): for each,
 * the forward pass, pointwise inhibition (one feature per position: earliest, then the
 * largest potential, then the lowest feature), kwta winners (earliest, largest, lowest
 * (feature, row, col); each excludes its feature map and every feature within rad), and
 * the update of the winners' rows:
 *     lr = pre <= post ? rates[f][0] : rates[f][1];  w += lr * ((w - lo) * (hi - w))  (or w += lr)
 * then clamp to [lo, hi] and flush to the bound when closer than FLT_MIN, on the whole layer
 * (as torch does).  win_out (optional) [n][kwta][3] gets the winners, -1 rows when fewer.
 * Returns 0, or -1 when out of memory. */
int64_t lt_stdp(const uint8_t *tin, i64 C, i64 H, i64 W, const i64 *order, i64 n, float *w, i64 F, i64 k, double thr,
                i64 T, i64 kwta, i64 rad, const float *rates, i64 stabilizer, float lo, float hi, i64 *win_out) {
    const i64 Ho = H - k + 1, Wo = W - k + 1, P = Ho * Wo, K = C * k * k, n_in = C * H * W, kk2 = k * k;
    fwd_buf buf;
    if (fwd_alloc(&buf, P, F, n_in, T)) return -1;
    double *wt = malloc(sizeof(double) * (K * F > 0 ? K * F : 1));
    i64 *bf = malloc(sizeof(i64) * (P > 0 ? P : 1));
    uint8_t *ex_pos = malloc((size_t)(P > 0 ? P : 1)), *ex_feat = malloc((size_t)(F > 0 ? F : 1));
    i64 *wins = malloc(sizeof(i64) * 3 * (kwta > 0 ? kwta : 1));
    if (!wt || !bf || !ex_pos || !ex_feat || !wins) {
        fwd_free(&buf); free(wt); free(bf); free(ex_pos); free(ex_feat); free(wins);
        return -1;
    }
    transpose(w, wt, F, K);
    int clean = settled(w, F * K, lo, hi);
    for (i64 q = 0; q < n; q++) {
        const uint8_t *x = tin + order[q] * n_in;
        forward_one(x, C, H, W, k, wt, F, thr, T, &buf);
        /* pointwise inhibition */
        for (i64 p = 0; p < P; p++) {
            i64 best = -1;
            const uint8_t *t = buf.tf + p * F;
            const double *v = buf.vf + p * F;
            for (i64 f = 0; f < F; f++) {
                if (t[f] >= T) continue;
                if (best < 0 || t[f] < t[best] || (t[f] == t[best] && v[f] > v[best])) best = f;
            }
            bf[p] = best;
        }
        /* k winners */
        memset(ex_pos, 0, (size_t)P);
        memset(ex_feat, 0, (size_t)F);
        i64 nw = 0;
        for (; nw < kwta && nw < F; nw++) {
            i64 bp = -1;
            for (i64 p = 0; p < P; p++) {
                const i64 f = bf[p];
                if (f < 0 || ex_pos[p] || ex_feat[f]) continue;
                if (bp < 0) { bp = p; continue; }
                const i64 g = bf[bp];
                const uint8_t tp = buf.tf[p * F + f], tb = buf.tf[bp * F + g];
                const double vp = buf.vf[p * F + f], vb = buf.vf[bp * F + g];
                if (tp < tb || (tp == tb && (vp > vb || (vp == vb && f * P + p < g * P + bp)))) bp = p;
            }
            if (bp < 0) break;
            const i64 f = bf[bp], oy = bp / Wo, ox = bp % Wo;
            wins[3 * nw] = f; wins[3 * nw + 1] = oy; wins[3 * nw + 2] = ox;
            ex_feat[f] = 1;
            for (i64 yy = imax(0, oy - rad); yy <= imin(Ho - 1, oy + rad); yy++)
                for (i64 xx = imax(0, ox - rad); xx <= imin(Wo - 1, ox + rad); xx++) ex_pos[yy * Wo + xx] = 1;
        }
        if (win_out) {
            i64 *o = win_out + q * kwta * 3;
            for (i64 j = 0; j < kwta * 3; j++) o[j] = j < nw * 3 ? wins[j] : -1;
        }
        /* update the winners' rows */
        for (i64 j = 0; j < nw; j++) {
            const i64 f = wins[3 * j], oy = wins[3 * j + 1], ox = wins[3 * j + 2];
            const uint8_t post = buf.tf[(oy * Wo + ox) * F + f];
            const float ap = rates[2 * f], an = rates[2 * f + 1];
            float *row = w + f * K;
            for (i64 c = 0; c < C; c++)
                for (i64 ky = 0; ky < k; ky++)
                    for (i64 kx = 0; kx < k; kx++) {
                        const i64 jj = c * kk2 + ky * k + kx;
                        const float lr = x[(c * H + oy + ky) * W + ox + kx] <= post ? ap : an;
                        float v = row[jj];
                        if (stabilizer) {
                            /* SpykeTorch's product order: lr * ((w - lo) * (hi - w)) */
                            float d = (v - lo) * (hi - v);
                            d = lr * d;
                            v = v + d;
                        } else {
                            v = v + lr;
                        }
                        row[jj] = clamp_flush(v, lo, hi);
                        wt[jj * F + f] = row[jj];
                    }
        }
        if (!clean) { /* the first image's update (even one without winners) clamps and flushes the whole layer */
            for (i64 i = 0; i < F * K; i++) w[i] = clamp_flush(w[i], lo, hi);
            transpose(w, wt, F, K);
            clean = 1;
        }
    }
    fwd_free(&buf); free(wt); free(bf); free(ex_pos); free(ex_feat); free(wins);
    return 0;
}

/* ------------------------------------------------------------------ decision layer */
/* Potentials of the decision layer.  The winner is the first maximum over (feature,
 * position) of the exact potentials.  A float32 pass sums, at each output position, the
 * rows of the smaller of the two input sets (the fired inputs; or the live inputs that did
 * not fire, subtracted from S, the potentials when every live input fires); every value
 * within twice the float32 pass's error bound of its maximum is then recomputed exactly in
 * double, and the winner is chosen among those.  So the result is the real-number rule's,
 * ties included, whatever the summation order.
 *
 * Learning runs image after image; with several threads each owns a range of features
 * (its share of every potential, its rows of the weights), the threads agree on the winner
 * at one barrier per image and the owner of the winning feature updates it. */

/* The float32 pass reads the weights from a transposed copy in half precision where the
 * compiler has it (half the memory traffic; the rounding enters the error bound). */
#if defined(__FLT16_MAX__) && defined(__F16C__)
typedef _Float16 wlow;
#define WLOW_EPS (1.0 / 2048.0)     /* unit roundoff of binary16 */
#define WLOW_TINY (1.0 / 33554432.0) /* half its smallest subnormal step, 2**-25 */
#else
typedef float wlow;
#define WLOW_EPS 0.0
#define WLOW_TINY 0.0
#endif

typedef struct {
    float *acc;      /* [P][F] float32 sums of the listed rows (this thread's features only) */
    int32_t *act_c;  /* counted inputs: channel, index into lam */
    int32_t *act_s;
    int32_t *ina_c;  /* live inputs that do not count */
    int32_t *ina_s;
    int32_t *rows;   /* [P][cap] kernel rows (c * k * k + ky * k + kx) listed at each output position */
    i64 *nrows;      /* [P] */
    i64 cap;
    int direct;      /* rows are the counted inputs (else the others, subtracted from S) */
} dec_buf;

static void dec_free(dec_buf *b) {
    free(b->acc); free(b->act_c); free(b->act_s); free(b->ina_c); free(b->ina_s); free(b->rows); free(b->nrows);
}

static int dec_alloc(dec_buf *b, i64 P, i64 F, i64 nlive, i64 cap) {
    const size_t m = sizeof(int32_t) * (nlive > 0 ? nlive : 1);
    b->cap = cap > 0 ? cap : 1;
    b->acc = malloc(sizeof(float) * (P * F > 0 ? P * F : 1));
    b->act_c = malloc(m); b->act_s = malloc(m); b->ina_c = malloc(m); b->ina_s = malloc(m);
    b->rows = malloc(sizeof(int32_t) * (P > 0 ? P : 1) * b->cap);
    b->nrows = malloc(sizeof(i64) * (P > 0 ? P : 1));
    if (!b->acc || !b->act_c || !b->act_s || !b->ina_c || !b->ina_s || !b->rows || !b->nrows) {
        dec_free(b);
        return -1;
    }
    return 0;
}

typedef struct {
    i64 C, H, W, k, F, T, P, Wo, K, kk2, first_mode;
    i64 nlam;           /* spatial positions where some input of some image fires */
    const i64 *lam;     /* [nlam] y * W + x */
    const i64 *pstart;  /* [nlam + 1] */
    const i64 *pkk;     /* kernel offset ky * k + kx of each (position, output) pair */
    const i64 *pp;      /* output position of each pair */
    float *w;           /* [F][K] */
    wlow *wt;           /* [K][F] */
    double *S;          /* [P][F] potentials when every live input fires (exact) */
    double wabs;        /* bound on |w| for the whole call */
    const uint8_t *drop; /* [F] features that cannot win (dropout), or NULL */
} dec_geom;

static void transpose_low(const float *restrict w, wlow *restrict wt, i64 F, i64 K) {
    for (i64 f0 = 0; f0 < F; f0 += 32)
        for (i64 j0 = 0; j0 < K; j0 += 32)
            for (i64 f = f0; f < imin(F, f0 + 32); f++)
                for (i64 j = j0; j < imin(K, j0 + 32); j++) wt[j * F + f] = (wlow)w[f * K + j];
}

/* Earliest step of the live inputs of image x (T if none). */
static i64 dec_t0(const dec_geom *g, const uint8_t *x) {
    const i64 HW = g->H * g->W;
    i64 t0 = g->T;
    for (i64 c = 0; c < g->C; c++)
        for (i64 l = 0; l < g->nlam; l++) {
            const i64 t = x[c * HW + g->lam[l]];
            if (t < t0) t0 = t;
        }
    return t0;
}

/* a[0..n) += the sum of the m rows wt[rows[q] * F + f0 ..] (float32; 8 rows at a time in registers) */
static void add_rows(float *restrict a, const wlow *restrict wt, const int32_t *r, i64 m, i64 F, i64 f0, i64 n) {
    const wlow *base = wt + f0;
    i64 q = 0;
    for (; q + 8 <= m; q += 8) {
        const wlow *restrict r0 = base + r[q] * F, *restrict r1 = base + r[q + 1] * F;
        const wlow *restrict r2 = base + r[q + 2] * F, *restrict r3 = base + r[q + 3] * F;
        const wlow *restrict r4 = base + r[q + 4] * F, *restrict r5 = base + r[q + 5] * F;
        const wlow *restrict r6 = base + r[q + 6] * F, *restrict r7 = base + r[q + 7] * F;
        i64 f = 0;
#if defined(__F16C__) && defined(__AVX__)
        if (sizeof(wlow) == 2)
            for (; f + 8 <= n; f += 8) {
#define LD(rr) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(rr + f)))
                const __m256 s01 = _mm256_add_ps(LD(r0), LD(r1)), s23 = _mm256_add_ps(LD(r2), LD(r3));
                const __m256 s45 = _mm256_add_ps(LD(r4), LD(r5)), s67 = _mm256_add_ps(LD(r6), LD(r7));
#undef LD
                const __m256 t = _mm256_add_ps(_mm256_add_ps(s01, s23), _mm256_add_ps(s45, s67));
                _mm256_storeu_ps(a + f, _mm256_add_ps(_mm256_loadu_ps(a + f), t));
            }
#endif
        for (; f < n; f++)
            a[f] += (((float)r0[f] + (float)r1[f]) + ((float)r2[f] + (float)r3[f])) +
                    (((float)r4[f] + (float)r5[f]) + ((float)r6[f] + (float)r7[f]));
    }
    for (; q < m; q++) {
        const wlow *restrict r0 = base + r[q] * F;
        for (i64 f = 0; f < n; f++) a[f] += (float)r0[f];
    }
}

/* The float32 pass of one image for the features [f0, f1); returns the number of inputs
 * that count (fired at all, or at the earliest step in first mode): 0 means silent. */
static i64 dec_potentials(const dec_geom *g, const uint8_t *restrict x, dec_buf *b, i64 f0, i64 f1) {
    const i64 F = g->F, HW = g->H * g->W, kk2 = g->kk2, P = g->P;
    const i64 t0 = g->first_mode ? dec_t0(g, x) : 0;
    if (g->first_mode && t0 >= g->T) return 0;
    i64 na = 0, ni = 0;
    for (i64 c = 0; c < g->C; c++)
        for (i64 l = 0; l < g->nlam; l++) {
            const i64 t = x[c * HW + g->lam[l]];
            const int counts = g->first_mode ? t == t0 : t < g->T;
            if (counts) { b->act_c[na] = (int32_t)c; b->act_s[na++] = (int32_t)l; }
            else { b->ina_c[ni] = (int32_t)c; b->ina_s[ni++] = (int32_t)l; }
        }
    if (na == 0) return 0;
    b->direct = na <= ni;
    const i64 m = b->direct ? na : ni;
    const int32_t *lc = b->direct ? b->act_c : b->ina_c, *ls = b->direct ? b->act_s : b->ina_s;
    memset(b->nrows, 0, sizeof(i64) * P);
    for (i64 q = 0; q < m; q++) {
        const i64 c = lc[q], l = ls[q];
        for (i64 e = g->pstart[l]; e < g->pstart[l + 1]; e++) {
            const i64 p = g->pp[e];
            b->rows[p * b->cap + b->nrows[p]++] = (int32_t)(c * kk2 + g->pkk[e]);
        }
    }
    for (i64 p = 0; p < P; p++) {
        float *a = b->acc + p * F + f0;
        memset(a, 0, sizeof(float) * (f1 - f0));
        add_rows(a, g->wt, b->rows + p * b->cap, b->nrows[p], F, f0, f1 - f0);
    }
    return na;
}

/* The first maximum f * P + p over the features [f0, f1) of the image whose float32 pass is in
 * b, with its exact potential in *value; -1 when none is positive. */
static i64 dec_winner(const dec_geom *g, const dec_buf *b, i64 f0, i64 f1, double *value) {
    const i64 F = g->F, P = g->P;
    const double u = 1.0 / 16777216.0; /* 2**-24 */
    double M = -DBL_MAX, E = 0.0;
    for (i64 p = 0; p < P; p++) {
        const double m = (double)b->nrows[p], gam = m * u / (1.0 - m * u);
        /* |float32 sum of the stored weights - exact sum| <= m (eps |w| + tiny) + gamma_m m max|w|
         * (eps, tiny: the storage rounding; doubled for margin) */
        const double e = 2.0 * (m * (WLOW_EPS * g->wabs + WLOW_TINY) + gam * m * g->wabs * (1.0 + WLOW_EPS));
        if (e > E) E = e;
        const float *a = b->acc + p * F;
        const double *s = g->S + p * F;
        for (i64 f = f0; f < f1; f++) {
            const double v = b->direct ? (double)a[f] : s[f] - (double)a[f];
            if (v > M && !(g->drop && g->drop[f])) M = v;
        }
    }
    const double cut = M - 2.0 * E;
    i64 best = -1;
    double bv = 0.0; /* only a positive potential fires */
    for (i64 f = f0; f < f1; f++) {
        if (g->drop && g->drop[f]) continue;
        const float *row = g->w + f * g->K;
        for (i64 p = 0; p < P; p++) {
            const double approx = b->direct ? (double)b->acc[p * F + f] : g->S[p * F + f] - (double)b->acc[p * F + f];
            if (approx < cut) continue;
            const int32_t *r = b->rows + p * b->cap;
            double v = 0.0;
            for (i64 q = 0; q < b->nrows[p]; q++) v += (double)row[r[q]];
            if (!b->direct) v = g->S[p * F + f] - v;
            if (v > bv) { bv = v; best = f * P + p; } /* strict: the first maximum in (f, p) order */
        }
    }
    *value = bv;
    return best;
}

/* S[p][f] = sum over live (position, pair) of cs[kk], cs[kk] = sum_c w[f][c][kk] (exact) */
static void dec_S_column(const dec_geom *g, const double *cs, i64 f) {
    const i64 F = g->F;
    for (i64 p = 0; p < g->P; p++) g->S[p * F + f] = 0.0;
    for (i64 l = 0; l < g->nlam; l++)
        for (i64 e = g->pstart[l]; e < g->pstart[l + 1]; e++) g->S[g->pp[e] * F + f] += cs[g->pkk[e]];
}

static void dec_row_sums(const dec_geom *g, i64 f, double *cs) {
    const i64 kk2 = g->kk2, C = g->C;
    for (i64 j = 0; j < kk2; j++) cs[j] = 0.0;
    const float *row = g->w + f * g->K;
    for (i64 c = 0; c < C; c++)
        for (i64 j = 0; j < kk2; j++) cs[j] += (double)row[c * kk2 + j];
    dec_S_column(g, cs, f);
}

/* R-STDP on the winner's row f at position p (w += a+ where the input counts, a- elsewhere,
 * clamped to [lo, hi]), with its transposed copy and its column of S. */
static void dec_update(const dec_geom *g, const uint8_t *x, i64 f, i64 p, float ap, float an, float lo, float hi,
                       double *cs) {
    const i64 C = g->C, k = g->k, kk2 = g->kk2, H = g->H, W = g->W, F = g->F, oy = p / g->Wo, ox = p % g->Wo;
    const i64 t0 = g->first_mode ? dec_t0(g, x) : 0;
    float *row = g->w + f * g->K;
    for (i64 j = 0; j < kk2; j++) cs[j] = 0.0;
    for (i64 c = 0; c < C; c++) {
        const uint8_t *xc = x + (c * H + oy) * W + ox;
        for (i64 ky = 0; ky < k; ky++)
            for (i64 kx = 0; kx < k; kx++) {
                const i64 j = c * kk2 + ky * k + kx, t = xc[ky * W + kx];
                const int counts = g->first_mode ? t == t0 : t < g->T;
                float v = row[j] + (counts ? ap : an);
                v = v < lo ? lo : v;
                v = v > hi ? hi : v;
                row[j] = v;
                g->wt[j * F + f] = (wlow)v;
                cs[ky * k + kx] += (double)v;
            }
    }
    dec_S_column(g, cs, f);
}

typedef struct {
    const dec_geom *g;
    const uint8_t *tin;
    const i64 *order, *targets, *dmap;
    const float *rates;
    float lo, hi;
    i64 n, nthreads, *stats, *win_out;
    _Atomic i64 arrived, generation, go;
    i64 slot_f[2][16];      /* each thread's local winner of the images q (slot q % 2) */
    double slot_v[2][16];
    int failed;
} dec_team;

/* All threads of the team meet here once per image (spinning briefly, then yielding: a busy
 * machine does not stall on a descheduled partner). */
static void team_barrier(dec_team *t) {
    const i64 gen = atomic_load(&t->generation);
    if (atomic_fetch_add(&t->arrived, 1) == t->nthreads - 1) {
        atomic_store(&t->arrived, 0);
        atomic_fetch_add(&t->generation, 1);
    } else {
        for (int spins = 0; atomic_load(&t->generation) == gen; spins++) {
            if (spins < 4000) {
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#endif
            } else {
                sched_yield();
            }
        }
    }
}

typedef struct {
    dec_team *team;
    i64 id;
} dec_member;

static void *dec_learn(void *arg) {
    dec_member *me = arg;
    dec_team *t = me->team;
    while (atomic_load(&t->go) == 0) sched_yield(); /* every member started (1), or not (-1: leave) */
    if (atomic_load(&t->go) < 0) return NULL;
    const dec_geom *g = t->g;
    const i64 F = g->F, P = g->P, C = g->C, HW = g->H * g->W, id = me->id;
    const i64 f0 = F * id / t->nthreads, f1 = F * (id + 1) / t->nthreads;
    dec_buf b;
    double *cs = malloc(sizeof(double) * (g->kk2 > 0 ? g->kk2 : 1));
    const int ok = cs && dec_alloc(&b, P, F, C * g->nlam, C * g->kk2) == 0;
    if (!ok) t->failed = 1;
    team_barrier(t);
    if (t->failed) {
        if (ok) dec_free(&b);
        free(cs);
        return NULL;
    }
    for (i64 q = 0; q < t->n; q++) {
        const uint8_t *x = t->tin + t->order[q] * C * HW;
        double v = 0.0;
        const i64 win = dec_potentials(g, x, &b, f0, f1) ? dec_winner(g, &b, f0, f1, &v) : -1;
        t->slot_f[q & 1][id] = win;
        t->slot_v[q & 1][id] = v;
        team_barrier(t);
        i64 best = -1;
        double bv = 0.0;
        for (i64 j = 0; j < t->nthreads; j++) { /* lower features first: ties go to the lower index */
            const i64 wj = t->slot_f[q & 1][j];
            if (wj >= 0 && t->slot_v[q & 1][j] > bv) { bv = t->slot_v[q & 1][j]; best = wj; }
        }
        if (id == 0) {
            if (t->win_out) t->win_out[q] = best;
            if (best < 0) t->stats[2]++;
            else t->stats[t->dmap[best / P] == t->targets[t->order[q]] ? 0 : 1]++;
        }
        if (best < 0) continue;
        const i64 f = best / P;
        if (f < f0 || f >= f1) continue; /* the owner of the winning feature updates it */
        const int right = t->dmap[f] == t->targets[t->order[q]];
        dec_update(g, x, f, best % P, t->rates[right ? 0 : 2], t->rates[right ? 1 : 3], t->lo, t->hi, cs);
    }
    dec_free(&b);
    free(cs);
    return NULL;
}

/* The decision layer over images order[0..n) of tin [N][C][H][W]:
 *   update == 0: decide every image (in parallel), win_out[q] = f * P + p or -1 (silent);
 *   update == 1: decide and learn image after image (R-STDP: on the winner's row,
 *     w += (input counted ? a+ : a-), reward rates when dmap[f] == target else punishment,
 *     then clamp to [lo, hi]; the first update also clamps the whole layer, as the reference's
 *     clamp of the whole weight), stats[3] += correct, wrong, silent.
 * rates: reward a+, a-, punishment a+, a-; drop (optional, [F]): features that cannot win
 * (dropout: as if their potentials were 0); nthreads: threads (learning: each owns a range
 * of features).  Returns 0, or -1 when out of memory. */
int64_t lt_decision(const uint8_t *tin, i64 C, i64 H, i64 W, i64 k, i64 T, i64 first_mode, const i64 *order, i64 n,
                    const i64 *targets, const i64 *dmap, float *w, i64 F, const float *rates, float lo, float hi,
                    i64 update, i64 *stats, i64 *win_out, i64 nthreads, const uint8_t *drop) {
    const i64 Ho = H - k + 1, Wo = W - k + 1, P = Ho * Wo, K = C * k * k, kk2 = k * k, HW = H * W;
    uint8_t *live = calloc((size_t)(HW > 0 ? HW : 1), 1);
    i64 *lam = malloc(sizeof(i64) * (HW > 0 ? HW : 1));
    i64 *pstart = malloc(sizeof(i64) * (HW + 1));
    i64 *pkk = malloc(sizeof(i64) * (HW * kk2 > 0 ? HW * kk2 : 1));
    i64 *pp = malloc(sizeof(i64) * (HW * kk2 > 0 ? HW * kk2 : 1));
    wlow *wt = malloc(sizeof(wlow) * (K * F > 0 ? K * F : 1));
    double *colsum = malloc(sizeof(double) * (kk2 > 0 ? kk2 : 1));
    double *S = malloc(sizeof(double) * (P * F > 0 ? P * F : 1));
    if (!live || !lam || !pstart || !pkk || !pp || !wt || !colsum || !S) {
        free(live); free(lam); free(pstart); free(pkk); free(pp); free(wt); free(colsum); free(S);
        return -1;
    }
    /* live spatial positions: some channel fires there in some image */
    for (i64 q = 0; q < n; q++) {
        const uint8_t *x = tin + order[q] * C * HW;
        for (i64 c = 0; c < C; c++)
            for (i64 s = 0; s < HW; s++) live[s] |= (uint8_t)(x[c * HW + s] < T);
    }
    i64 nlam = 0, ne = 0;
    pstart[0] = 0;
    for (i64 s = 0; s < HW; s++) {
        if (!live[s]) continue;
        const i64 y = s / W, x = s % W;
        for (i64 ky = imax(0, y - Ho + 1); ky <= imin(k - 1, y); ky++)
            for (i64 kx = imax(0, x - Wo + 1); kx <= imin(k - 1, x); kx++) {
                pkk[ne] = ky * k + kx;
                pp[ne++] = (y - ky) * Wo + (x - kx);
            }
        lam[nlam++] = s;
        pstart[nlam] = ne;
    }
    double wabs = hi > -lo ? hi : -lo;
    for (i64 i = 0; i < F * K; i++) {
        const double a = w[i] < 0 ? -(double)w[i] : (double)w[i];
        if (a > wabs) wabs = a;
    }
    transpose_low(w, wt, F, K);
    dec_geom g = {C, H, W, k, F, T, P, Wo, K, kk2, first_mode, nlam, lam, pstart, pkk, pp, w, wt, S, wabs, drop};
    for (i64 f = 0; f < F; f++) dec_row_sums(&g, f, colsum);
    int64_t status = 0;
    if (!update) {
        {
            dec_buf b;
            const int ok = dec_alloc(&b, P, F, C * nlam, C * kk2) == 0;
            if (!ok) {
                status = -1;
            }
            for (i64 q = 0; q < n; q++) {
                if (!ok) continue;
                double v;
                win_out[q] = dec_potentials(&g, tin + order[q] * C * HW, &b, 0, F) ? dec_winner(&g, &b, 0, F, &v) : -1;
            }
            if (ok) dec_free(&b);
        }
    } else {
        i64 start = 0;
        int clean = 1;
        for (i64 i = 0; i < F * K; i++)
            if (!(w[i] >= lo && w[i] <= hi)) { clean = 0; break; }
        if (!clean) { /* up to the first update, alone: it clamps the whole weight, as the reference */
            dec_buf b;
            if (dec_alloc(&b, P, F, C * nlam, C * kk2)) {
                status = -1;
            } else {
                for (; start < n && !clean; start++) {
                    const uint8_t *x = tin + order[start] * C * HW;
                    double v;
                    const i64 win = dec_potentials(&g, x, &b, 0, F) ? dec_winner(&g, &b, 0, F, &v) : -1;
                    if (win_out) win_out[start] = win;
                    if (win < 0) { stats[2]++; continue; }
                    const i64 f = win / P;
                    const int right = dmap[f] == targets[order[start]];
                    stats[right ? 0 : 1]++;
                    dec_update(&g, x, f, win % P, rates[right ? 0 : 2], rates[right ? 1 : 3], lo, hi, colsum);
                    for (i64 i = 0; i < F * K; i++) {
                        float u = w[i];
                        u = u < lo ? lo : u;
                        w[i] = u > hi ? hi : u;
                    }
                    transpose_low(w, wt, F, K);
                    for (i64 ff = 0; ff < F; ff++) dec_row_sums(&g, ff, colsum);
                    clean = 1;
                }
                dec_free(&b);
            }
        }
        if (status == 0 && start < n) {
            const i64 nt = imax(1, imin(imin(nthreads, 4), F)); /* beyond a few, the per-image barrier costs more */
            dec_team team;
            memset(&team, 0, sizeof(team));
            team.g = &g; team.tin = tin; team.order = order + start; team.targets = targets; team.dmap = dmap;
            team.rates = rates; team.lo = lo; team.hi = hi; team.n = n - start; team.nthreads = nt;
            team.stats = stats; team.win_out = win_out ? win_out + start : NULL;
            atomic_init(&team.arrived, 0);
            atomic_init(&team.generation, 0);
            atomic_init(&team.go, 0);
            dec_member members[16];
            pthread_t threads[16];
            i64 started = 1;
            for (i64 j = 0; j < nt; j++) members[j] = (dec_member){&team, j};
            for (i64 j = 1; j < nt; j++) {
                if (pthread_create(&threads[j], NULL, dec_learn, &members[j]) != 0) break;
                started++;
            }
            atomic_store(&team.go, started == nt ? 1 : -1);
            if (started == nt) dec_learn(&members[0]);
            for (i64 j = 1; j < started; j++) pthread_join(threads[j], NULL);
            if (started < nt) { /* could not start them all: learn alone */
                team.nthreads = 1;
                atomic_store(&team.go, 1);
                dec_learn(&members[0]);
            }
            if (team.failed) status = -1;
        }
    }
    free(live); free(lam); free(pstart); free(pkk); free(pp); free(wt); free(colsum); free(S);
    return status;
}
