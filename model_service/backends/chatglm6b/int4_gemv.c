/*
 * int4 weights on the CPU: one activation row times the matrix with AVX-512 VNNI integer dot products
 * (a decoding step), and the matrix to bf16 in one pass (for a prompt's matmul).
 *
 * Why: on a small CPU, torch's int4 kernel turns every weight into a float before multiplying, and
 * that work, not memory, sets its speed (about half the memory bandwidth on 2 cores). Here the row is
 * quantized to int8 in blocks of 32 (one float scale per block) and each instruction multiplies 64
 * weight nibbles by activation bytes into int32 sums, so reading the weights is the limit again.
 *
 * Weight layout (written by quantization.py, `pack_int4_vnni`): blocks of 64 output rows; in each, for
 * every 8 input columns, four chunks of 64 bytes, one per 16-row tile. In a chunk, byte 4r+j holds row r
 * of the tile: its low nibble column 8c+j, its high nibble column 8c+4+j, both stored as q + 8 (0..15).
 * So one 64-byte load gives 16 rows x 4 columns twice, in the lane order vpdpbusd wants.
 *
 * y[o] = scale[o] * sum_b xs[b] * (sum_k (q[o,k] + 8) x8[k] - 8 * sum_k x8[k]) + bias[o]
 *
 * Three variants over the same layout and the same arithmetic (exact int32 sums, then the same float
 * steps), whichever the CPU has, chosen at run time (native.py; CHATGLM_INT4_KERNEL names one):
 * - avx512-vnni: 512-bit vpdpbusd, 64 multiply-adds per instruction;
 * - avx-vnni: 256-bit vpdpbusd (AVX-VNNI, or AVX-512 VNNI's 256-bit form), half a chunk per load;
 * - avx2: the same dot products from vpmaddubsw (u8 x s8 pairs into int16) added up in int16 over 32
 *   columns, then vpmaddwd against ones (bounds at run_block256).
 * The prefetch distance is an argument: the best one differs between CPUs (native.py's tuning_for).
 * bf16_gemv, at the end, is the decoding step's other large read: the bf16 output matrix times the row.
 */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define ROWS 64  /* output rows per block */
/* Software prefetch distance: the caller's (native.py picks it per CPU); at most this many bytes ahead. */
#define MAX_PREFETCH 65536
#define QBLOCK 32 /* activation values per int8 scale */

#define VARIANT_AVX512_VNNI 1
#define VARIANT_AVX_VNNI 2
#define VARIANT_AVX2 4

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
#define HAVE_AVX512_VNNI 1
#endif
#if defined(__AVX2__) && defined(__FMA__)
#define HAVE_AVX2 1
#if defined(__AVXVNNI__)
#define DPBUSD256 _mm256_dpbusd_avx_epi32
#elif defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define DPBUSD256 _mm256_dpbusd_epi32
#endif
#endif

/* The variants this build can run (a bit each), for the CPU it was compiled on (-march=native). */
int int4_gemv_variants(void) {
    int found = 0;
#ifdef HAVE_AVX512_VNNI
    found |= VARIANT_AVX512_VNNI;
#endif
#ifdef DPBUSD256
    found |= VARIANT_AVX_VNNI;
#endif
#ifdef HAVE_AVX2
    found |= VARIANT_AVX2;
#endif
    return found;
}

#ifdef HAVE_AVX2

/* Below this a block's largest value counts as zero (127 / top would overflow). */
#define TINY 1e-30f

/*
 * x (n floats, n a multiple of QBLOCK) -> int8 values, a scale and the sum of the values per block.
 * A block holding NaN or an infinity gets a NaN scale, so the outputs it feeds are NaN, as a float
 * matmul would make them, rather than a finite number hiding the blow-up.
 */
