/*
 * Internal to attention.c: the three hot pieces of flash attention, written
 * once and compiled once per instruction set (a template, SLEEF-style).
 *
 * attention.c defines, then includes this file:
 *   AK_NAME(x)      the name of x in this instantiation (x##_avx512, ...)
 *   AK_FN           attributes of every function here (target(...), static)
 *   AK_VF, AK_W     the float vector type and its width (1 = plain float)
 *   AK_LOAD(p, dt)  W floats from element pointer p of storage dtype dt
 *   AK_SET1(x), AK_FMA(a, b, c) = a·b + c, AK_LOADF(p), AK_STOREF(p, v),
 *   AK_MAX(a, b), AK_ADD(a, b), AK_SUB(a, b), AK_EXP2(x) (ak_exp2 per lane)
 *   AK_QK_RG, AK_QK_NB   rows × key blocks of one score micro-tile
 *   AK_PV_RG, AK_PV_NV   rows × vectors of head_dim of one P·V micro-tile
 *
 * Data (see attention.c for the cache layout):
 *   q   rows × D floats, already multiplied by softmax_scale·log2(e);
 *   k   a tile of AK_TILE keys stored as AK_TILE / AK_KB blocks, block b
 *       holding element (key j, dim d) at b·D·AK_KB + d·AK_KB + j;
 *   s   rows × AK_TILE scores (then probabilities);
 *   v   nk value rows of D elements; o rows × D running outputs.
 */

/* S[r][j] = Σ_d q[r][d]·k[j][d] for the AK_TILE keys of one tile. RG rows and
 * NB blocks of AK_KB keys stay in registers across the d loop. */
AK_FN AK_INLINE void AK_NAME(qk_micro)(const float *q, int64_t D, const void *k, int dt,
                                         float *s, int RG, int NB, int b0) {
    enum { NV = AK_KB / AK_W };
    AK_VF acc[AK_QK_RG][AK_QK_NB * NV];
    for (int r = 0; r < RG; r++)
        for (int i = 0; i < NB * NV; i++) acc[r][i] = AK_SET1(0.0f);
    for (int64_t d = 0; d < D; d++) {
        AK_VF kv[AK_QK_NB * NV];
        for (int b = 0; b < NB; b++)
            for (int v = 0; v < NV; v++)
                kv[b * NV + v] = AK_LOAD(ak_elem(k, ((int64_t)(b0 + b) * D + d) * AK_KB + v * AK_W, dt), dt);
        for (int r = 0; r < RG; r++) {
            AK_VF qb = AK_SET1(q[r * D + d]);
            for (int i = 0; i < NB * NV; i++) acc[r][i] = AK_FMA(qb, kv[i], acc[r][i]);
        }
    }
    for (int r = 0; r < RG; r++)
        for (int b = 0; b < NB; b++)
            for (int v = 0; v < NV; v++)
                AK_STOREF(s + r * AK_TILE + (b0 + b) * AK_KB + v * AK_W, acc[r][b * NV + v]);
}

AK_FN AK_INLINE void AK_NAME(qk_rows)(const float *q, int64_t D, const void *k, int dt, float *s,
                                        int RG) {
    for (int b0 = 0; b0 < AK_TILE / AK_KB; b0 += AK_QK_NB)
        AK_NAME(qk_micro)(q, D, k, dt, s, RG, AK_QK_NB, b0);
}

AK_FN AK_NOINLINE void AK_NAME(qk)(const float *q, int64_t rows, int64_t D, const void *k, int dt,
                                     float *s) {
    int64_t r = 0;
    switch (dt) {
#define AK_QK_CASE(DT)                                                                        \
    case DT:                                                                                  \
        for (; r + AK_QK_RG <= rows; r += AK_QK_RG)                                           \
            AK_NAME(qk_rows)(q + r * D, D, k, DT, s + r * AK_TILE, AK_QK_RG);                 \
        /* the rest in one group (GQA with 3 q heads per kv head: one pass, not 3) */        \
        if (rows - r == 3 && AK_QK_RG > 3) AK_NAME(qk_rows)(q + r * D, D, k, DT, s + r * AK_TILE, 3); \
        else if (rows - r == 2 && AK_QK_RG > 2) AK_NAME(qk_rows)(q + r * D, D, k, DT, s + r * AK_TILE, 2); \
        else for (; r < rows; r++) AK_NAME(qk_rows)(q + r * D, D, k, DT, s + r * AK_TILE, 1); \
        break;
        AK_QK_CASE(AK_DT_F32)
        AK_QK_CASE(AK_DT_F16)
        AK_QK_CASE(AK_DT_BF16)
#undef AK_QK_CASE
    }
}

