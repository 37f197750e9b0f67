/* The native step of a neuron layer (CPU): the stages after the model's integration, in
 * one pass over the potentials, plus the k-WTA selection and the inhibition of the
 * winners. Built and loaded at run time by spyketorch/_native.py (plain C, no Python or
 * torch headers); the eager pipeline in spyketorch/_stages.py is the reference these
 * functions reproduce (tests/test_native.py).
 *
 * Layout: the potentials are contiguous [B, C, HW]; one "map" is one (sample, feature).
 * Constants come per map ([C] arrays) or per element ([C * HW] arrays, the threshold
 * optionally per sample too); see struct cfg.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

typedef int64_t i64;
#include <float.h>
#define TMAX(T) (sizeof(T) == sizeof(float) ? (T)FLT_MAX : (T)DBL_MAX)

/* Constants of one layer on one input shape, built once in Python (ctypes Structure of
 * the same layout). Pointers are to float or double arrays of the step's dtype. */
struct cfg {
    i64 B, C, HW;
    const void *a, *k, *c0;      /* affine step u' = a u + k I + c0 (used when u_prev is given) */
    const void *rest;            /* resting potential: floor and refractory value */
    const void *thr;             /* threshold */
    const void *vreset;          /* potential after a spike */
    i64 per_elem;                /* 0: the six arrays are [C]; 1: [C * HW] */
    i64 thr_bstride;             /* elements between samples of thr (0: shared by the batch) */
    i64 floor_mode;              /* 0: none; 1: floor at rest, cap above; 2: clamp to +-cap */
    double cap;
    i64 refr_clamp;              /* neurons with r >= 1 sit at rest */
    i64 r_mode;                  /* 0: r untouched; 1: r = max(r - 1, 0); 2: r = max(r - 1, R * spiked) */
    double R;
    i64 uniform_score;           /* k-WTA score is u (1) or u - big where no spike (0) */
    double big;
    i64 nthreads;
    i64 parallel_min;            /* elements from which the pass uses nthreads */
    i64 kind;                    /* integrator: 0 u given, 1 affine (in the generic pass), 2 quadratic,
                                    3 izhikevich, 4 resonate, 5 adaptive_lif (see model_loops) */
    const void *kc[8];           /* the integrator's constants, per map ([C] arrays) */
    double log_cap;              /* cap of the exponent of the exponential models */
};

/* exp(x) for float32 (the exponential models' loops; float64 layers integrate them with
 * their eager ops): x = n ln2 + r with |r| <= ln2 / 2 (Cody-Waite), exp(r) by Cephes'
 * degree-6 polynomial, 2^n from the exponent bits; at most 1.4 ulp from exp, 2 ulp from
 * torch.exp, for x in [-87, 88] (clamped there: below, exp(x) < 2e-38). Written so that it
 * vectorises inside the loops. */
static inline float st_expf(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float n = __builtin_roundf(x * 1.44269504088896341f);
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    const float r2 = r * r;
    float p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    p = p * r2 + r + 1.0f;
    const int32_t e = ((int32_t)n + 127) << 23;
    float sc;
    memcpy(&sc, &e, sizeof sc);
    return p * sc;
}
#define EXP_float st_expf
#define EXP_double exp

/* ---------------------------------------------------------------------------- pass 1 */
/* integrate (affine, when u_prev) -> refractory clamp -> floor/cap -> fire -> per-map best
 * score -> refractory decay (from r into r_out, which may be r) -> reset (when do_reset).
 * Returns 1 when check is set and the input I holds a NaN or an infinity (then the caller
 * discards u, spk and r_out: with r_out != r the layer's state is untouched). u: output
 * (input too when !u_prev);
 * spk: amp where a neuron spiked, else 0; best: per-map highest score (or NULL).
 * One map per call of the inline body; GI/EI/UP/RS are literals at every call site, so
 * each combination compiles to its own (vectorised) loop. */