static void quantize_row(const float *x, int n, int8_t *values, float *scales, int32_t *sums) {
    for (int b = 0; b < n / QBLOCK; b++) {
        const float *block = x + b * QBLOCK;
        float top = 0.0f;
        int finite = 1;
        for (int i = 0; i < QBLOCK; i++) {
            finite &= isfinite(block[i]) != 0;
            top = fmaxf(top, fabsf(block[i]));
        }
        if (!finite || top < TINY) {
            memset(values + b * QBLOCK, 0, QBLOCK);
            scales[b] = finite ? 0.0f : NAN;
            sums[b] = 0;
            continue;
        }
        float scale = top / 127.0f, inverse = 127.0f / top;
        int32_t sum = 0;
        for (int i = 0; i < QBLOCK; i++) {
            int v = (int)lrintf(block[i] * inverse);
            values[b * QBLOCK + i] = (int8_t)v;
            sum += v;
        }
        scales[b] = scale;
        sums[b] = sum;
    }
}

/*
 * Work per 64 weight bytes (a 16-row tile, 8 input columns), the same on every variant's lanes:
 * - the low nibbles are masked (v & 0x0F) and multiplied by activation bytes 0-3 of the column group;
 * - the high nibbles are NOT shifted down: masked in place (v & 0xF0) they are 16 times the value, and
 *   their sum (with activation bytes 4-7) is divided by 16 once per 32 columns (an exact shift: every
 *   term is a multiple of 16; 240 * 127 * 32 is far from int32's limit). One instruction less per load.
 * The low and the high nibbles go to separate accumulators, so a dot product's dependency chain is 4
 * long per 32 columns and 8 of them (16 on 256-bit registers) run side by side.
 * `prefetch` bytes ahead are prefetched (0: none, the hardware prefetcher alone); PREFETCH_CHECK makes
 * the test a constant in each copy of the loop the compiler makes.
 */
#define PREFETCH_CHECK(prefetch, call) \
    do {                               \
        if (prefetch) {                \
            call(1);                   \
        } else {                       \
            call(0);                   \
        }                              \
    } while (0)

#ifdef HAVE_AVX512_VNNI
/* Output rows [64 * block, 64 * block + 64) into y. */
static inline __attribute__((always_inline)) void run_block_body(const uint8_t *weight, const float *row_scale,
                                                                const float *bias, const int8_t *x,
                                                                const float *x_scale, const int32_t *x_sum, float *y,
                                                                int in, int block, int prefetch, const int ahead) {
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    const uint8_t *p = weight + (size_t)block * ROWS * (in / 2);
    __m512 out[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int b = 0; b < in / QBLOCK; b++) {
        __m512i low[4], high[4];
        for (int t = 0; t < 4; t++) low[t] = high[t] = _mm512_setzero_si512();
        const int8_t *xb = x + b * QBLOCK;
        for (int c = 0; c < QBLOCK / 8; c++) {
            int32_t first, second;
            memcpy(&first, xb + 8 * c, 4);
            memcpy(&second, xb + 8 * c + 4, 4);
            const __m512i x_first = _mm512_set1_epi32(first), x_second = _mm512_set1_epi32(second);
            for (int t = 0; t < 4; t++, p += 64) {
                const __m512i v = _mm512_loadu_si512((const void *)p);
                if (ahead) _mm_prefetch((const char *)p + prefetch, _MM_HINT_T0);
                low[t] = _mm512_dpbusd_epi32(low[t], _mm512_and_si512(v, nibble), x_first);
                high[t] = _mm512_dpbusd_epi32(high[t], _mm512_andnot_si512(nibble, v), x_second);
            }
        }
        const __m512i offset = _mm512_set1_epi32(8 * x_sum[b]);
        const __m512 scale = _mm512_set1_ps(x_scale[b]);
        for (int t = 0; t < 4; t++) {
            const __m512i dot = _mm512_sub_epi32(_mm512_add_epi32(low[t], _mm512_srai_epi32(high[t], 4)), offset);
            out[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scale, out[t]);
        }
    }
    for (int t = 0; t < 4; t++) {
        const int row = block * ROWS + 16 * t;
        __m512 result = _mm512_mul_ps(out[t], _mm512_loadu_ps(row_scale + row));
        if (bias) result = _mm512_add_ps(result, _mm512_loadu_ps(bias + row));
        _mm512_storeu_ps(y + row, result);
    }
}