/* o[r][d0 .. d0 + NV·W) += Σ_{j<nk} p[r][j]·v[j][d0 ..]; RG rows × NV vectors in registers. */
AK_FN AK_INLINE void AK_NAME(pv_micro)(const float *p, int64_t D, const void *v, int dt, int nk,
                                         float *o, int RG, int NV, int64_t d0) {
    AK_VF acc[AK_PV_RG][AK_PV_NV];
    for (int r = 0; r < RG; r++)
        for (int i = 0; i < NV; i++) acc[r][i] = AK_LOADF(o + r * D + d0 + i * AK_W);
    for (int j = 0; j < nk; j++) {
        AK_VF vv[AK_PV_NV];
        for (int i = 0; i < NV; i++) vv[i] = AK_LOAD(ak_elem(v, (int64_t)j * D + d0 + i * AK_W, dt), dt);
        for (int r = 0; r < RG; r++) {
            AK_VF pb = AK_SET1(p[r * AK_TILE + j]);
            for (int i = 0; i < NV; i++) acc[r][i] = AK_FMA(pb, vv[i], acc[r][i]);
        }
    }
    for (int r = 0; r < RG; r++)
        for (int i = 0; i < NV; i++) AK_STOREF(o + r * D + d0 + i * AK_W, acc[r][i]);
}

AK_FN AK_INLINE void AK_NAME(pv_rows)(const float *p, int64_t D, const void *v, int dt, int nk,
                                        float *o, int RG) {
    const int64_t dv = D - D % AK_W; /* vector part of head_dim */
    int64_t d0 = 0;
    for (; d0 + AK_PV_NV * AK_W <= dv; d0 += AK_PV_NV * AK_W)
        AK_NAME(pv_micro)(p, D, v, dt, nk, o, RG, AK_PV_NV, d0);
    for (; d0 < dv; d0 += AK_W) AK_NAME(pv_micro)(p, D, v, dt, nk, o, RG, 1, d0);
    for (int64_t d = dv; d < D; d++) /* tail of an odd head_dim */
        for (int r = 0; r < RG; r++) {
            float a = o[r * D + d];
            for (int j = 0; j < nk; j++) a += p[r * AK_TILE + j] * ak_load1(v, (int64_t)j * D + d, dt);
            o[r * D + d] = a;
        }
}

AK_FN AK_NOINLINE void AK_NAME(pv)(const float *p, int64_t rows, int64_t D, const void *v, int dt,
                                     int nk, float *o) {
    int64_t r = 0;
    switch (dt) {
#define AK_PV_CASE(DT)                                                                        \
    case DT:                                                                                  \
        for (; r + AK_PV_RG <= rows; r += AK_PV_RG)                                           \
            AK_NAME(pv_rows)(p + r * AK_TILE, D, v, DT, nk, o + r * D, AK_PV_RG);             \
        if (rows - r == 3 && AK_PV_RG > 3) AK_NAME(pv_rows)(p + r * AK_TILE, D, v, DT, nk, o + r * D, 3); \
        else if (rows - r == 2 && AK_PV_RG > 2) AK_NAME(pv_rows)(p + r * AK_TILE, D, v, DT, nk, o + r * D, 2); \
        else for (; r < rows; r++) AK_NAME(pv_rows)(p + r * AK_TILE, D, v, DT, nk, o + r * D, 1); \
        break;
        AK_PV_CASE(AK_DT_F32)
        AK_PV_CASE(AK_DT_F16)
        AK_PV_CASE(AK_DT_BF16)
#undef AK_PV_CASE
    }
}

/*
 * Online softmax over one tile (Milakov & Gimelshein 2018; FlashAttention
 * eq. in §3.1): scores are in log2 units, so p = 2^(s - m). For each row: mask,
 * new running max m', rescale the running sum l and output o by 2^(m - m'),
 * and turn the scores into unnormalised probabilities in place. A row that
 * sees nothing in this tile gets p = 0 and keeps its state.
 * full != 0: every key j < nk is visible to every row (no per-key test).
 */