/* One element of pass 1, written without branches so that the loop vectorises (every
 * setting enters as a value; selects only as min/max on data), with the eager
 * pipeline's own formulas:
 *   refractory clamp  x = x - x m + rest m,  m = min(r, 1) * rc_on   (set_where; x first
 *                     taken into the finite range, so that an infinite x cannot give NaN)
 *   floor and cap     x = min(max(x, lo), hi),  lo = max(rest + lo_rest, lo_cap)
 *   fire              s = (x >= thr)
 *   k-WTA score       x - big_ns (1 - s)      (big_ns = 0 for a uniform threshold)
 *   refractory decay  r = max(r - r_dec, R_neu s + r_floor)   (untouched, max(r-1, 0), max(r-1, R s))
 *   reset             u = x - x s + v_reset s  (reset_, when RS)                        */
#define P1_ELEM(T, FMA, IDX, GI, EI, UP, RS, RW)                                                   \
    {                                                                                          \
        const i64 i = (IDX);                                                                   \
        const T rv = rr[i], rest = re_[i * GI];                                                \
        T x = UP ? FMA(k_[i * GI], ii[i], up[i] * a_[i * GI]) + c0_[i * GI] : uu[i];            \
        const T rm1 = rv < (T)1 ? rv : (T)1, mk = rm1 * rc_on;                                 \
        x = x < -tmax ? -tmax : x;                                                             \
        x = x > tmax ? tmax : x;                                                               \
        x = x - x * mk + rest * mk;                                                            \
        const T lr = rest + lo_rest, lo = lr > lo_cap ? lr : lo_cap;                           \
        x = x < lo ? lo : x;                                                                   \
        x = x > hi ? hi : x;                                                                   \
        const T s = (T)(x >= th_[i * EI]);                                                     \
        const T sc = x - big_ns * ((T)1 - s);                                                  \
        m_ = sc > m_ ? sc : m_;                                                                \
        const T d = rv - r_dec, lim = R_neu * s + r_floor;                                     \
        if (RW) ro[i] = d > lim ? d : lim;                                                     \
        chk += ii[i] * (T)0;                                                                   \
        ss[i] = s * amp;                                                                       \
        uu[i] = RS ? x - x * s + vr_[i * GI] * s : x;                                          \
    }

/* One map of pass 1 for one combination of GI (constants per element), EI (threshold per
 * element), UP (integrate: u_prev given), RS (reset in the pass) and RW (the refractory
 * counter is written), as literals: each
 * combination is its own small function, which the compiler vectorises. */
#define MAPFN(T, FMA, NAME, GI, EI, UP, RS, RW)                                                  \
static __attribute__((noinline)) int NAME##_##GI##EI##UP##RS##RW(                                \
        const T *restrict up, const T *restrict ii, T *restrict uu, const T *restrict rr,      \
        T *restrict ro, T *restrict ss, const T *restrict a_, const T *restrict k_, const T *restrict c0_,     \
        const T *restrict re_, const T *restrict vr_, const T *restrict th_, i64 HW,           \
        T lo_rest, T lo_cap, T hi, T r_dec, T R_neu, T r_floor, T big_ns, T amp, T rc_on,      \
        T *best) {                                                                             \
    T m_ = (T)-INFINITY, chk = 0;                                                              \
    const T tmax = TMAX(T);                                                                    \
    _Pragma("omp simd reduction(max:m_) reduction(+:chk)")                                     \
    for (i64 e_ = 0; e_ < HW; ++e_) P1_ELEM(T, FMA, e_, GI, EI, UP, RS, RW)                                \
    if (best) *best = m_;                                                                      \
    return chk == (T)0;                                                                        \
}