static void run_block(const uint8_t *weight, const float *row_scale, const float *bias, const int8_t *x,
                      const float *x_scale, const int32_t *x_sum, float *y, int in, int block, int prefetch) {
#define RUN_BLOCK(ahead) run_block_body(weight, row_scale, bias, x, x_scale, x_sum, y, in, block, prefetch, ahead)
    PREFETCH_CHECK(prefetch, RUN_BLOCK);
#undef RUN_BLOCK
}
#endif

/*
 * run_block on 256-bit registers: each 64-byte chunk (a 16-row tile) is two halves of 8 rows.
 * With VNNI, vpdpbusd as above. Without (AVX2), vpmaddubsw multiplies u8 nibbles by s8 activations and
 * adds neighbours into int16: |pair| <= 2 * 15 * 127 = 3810, low + high <= 7620, so the four column groups
 * of 32 columns add up in int16 (<= 30480 < 32767, exact) and one vpmaddwd against ones per 32 columns
 * widens them to int32. (The high nibbles must be shifted here: 16 times a nibble overflows int16 pairs.)
 */
static inline __attribute__((always_inline)) void run_block256_body(const uint8_t *weight, const float *row_scale,
                                                                   const float *bias, const int8_t *x,
                                                                   const float *x_scale, const int32_t *x_sum,
                                                                   float *y, int in, int block, int prefetch,
                                                                   const int ahead, const int vnni) {
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    const uint8_t *p = weight + (size_t)block * ROWS * (in / 2);
    __m256 out[8];
    for (int h = 0; h < 8; h++) out[h] = _mm256_setzero_ps();
    for (int b = 0; b < in / QBLOCK; b++) {
        __m256i low[8], high[8];
        for (int h = 0; h < 8; h++) low[h] = high[h] = _mm256_setzero_si256();
        const int8_t *xb = x + b * QBLOCK;
        for (int c = 0; c < QBLOCK / 8; c++) {
            int32_t first, second;
            memcpy(&first, xb + 8 * c, 4);
            memcpy(&second, xb + 8 * c + 4, 4);
            const __m256i x_first = _mm256_set1_epi32(first), x_second = _mm256_set1_epi32(second);
            for (int h = 0; h < 8; h++, p += 32) {
                const __m256i v = _mm256_loadu_si256((const __m256i *)p);
                if (ahead && (h & 1) == 0) _mm_prefetch((const char *)p + prefetch, _MM_HINT_T0);
#ifdef DPBUSD256
                if (vnni) {
                    low[h] = DPBUSD256(low[h], _mm256_and_si256(v, nibble), x_first);
                    high[h] = DPBUSD256(high[h], _mm256_andnot_si256(nibble, v), x_second);
                    continue;
                }
#endif
                const __m256i pairs =
                    _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_and_si256(v, nibble), x_first),
                                     _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v, 4), nibble), x_second));
                low[h] = _mm256_add_epi16(low[h], pairs);
            }
        }
        const __m256i offset = _mm256_set1_epi32(8 * x_sum[b]);
        const __m256 scale = _mm256_set1_ps(x_scale[b]);
        for (int h = 0; h < 8; h++) {
            const __m256i dot = vnni ? _mm256_add_epi32(low[h], _mm256_srai_epi32(high[h], 4))
                                     : _mm256_madd_epi16(low[h], _mm256_set1_epi16(1));
            out[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(dot, offset)), scale, out[h]);
        }
    }
    for (int h = 0; h < 8; h++) {
        const int row = block * ROWS + 8 * h; /* half h: tile h / 2, its rows 8 * (h % 2) on */
        __m256 result = _mm256_mul_ps(out[h], _mm256_loadu_ps(row_scale + row));
        if (bias) result = _mm256_add_ps(result, _mm256_loadu_ps(bias + row));
        _mm256_storeu_ps(y + row, result);
    }
}

static void run_block256(const uint8_t *weight, const float *row_scale, const float *bias, const int8_t *x,
                         const float *x_scale, const int32_t *x_sum, float *y, int in, int block, int prefetch,
                         const int vnni) {
#define RUN_VNNI(ahead) run_block256_body(weight, row_scale, bias, x, x_scale, x_sum, y, in, block, prefetch, ahead, 1)
#define RUN_AVX2(ahead) run_block256_body(weight, row_scale, bias, x, x_scale, x_sum, y, in, block, prefetch, ahead, 0)
    if (vnni) {
        PREFETCH_CHECK(prefetch, RUN_VNNI);
    } else {
        PREFETCH_CHECK(prefetch, RUN_AVX2);
    }
#undef RUN_VNNI
#undef RUN_AVX2
}