AK_FN AK_NOINLINE void AK_NAME(softmax_tile)(float *s, int64_t rows, int nk, const int64_t *kpos,
                                               const int64_t *rpos, int64_t window, int full,
                                               float *m, float *l, float *o, int64_t D) {
    for (int64_t r = 0; r < rows; r++) {
        float *sr = s + r * AK_TILE;
        const int64_t p = rpos[r];
        if (!full) {
            for (int j = 0; j < nk; j++) {
                int vis = p >= 0 && kpos[j] <= p && (window == 0 || kpos[j] > p - window);
                if (!vis) sr[j] = -INFINITY;
            }
        }
        for (int j = nk; j < AK_TILE; j++) sr[j] = -INFINITY;
        float lane[AK_W];
        AK_VF mv = AK_LOADF(sr), nan = mv; /* nan: a sum, NaN iff some score is NaN (max drops NaNs) */
        for (int j = AK_W; j < AK_TILE; j += AK_W) {
            AK_VF x = AK_LOADF(sr + j);
            mv = AK_MAX(mv, x);
            nan = AK_ADD(nan, x);
        }
        AK_STOREF(lane, mv);
        float mt = lane[0];
        for (int t = 1; t < AK_W; t++) mt = lane[t] > mt ? lane[t] : mt;
        AK_STOREF(lane, nan);
        for (int t = 0; t < AK_W; t++)
            if (lane[t] != lane[t]) mt = lane[t]; /* NaN in q or k: the row's output is NaN */
        if (mt == -INFINITY) { /* nothing visible in this tile (NaN scores flow on) */
            for (int j = 0; j < AK_TILE; j++) sr[j] = 0.0f;
            continue;
        }
        const float mnew = (mt != mt || mt > m[r]) ? mt : m[r];
        const float alpha = ak_exp2(m[r] - mnew); /* 0 on the first visible tile */
        const AK_VF mb = AK_SET1(mnew);
        for (int j = 0; j < AK_TILE; j += AK_W) AK_STOREF(sr + j, AK_EXP2(AK_SUB(AK_LOADF(sr + j), mb)));
        AK_VF sv = AK_LOADF(sr);
        for (int j = AK_W; j < AK_TILE; j += AK_W) sv = AK_ADD(sv, AK_LOADF(sr + j));
        AK_STOREF(lane, sv);
        float sum = 0.0f;
        for (int t = 0; t < AK_W; t++) sum += lane[t];
        l[r] = l[r] * alpha + sum;
        if (alpha != 1.0f) {
            float *orow = o + r * D;
            for (int64_t d = 0; d < D; d++) orow[d] *= alpha;
        }
        m[r] = mnew;
    }
}

/*
 * ROPE_Q8 cache: the dequantisation is fused into the two products.
 * Keys: S[r][j] = Σ_qb ks[j][qb] · Σ_{d in block qb} q[r][d]·k8[j][d], so the
 * int8 products of one scale block are summed first (converted to float on
 * load) and scaled once per block; the 16 scales of a key block are one
 * vector (layout [nqb][AK_KB] per block). Values: each loaded vector of 8-bit
 * values is multiplied by its entry's block scale before the P·V FMAs.
 */
AK_FN AK_INLINE void AK_NAME(qk8_micro)(const float *q, int64_t D, int64_t nqb, const int8_t *k,
                                          const float *ks, float *s, int RG, int b0) {
    enum { NV = AK_KB / AK_W };
    AK_VF acc[AK_Q8_RG][AK_Q8_NB * NV], part[AK_Q8_RG][AK_Q8_NB * NV];
    for (int r = 0; r < RG; r++)
        for (int i = 0; i < AK_Q8_NB * NV; i++) acc[r][i] = AK_SET1(0.0f);
    for (int64_t qb = 0; qb < nqb; qb++) {
        const int64_t d0 = qb * AK_QB, d1 = d0 + AK_QB < D ? d0 + AK_QB : D;
        for (int r = 0; r < RG; r++)
            for (int i = 0; i < AK_Q8_NB * NV; i++) part[r][i] = AK_SET1(0.0f);
        for (int64_t d = d0; d < d1; d++) {
            AK_VF kv[AK_Q8_NB * NV];
            for (int b = 0; b < AK_Q8_NB; b++)
                for (int v = 0; v < NV; v++)
                    kv[b * NV + v] = AK_LOAD8(k + ((int64_t)(b0 + b) * D + d) * AK_KB + v * AK_W);
            for (int r = 0; r < RG; r++) {
                AK_VF qv = AK_SET1(q[r * D + d]);
                for (int i = 0; i < AK_Q8_NB * NV; i++) part[r][i] = AK_FMA(qv, kv[i], part[r][i]);
            }
        }
        for (int b = 0; b < AK_Q8_NB; b++)
            for (int v = 0; v < NV; v++) {
                AK_VF sv = AK_LOADF(ks + ((int64_t)(b0 + b) * nqb + qb) * AK_KB + v * AK_W);
                for (int r = 0; r < RG; r++) acc[r][b * NV + v] = AK_FMA(part[r][b * NV + v], sv, acc[r][b * NV + v]);
            }
    }
    for (int r = 0; r < RG; r++)
        for (int b = 0; b < AK_Q8_NB; b++)
            for (int v = 0; v < NV; v++)
                AK_STOREF(s + r * AK_TILE + (b0 + b) * AK_KB + v * AK_W, acc[r][b * NV + v]);
}