#define MAPFNS(T, FMA, NAME) \
    MAPFN(T, FMA, NAME, 0, 0, 0, 0, 0) \
    MAPFN(T, FMA, NAME, 0, 0, 0, 0, 1) \
    MAPFN(T, FMA, NAME, 0, 0, 0, 1, 0) \
    MAPFN(T, FMA, NAME, 0, 0, 0, 1, 1) \
    MAPFN(T, FMA, NAME, 0, 0, 1, 0, 0) \
    MAPFN(T, FMA, NAME, 0, 0, 1, 0, 1) \
    MAPFN(T, FMA, NAME, 0, 0, 1, 1, 0) \
    MAPFN(T, FMA, NAME, 0, 0, 1, 1, 1) \
    MAPFN(T, FMA, NAME, 0, 1, 0, 0, 0) \
    MAPFN(T, FMA, NAME, 0, 1, 0, 0, 1) \
    MAPFN(T, FMA, NAME, 0, 1, 0, 1, 0) \
    MAPFN(T, FMA, NAME, 0, 1, 0, 1, 1) \
    MAPFN(T, FMA, NAME, 0, 1, 1, 0, 0) \
    MAPFN(T, FMA, NAME, 0, 1, 1, 0, 1) \
    MAPFN(T, FMA, NAME, 0, 1, 1, 1, 0) \
    MAPFN(T, FMA, NAME, 0, 1, 1, 1, 1) \
    MAPFN(T, FMA, NAME, 1, 1, 0, 0, 0) \
    MAPFN(T, FMA, NAME, 1, 1, 0, 0, 1) \
    MAPFN(T, FMA, NAME, 1, 1, 0, 1, 0) \
    MAPFN(T, FMA, NAME, 1, 1, 0, 1, 1) \
    MAPFN(T, FMA, NAME, 1, 1, 1, 0, 0) \
    MAPFN(T, FMA, NAME, 1, 1, 1, 0, 1) \
    MAPFN(T, FMA, NAME, 1, 1, 1, 1, 0) \
    MAPFN(T, FMA, NAME, 1, 1, 1, 1, 1)

/* ------------------------------------------------------------------- model loops */
/* The integrators of the models whose step runs here (constants per map, kc[j][c]), each
 * written as the model's eager ``_integrate`` / ``_adapt`` writes it (same operations in the
 * same order; FMA where ATen's add with alpha uses one), so the results agree to rounding:
 *   2 quadratic (QIF)        x = u + q (u - rest)(u - uc) + k I
 *   3 izhikevich             x = u + dt u (0.04 u + 5) + dt (I - w) + 140 dt;
 *                            w' = w + ga (b min(x, thr) - w) + d s
 *   4 resonate (RF)          kick = w + k I;  x = (u - rest) ec + es kick + rest;
 *                            w' = x_reset where s, else ec kick - es (u - rest)
 *   5 adaptive_lif           x = a u + k I + c0;  threshold w beta + thr (into tho);  w' = ea w + s
 *   6 exponential (EIF)      x = exp(min(s u + o, log_cap)) + a u + k I + c0   (float32 only)
 *   7 adex                   x as 6 with I - w;  w' = (1 - gw) w + aw (min(x, thr) - rest) + b s
 * integrate writes x into uu; adapt reads x (before reset) and s from uu and ss, writes
 * w', and when FIN resets uu and scales ss to the spike amplitude. */