/*
 * y[out] = weight (packed as above) times x[in], per-row scales and an optional bias, all float32, with
 * `variant` (one VARIANT_ bit), prefetching `prefetch` bytes ahead (0: none; 0..65536). `scratch` holds
 * in + in/QBLOCK*8 bytes. in % 32 == 0 and out % 64 == 0. Returns 0, or -1 for a variant this build cannot
 * run or a prefetch distance out of range. The threads are OpenMP's: the library links the libgomp torch
 * has loaded, so they are torch's own pool rather than a second set competing with it.
 */
int int4_gemv(const uint8_t *weight, const float *row_scale, const float *bias, const float *x, float *y, int in,
              int out, int threads, void *scratch, int variant, int prefetch) {
    if (!(variant & int4_gemv_variants()) || (variant & (variant - 1))) return -1;
    if (prefetch < 0 || prefetch > MAX_PREFETCH) return -1;
    int8_t *values = (int8_t *)scratch;
    float *scales = (float *)(values + in);
    int32_t *sums = (int32_t *)(scales + in / QBLOCK);
    quantize_row(x, in, values, scales, sums);
    const int blocks = out / ROWS;
#pragma omp parallel for num_threads(threads > 0 ? threads : 1) schedule(static)
    for (int block = 0; block < blocks; block++) {
        if (variant == VARIANT_AVX2) {
            run_block256(weight, row_scale, bias, values, scales, sums, y, in, block, prefetch, 0);
        } else if (variant == VARIANT_AVX_VNNI) {
            run_block256(weight, row_scale, bias, values, scales, sums, y, in, block, prefetch, 1);
        } else {
#ifdef HAVE_AVX512_VNNI
            run_block(weight, row_scale, bias, values, scales, sums, y, in, block, prefetch);
#endif
        }
    }
    return 0;
}

#ifdef HAVE_AVX512_VNNI
/* fp32 -> bf16, rounding to nearest even (the values here are finite). */
static inline __m256i to_bf16(__m512 values) {
    const __m512i bits = _mm512_castps_si512(values);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    const __m512i rounded = _mm512_add_epi32(bits, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7FFF)));
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(rounded, 16));
}

/* 16 nibble values (rows `row` and `row + 1`, 8 columns each, as value + 8) -> bf16 at `at` (row stride `in`). */
static inline void store_two_rows(__m128i nibbles, const float *scale, int row, uint16_t *at, int in) {
    const __m512i values = _mm512_sub_epi32(_mm512_cvtepu8_epi32(nibbles), _mm512_set1_epi32(8));
    const __m512 scales = _mm512_insertf32x8(_mm512_set1_ps(scale[row]), _mm256_set1_ps(scale[row + 1]), 1);
    const __m256i converted = to_bf16(_mm512_mul_ps(_mm512_cvtepi32_ps(values), scales));
    _mm_storeu_si128((__m128i *)(at + (size_t)row * in), _mm256_castsi256_si128(converted));
    _mm_storeu_si128((__m128i *)(at + (size_t)(row + 1) * in), _mm256_extracti128_si256(converted, 1));
}