AK_FN AK_NOINLINE void AK_NAME(qk8)(const float *q, int64_t rows, int64_t D, int64_t nqb,
                                      const int8_t *k, const float *ks, float *s) {
    int64_t r = 0;
    for (; r + AK_Q8_RG <= rows; r += AK_Q8_RG)
        for (int b0 = 0; b0 < AK_TILE / AK_KB; b0 += AK_Q8_NB)
            AK_NAME(qk8_micro)(q + r * D, D, nqb, k, ks, s + r * AK_TILE, AK_Q8_RG, b0);
    if (rows - r == 3 && AK_Q8_RG > 3)
        for (int b0 = 0; b0 < AK_TILE / AK_KB; b0 += AK_Q8_NB)
            AK_NAME(qk8_micro)(q + r * D, D, nqb, k, ks, s + r * AK_TILE, 3, b0);
    else if (rows - r == 2 && AK_Q8_RG > 2)
        for (int b0 = 0; b0 < AK_TILE / AK_KB; b0 += AK_Q8_NB)
            AK_NAME(qk8_micro)(q + r * D, D, nqb, k, ks, s + r * AK_TILE, 2, b0);
    else
        for (; r < rows; r++)
            for (int b0 = 0; b0 < AK_TILE / AK_KB; b0 += AK_Q8_NB)
                AK_NAME(qk8_micro)(q + r * D, D, nqb, k, ks, s + r * AK_TILE, 1, b0);
}

AK_FN AK_INLINE void AK_NAME(pv8_micro)(const float *p, int64_t D, int64_t nqb, const int8_t *v,
                                          const float *vs, int nk, float *o, int RG, int NV,
                                          int64_t d0) {
    AK_VF acc[AK_PV_RG][AK_PV_NV];
    for (int r = 0; r < RG; r++)
        for (int i = 0; i < NV; i++) acc[r][i] = AK_LOADF(o + r * D + d0 + i * AK_W);
    for (int j = 0; j < nk; j++) {
        AK_VF vv[AK_PV_NV];
        for (int i = 0; i < NV; i++)
            vv[i] = AK_MUL(AK_LOAD8(v + (int64_t)j * D + d0 + i * AK_W),
                           AK_SET1(vs[(int64_t)j * nqb + (d0 + i * AK_W) / AK_QB]));
        for (int r = 0; r < RG; r++) {
            AK_VF pb = AK_SET1(p[r * AK_TILE + j]);
            for (int i = 0; i < NV; i++) acc[r][i] = AK_FMA(pb, vv[i], acc[r][i]);
        }
    }
    for (int r = 0; r < RG; r++)
        for (int i = 0; i < NV; i++) AK_STOREF(o + r * D + d0 + i * AK_W, acc[r][i]);
}

AK_FN AK_INLINE void AK_NAME(pv8_rows)(const float *p, int64_t D, int64_t nqb, const int8_t *v,
                                         const float *vs, int nk, float *o, int RG) {
    const int64_t dv = D - D % AK_W;
    int64_t d0 = 0;
    for (; d0 + AK_PV_NV * AK_W <= dv; d0 += AK_PV_NV * AK_W)
        AK_NAME(pv8_micro)(p, D, nqb, v, vs, nk, o, RG, AK_PV_NV, d0);
    for (; d0 < dv; d0 += AK_W) AK_NAME(pv8_micro)(p, D, nqb, v, vs, nk, o, RG, 1, d0);
    for (int64_t d = dv; d < D; d++)
        for (int r = 0; r < RG; r++) {
            float a = o[r * D + d];
            for (int j = 0; j < nk; j++)
                a += p[r * AK_TILE + j] * ((float)v[(int64_t)j * D + d] * vs[(int64_t)j * nqb + d / AK_QB]);
            o[r * D + d] = a;
        }
}

AK_FN AK_NOINLINE void AK_NAME(pv8)(const float *p, int64_t rows, int64_t D, int64_t nqb,
                                      const int8_t *v, const float *vs, int nk, float *o) {
    int64_t r = 0;
    for (; r + AK_PV_RG <= rows; r += AK_PV_RG)
        AK_NAME(pv8_rows)(p + r * AK_TILE, D, nqb, v, vs, nk, o + r * D, AK_PV_RG);
    if (rows - r == 3 && AK_PV_RG > 3) AK_NAME(pv8_rows)(p + r * AK_TILE, D, nqb, v, vs, nk, o + r * D, 3);
    else if (rows - r == 2 && AK_PV_RG > 2) AK_NAME(pv8_rows)(p + r * AK_TILE, D, nqb, v, vs, nk, o + r * D, 2);
    else for (; r < rows; r++) AK_NAME(pv8_rows)(p + r * AK_TILE, D, nqb, v, vs, nk, o + r * D, 1);
}