#define MODEL_LOOPS(T, FMA, NAME)                                                              \
static void NAME##_integrate(int kind, const struct cfg *g, i64 c, const T *restrict up,      \
        const T *restrict ii, const T *restrict ww, T *restrict uu, const T *restrict re_,      \
        T *restrict tho, i64 HW) {                                                             \
    const T *const *K = (const T *const *)g->kc;                                               \
    if (kind == 2) {                                                                           \
        const T q = K[0][c], k = K[1][c], rest = K[2][c], uc = K[3][c];                        \
        _Pragma("omp simd")                                                                    \
        for (i64 i = 0; i < HW; ++i) {                                                         \
            const T u = up[i], d1 = u - rest, d2 = u - uc;                                     \
            uu[i] = FMA(k, ii[i], u + q * d1 * d2);                                            \
        }                                                                                      \
    } else if (kind == 3) {                                                                    \
        const T dt = K[0][c], k004 = K[1][c], five = K[2][c], c140 = K[3][c];                  \
        _Pragma("omp simd")                                                                    \
        for (i64 i = 0; i < HW; ++i) {                                                         \
            const T u = up[i], f = u * k004 + five;                                            \
            uu[i] = FMA(dt, ii[i] - ww[i], u + dt * u * f) + c140;                             \
        }                                                                                      \
    } else if (kind == 4) {                                                                    \
        const T ec = K[0][c], es = K[1][c], k = K[2][c], rest = re_[0];                        \
        _Pragma("omp simd")                                                                    \
        for (i64 i = 0; i < HW; ++i) {                                                         \
            const T kick = FMA(k, ii[i], ww[i]);                                               \
            uu[i] = FMA(es, kick, (up[i] - rest) * ec) + rest;                                 \
        }                                                                                      \
    } else if (kind == 6 || kind == 7) {                                                       \
        const T a = K[0][c], k = K[1][c], c0 = K[2][c], sl = K[3][c], o = K[4][c];             \
        const T lc = (T)g->log_cap;                                                            \
        if (kind == 6) {                                                                       \
            _Pragma("omp simd")                                                                \
            for (i64 i = 0; i < HW; ++i) {                                                     \
                const T u = up[i], z = u * sl + o, zc = z > lc ? lc : z;                       \
                uu[i] = FMA(k, ii[i], FMA(a, u, EXP_##T(zc))) + c0;                            \
            }                                                                                  \
        } else {                                                                               \
            _Pragma("omp simd")                                                                \
            for (i64 i = 0; i < HW; ++i) {                                                     \
                const T u = up[i], z = u * sl + o, zc = z > lc ? lc : z;                       \
                uu[i] = FMA(k, ii[i] - ww[i], FMA(a, u, EXP_##T(zc))) + c0;                    \
            }                                                                                  \
        }                                                                                      \
    } else if (kind == 5) {                                                                    \
        const T a = K[0][c], k = K[1][c], c0 = K[2][c], beta = K[4][c];                        \
        const T thr = ((const T *)g->thr)[c];                                                  \
        _Pragma("omp simd")                                                                    \
        for (i64 i = 0; i < HW; ++i) {                                                         \
            uu[i] = FMA(k, ii[i], up[i] * a) + c0;                                             \
            tho[i] = ww[i] * beta + thr;                                                       \
        }                                                                                      \
    }                                                                                          \
}                                                                                              \
static void NAME##_adapt(int kind, const struct cfg *g, i64 c, const T *restrict up,          \
        const T *restrict ii, const T *restrict ww, T *restrict wo, T *restrict uu,            \
        T *restrict ss, const T *restrict th_, i64 EI, const T *restrict re_,                  \
        const T *restrict vr_, i64 GI, T amp, int fin, i64 HW) {                               \
    const T *const *K = (const T *const *)g->kc;                                               \
    if (kind == 3) {                                                                           \
        const T ga = K[4][c], b_ = K[5][c], d = K[6][c];                                       \
        _Pragma("omp simd")                                                                    \
        for (i64 i = 0; i < HW; ++i) {                                                         \
            const T x = uu[i], th = th_[i * EI], ap = x < th ? x : th, a = ap * b_;            \
            const T w1 = ww[i] + (a - ww[i]) * ga;                                             \
            wo[i] = FMA(d, ss[i], w1);                                                         \
        }                                                                                      \
    } else if (kind == 4) {                                                                    \
        const T ec = K[0][c], es = K[1][c], k = K[2][c], xr = K[3][c], rest = re_[0];          \
        _Pragma("omp simd")                                                                    \
        for (i64 i = 0; i < HW; ++i) {                                                         \
            const T kick = FMA(k, ii[i], ww[i]), s = ss[i];                                    \
            const T x = FMA(-es, up[i] - rest, kick * ec);                                     \
            wo[i] = FMA(xr, s, x + ((T)-1 * x) * s);                                           \
        }                                                                                      \
    } else if (kind == 7) {                                                                    \
        const T omg = K[5][c], aw = K[6][c], bj = K[7][c], rest = re_[0];                      \
        _Pragma("omp simd")                                                                    \
        for (i64 i = 0; i < HW; ++i) {                                                         \
            const T x = uu[i], th = th_[i * EI], ap = (x < th ? x : th) - rest;                \
            wo[i] = FMA(bj, ss[i], FMA(aw, ap, ww[i] * omg));                                  \
        }                                                                                      \
    } else if (kind == 5) {                                                                    \
        const T ea = K[3][c];                                                                  \
        _Pragma("omp simd")                                                                    \
        for (i64 i = 0; i < HW; ++i) wo[i] = ww[i] * ea + ss[i];                               \
    }                                                                                          \
    if (fin) {                                                                                 \
        _Pragma("omp simd")                                                                    \
        for (i64 i = 0; i < HW; ++i) {                                                         \
            const T x = uu[i], s = ss[i];                                                      \
            uu[i] = x - x * s + vr_[i * GI] * s;                                               \
            ss[i] = s * amp;                                                                   \
        }                                                                                      \
    }                                                                                          \
}

#define PASS1(T, FMA, NAME)                                                                    \
MAPFNS(T, FMA, NAME)                                                                           \
MODEL_LOOPS(T, FMA, NAME)                                                                      \
i64 NAME(const struct cfg *g, const T *u_prev, const T *I, T *u, const T *r, T *r_out, T *spk, \
         T *best, const T *thr_step, double amp_d, i64 do_reset, i64 check, const T *w,        \
         T *w_out) {                                                                           \
    const i64 C = g->C, HW = g->HW, maps = g->B * g->C;                                        \
    i64 finite = 0;                                                                            \
    const T *THR = thr_step ? thr_step : (const T *)g->thr;                                    \
    const i64 tbs = thr_step ? C * HW : g->thr_bstride;                                        \
    const int gi = g->per_elem ? 1 : 0, ei = (g->per_elem || thr_step) ? 1 : 0;               \
    const int up = u_prev != 0, rs = do_reset != 0;                                            \
    const T cap = (T)g->cap, amp = (T)amp_d, R = (T)g->R;                                      \
    const T rc_on = g->refr_clamp ? (T)1 : (T)0;                                               \
    const int fm = (int)g->floor_mode, rm = (int)g->r_mode;                                    \
    const T lo_rest = fm == 1 ? (T)0 : (T)-INFINITY, lo_cap = fm == 2 ? -cap : (T)-INFINITY;  \
    const T hi = fm ? cap : (T)INFINITY, r_dec = rm ? (T)1 : (T)0;                             \
    const T R_neu = rm == 2 ? R : (T)0, r_floor = rm ? (T)0 : (T)-INFINITY;                    \
    const T big_ns = g->uniform_score ? (T)0 : (T)g->big;                                      \
    const int nt = (maps * HW >= g->parallel_min) ? (int)g->nthreads : 1;                      \
    const int kind = (int)g->kind, own = kind >= 2, has_w = own && w != 0;                     \
    /* the model's own loops: the generic pass takes u as given, and with a second variable \
     * it leaves the reset and the spike amplitude to the adapt loop */                       \
    const int combo = gi * 16 + ei * 8 + (up && !own) * 4 + (rs && !has_w) * 2 + (rm != 0);    \
    const T amp_p = has_w ? (T)1 : amp;                                                        \
    _Pragma("omp parallel for num_threads(nt) schedule(static) reduction(+:finite)")           \
    for (i64 m = 0; m < maps; ++m) {                                                           \
        const i64 b = m / C, c = m % C, off = m * HW, po = gi ? c * HW : c;                    \
        const T *a_ = (const T *)g->a + po, *k_ = (const T *)g->k + po;                        \
        const T *c0_ = (const T *)g->c0 + po, *re_ = (const T *)g->rest + po;                  \
        const T *vr_ = (const T *)g->vreset + po;                                              \
        const T *th_ = THR + (ei ? b * tbs + c * HW : c);                                      \
        const T *upm = u_prev && !own ? u_prev + off : 0;                                      \
        T *bm = best ? best + m : 0;                                                           \
        if (own) NAME##_integrate(kind, g, c, u_prev + off, I + off, w ? w + off : 0, u + off, re_, \
                                  thr_step ? (T *)thr_step + off : 0, HW);                     \
        switch (combo) {                                                                       \
        CASE(T, NAME, 0, 0, 0, 0, 0) \
        CASE(T, NAME, 0, 0, 0, 0, 1) \
        CASE(T, NAME, 0, 0, 0, 1, 0) \
        CASE(T, NAME, 0, 0, 0, 1, 1) \
        CASE(T, NAME, 0, 0, 1, 0, 0) \
        CASE(T, NAME, 0, 0, 1, 0, 1) \
        CASE(T, NAME, 0, 0, 1, 1, 0) \
        CASE(T, NAME, 0, 0, 1, 1, 1) \
        CASE(T, NAME, 0, 1, 0, 0, 0) \
        CASE(T, NAME, 0, 1, 0, 0, 1) \
        CASE(T, NAME, 0, 1, 0, 1, 0) \
        CASE(T, NAME, 0, 1, 0, 1, 1) \
        CASE(T, NAME, 0, 1, 1, 0, 0) \
        CASE(T, NAME, 0, 1, 1, 0, 1) \
        CASE(T, NAME, 0, 1, 1, 1, 0) \
        CASE(T, NAME, 0, 1, 1, 1, 1) \
        CASE(T, NAME, 1, 1, 0, 0, 0) \
        CASE(T, NAME, 1, 1, 0, 0, 1) \
        CASE(T, NAME, 1, 1, 0, 1, 0) \
        CASE(T, NAME, 1, 1, 0, 1, 1) \
        CASE(T, NAME, 1, 1, 1, 0, 0) \
        CASE(T, NAME, 1, 1, 1, 0, 1) \
        CASE(T, NAME, 1, 1, 1, 1, 0) \
        CASE(T, NAME, 1, 1, 1, 1, 1) \
        default: break;                                                                        \
        }                                                                                      \
        if (has_w) NAME##_adapt(kind, g, c, u_prev + off, I + off, w + off, w_out + off, u + off, \
                                spk + off, th_, ei, re_, vr_, gi, amp, rs, HW);                \
    }                                                                                          \
    return check && finite != maps;                                                            \
}

#define CASE(T, NAME, GI, EI, UP, RS, RW)                                                      \
    case GI * 16 + EI * 8 + UP * 4 + RS * 2 + RW:                                              \
        finite += NAME##_##GI##EI##UP##RS##RW(upm, I + off, u + off, r + off, r_out + off, spk + off, \
            a_, k_, c0_, re_,                                                                  \
            vr_, th_, HW, lo_rest, lo_cap, hi, r_dec, R_neu, r_floor, big_ns, amp_p, rc_on, bm); \
        break;