/* One 64-row block -> bf16 rows of `out` (row stride `in`): q * scale[row]. */
static void dequantize_block(const uint8_t *weight, const float *row_scale, uint16_t *out, int in, int block) {
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    const uint8_t *p = weight + (size_t)block * ROWS * (in / 2);
    const float *scale = row_scale + block * ROWS;
    uint16_t *rows = out + (size_t)block * ROWS * in;
    for (int c = 0; c < in / 8; c++) {
        uint16_t *at = rows + 8 * c;
        for (int t = 0; t < 4; t++, p += 64) {
            const __m512i v = _mm512_loadu_si512((const void *)p);
            const __m512i low = _mm512_and_si512(v, nibble);
            const __m512i high = _mm512_and_si512(_mm512_srli_epi16(v, 4), nibble);
            /* In 128-bit lane k (tile rows 4k..4k+3): unpacklo gives [low r, high r, low r+1, high r+1] for
               r = 4k, i.e. rows r and r+1 with their 8 columns in order; unpackhi the same for r = 4k + 2. */
            const __m512i first = _mm512_unpacklo_epi32(low, high), second = _mm512_unpackhi_epi32(low, high);
            const int row = 16 * t;
            store_two_rows(_mm512_extracti32x4_epi32(first, 0), scale, row + 0, at, in);
            store_two_rows(_mm512_extracti32x4_epi32(second, 0), scale, row + 2, at, in);
            store_two_rows(_mm512_extracti32x4_epi32(first, 1), scale, row + 4, at, in);
            store_two_rows(_mm512_extracti32x4_epi32(second, 1), scale, row + 6, at, in);
            store_two_rows(_mm512_extracti32x4_epi32(first, 2), scale, row + 8, at, in);
            store_two_rows(_mm512_extracti32x4_epi32(second, 2), scale, row + 10, at, in);
            store_two_rows(_mm512_extracti32x4_epi32(first, 3), scale, row + 12, at, in);
            store_two_rows(_mm512_extracti32x4_epi32(second, 3), scale, row + 14, at, in);
        }
    }
}

#endif

/* One fp32 -> bf16, rounding to nearest even (finite values). */
static inline uint16_t bf16_of(float value) {
    uint32_t bits;
    memcpy(&bits, &value, 4);
    return (uint16_t)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
}

/* dequantize_block in plain C, for the 256-bit variants: the same values (one rounding to fp32, one to bf16). */
static void dequantize_block_plain(const uint8_t *weight, const float *row_scale, uint16_t *out, int in, int block) {
    const uint8_t *p = weight + (size_t)block * ROWS * (in / 2);
    for (int c = 0; c < in / 8; c++) {
        for (int t = 0; t < 4; t++) {
            for (int r = 0; r < 16; r++, p += 4) {
                const int row = block * ROWS + 16 * t + r;
                uint16_t *at = out + (size_t)row * in + 8 * c;
                for (int j = 0; j < 4; j++) {
                    at[j] = bf16_of((float)((p[j] & 0x0F) - 8) * row_scale[row]);
                    at[4 + j] = bf16_of((float)((p[j] >> 4) - 8) * row_scale[row]);
                }
            }
        }
    }
}

/*
 * The weight's first `rows` rows (a multiple of 64) -> bf16 [rows, in], q * scale: a prompt's matmul
 * then runs on bf16 (AMX where the CPU has it). One pass, where unpacking in torch took six.
 */
int int4_dequantize_bf16(const uint8_t *weight, const float *row_scale, uint16_t *out, int in, int rows, int threads,
                         int variant) {
    if (!(variant & int4_gemv_variants()) || (variant & (variant - 1))) return -1;
#pragma omp parallel for num_threads(threads > 0 ? threads : 1) schedule(static)
    for (int block = 0; block < rows / ROWS; block++) {
#ifdef HAVE_AVX512_VNNI
        if (variant == VARIANT_AVX512_VNNI) {
            dequantize_block(weight, row_scale, out, in, block);
            continue;
        }
#endif
        dequantize_block_plain(weight, row_scale, out, in, block);
    }
    return 0;
}

/*
 * The bf16 output matrix times one fp32 row (a decoding step's logits): y[out] = W[out, in] x[in], fp32.
 *
 * Why: torch's bf16 matrix-vector product runs at the memory's speed where oneDNN has AMX (Intel), but at
 * ~5 GB/s per core on AMD Zen 4 (measured: 204 ms of a 380 ms step at 1 thread, more than all 112 int4
 * linears). Here a bf16 weight becomes fp32 exactly by bit operations: two bf16 in a 32-bit lane are
 * (odd << 16) | even, so `lane << 16` is the even column's float and `lane & 0xFFFF0000` the odd one's;
 * the row x is split into its even and odd columns once. Products and sums are fp32 (torch rounds x and
 * the result to bf16; this does neither). Four rows at a time share each load of x; two accumulators per
 * row keep eight FMA chains going.
 */
#ifdef __AVX512F__
#define BF16_LANES 16 /* 32-bit lanes per register: 32 bf16 weights per load */
typedef __m512 fvec;
typedef __m512i ivec;
#define LOAD_I(p) _mm512_loadu_si512((const void *)(p))
#define LOAD_F(p) _mm512_loadu_ps(p)
#define EVEN(v) _mm512_castsi512_ps(_mm512_slli_epi32(v, 16))
#define ODD(v) _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32((int)0xFFFF0000u)))
#define FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define ZERO() _mm512_setzero_ps()
#define SUM(v) _mm512_reduce_add_ps(v)
#else
#define BF16_LANES 8
typedef __m256 fvec;
typedef __m256i ivec;
#define LOAD_I(p) _mm256_loadu_si256((const __m256i *)(p))
#define LOAD_F(p) _mm256_loadu_ps(p)
#define EVEN(v) _mm256_castsi256_ps(_mm256_slli_epi32(v, 16))
#define ODD(v) _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32((int)0xFFFF0000u)))
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define ZERO() _mm256_setzero_ps()
static inline float SUM(__m256 v) {
    __m128 half = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    half = _mm_add_ps(half, _mm_movehl_ps(half, half));
    return _mm_cvtss_f32(_mm_add_ss(half, _mm_movehdup_ps(half)));
}
#endif

/* Rows [first, first + count) of W (count <= 4) into y; even/odd: x's even and odd columns. */
static inline __attribute__((always_inline)) void bf16_rows(const uint16_t *w, const float *even, const float *odd,
                                                           float *y, int in, int first, const int count) {
    fvec low[4], high[4];
    for (int r = 0; r < count; r++) low[r] = high[r] = ZERO();
    for (int k = 0; k < in; k += 2 * BF16_LANES) {
        const fvec x_even = LOAD_F(even + k / 2), x_odd = LOAD_F(odd + k / 2);
        for (int r = 0; r < count; r++) {
            const ivec v = LOAD_I(w + (size_t)(first + r) * in + k);
            low[r] = FMA(EVEN(v), x_even, low[r]);
            high[r] = FMA(ODD(v), x_odd, high[r]);
        }
    }
    for (int r = 0; r < count; r++) y[first + r] = SUM(low[r]) + SUM(high[r]);
}

/* y[out] = W x with W bf16 [out, in] (in a multiple of 32), x and y fp32; `scratch` holds `in` floats. */
int bf16_gemv(const uint16_t *weight, const float *x, float *y, int in, int out, int threads, float *scratch) {
    if (in % 32 != 0 || out < 0) return -1;
    float *even = scratch, *odd = scratch + in / 2;
    for (int k = 0; k < in / 2; k++) {
        even[k] = x[2 * k];
        odd[k] = x[2 * k + 1];
    }
    const int groups = out / 4;
#pragma omp parallel for num_threads(threads > 0 ? threads : 1) schedule(static)
    for (int group = 0; group < groups; group++) bf16_rows(weight, even, odd, y, in, 4 * group, 4);
    for (int row = 4 * groups; row < out; row++) bf16_rows(weight, even, odd, y, in, row, 1);
    return 0;
}

#else

int bf16_gemv(const uint16_t *weight, const float *x, float *y, int in, int out, int threads, float *scratch) {
    (void)weight; (void)x; (void)y; (void)in; (void)out; (void)threads; (void)scratch;
    return -1;
}

int int4_dequantize_bf16(const uint8_t *weight, const float *row_scale, uint16_t *out, int in, int rows, int threads,
                         int variant) {
    (void)weight; (void)row_scale; (void)out; (void)in; (void)rows; (void)threads; (void)variant;
    return -1;
}

int int4_gemv(const uint8_t *weight, const float *row_scale, const float *bias, const float *x, float *y, int in,
              int out, int threads, void *scratch, int variant, int prefetch) {
    (void)weight; (void)row_scale; (void)bias; (void)x; (void)y; (void)in; (void)out; (void)threads; (void)scratch;
    (void)variant; (void)prefetch;
    return -1;
}

#endif