PASS1(float, fmaf, st_pass1_f32)
PASS1(double, fma, st_pass1_f64)

/* ------------------------------------------------------------------------- selection */
/* Per sample: the kk maps with the highest best score (ties: lowest feature first),
 * valid where the score reaches thr_min; loc (optional): first row-major location of the
 * best score inside each winning map (score from u, pre-reset, and spk != 0); then the
 * inhibition of the valid winners: r = max(r, R) over their map (mode 1), their location
 * across maps (mode 2) or the whole sample (mode 3). */
#define SELECT(T, NAME)                                                                        \
void NAME(const struct cfg *g, const T *best, i64 kk, double thr_min, i64 *feat, uint8_t *valid, \
          const T *u, const T *spk, i64 *loc, T *r, i64 mode) {                                \
    const i64 B = g->B, C = g->C, HW = g->HW;                                                  \
    const T R = (T)g->R, big = (T)g->big;                                                      \
    const int nt = (B * C * HW >= g->parallel_min) ? (int)g->nthreads : 1;                     \
    _Pragma("omp parallel for num_threads(nt) schedule(static)")                               \
    for (i64 b = 0; b < B; ++b) {                                                              \
        const T *bs = best + b * C;                                                            \
        uint64_t taken[64] = {0};                                                              \
        int any = 0;                                                                           \
        for (i64 j = 0; j < kk; ++j) {                                                         \
            i64 f = -1;                                                                        \
            T v = 0;                                                                           \
            for (i64 c = 0; c < C; ++c) {                                                      \
                if (taken[(c >> 6) & 63] >> (c & 63) & 1) continue;                            \
                if (f < 0 || bs[c] > v) { f = c; v = bs[c]; }                                  \
            }                                                                                  \
            taken[(f >> 6) & 63] |= (uint64_t)1 << (f & 63);                                   \
            const int ok = (double)v >= thr_min;                                               \
            feat[b * kk + j] = f;                                                              \
            valid[b * kk + j] = (uint8_t)ok;                                                   \
            any |= ok;                                                                         \
            i64 at = 0;                                                                        \
            if (loc || mode == 2) {                                                            \
                const T *uu = u + (b * C + f) * HW, *ss = spk + (b * C + f) * HW;              \
                for (i64 i = 0; i < HW; ++i) {                                                 \
                    const T sc = (g->uniform_score || ss[i] != (T)0) ? uu[i] : uu[i] - big;    \
                    if (sc == v) { at = i; break; }                                            \
                }                                                                              \
                if (loc) loc[b * kk + j] = at;                                                 \
            }                                                                                  \
            if (!ok) continue;                                                                 \
            if (mode == 1) {                                                                   \
                T *rr = r + (b * C + f) * HW;                                                  \
                for (i64 i = 0; i < HW; ++i) rr[i] = rr[i] > R ? rr[i] : R;                    \
            } else if (mode == 2) {                                                            \
                T *rr = r + b * C * HW + at;                                                   \
                for (i64 c = 0; c < C; ++c) rr[c * HW] = rr[c * HW] > R ? rr[c * HW] : R;      \
            }                                                                                  \
        }                                                                                      \
        if (mode == 3 && any) {                                                                \
            T *rr = r + b * C * HW;                                                            \
            for (i64 i = 0; i < C * HW; ++i) rr[i] = rr[i] > R ? rr[i] : R;                    \
        }                                                                                      \
    }                                                                                          \
}

SELECT(float, st_select_f32)
SELECT(double, st_select_f64)

/* -------------------------------------------------------------------------- reset */
/* u = vreset where spk != 0 (the reset deferred when something reads the pre-reset u). */
#define RESET(T, NAME)                                                                         \
void NAME(const struct cfg *g, T *u, const T *spk) {                                           \
    const i64 C = g->C, HW = g->HW, maps = g->B * g->C;                                        \
    const T *VR = (const T *)g->vreset;                                                        \
    const i64 gi = g->per_elem ? 1 : 0;                                                        \
    const int nt = (maps * HW >= g->parallel_min) ? (int)g->nthreads : 1;                      \
    _Pragma("omp parallel for num_threads(nt) schedule(static)")                               \
    for (i64 m = 0; m < maps; ++m) {                                                           \
        const i64 c = m % C;                                                                   \
        const T *vr_ = VR + (g->per_elem ? c * HW : c);                                        \
        T *uu = u + m * HW;                                                                    \
        const T *ss = spk + m * HW;                                                            \
        for (i64 i = 0; i < HW; ++i) uu[i] = ss[i] != (T)0 ? vr_[i * gi] : uu[i];              \
    }                                                                                          \
}

RESET(float, st_reset_f32)
RESET(double, st_reset_f64)

int st_abi_version(void) { return 1; }
