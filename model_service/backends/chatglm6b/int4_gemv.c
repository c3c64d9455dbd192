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
 */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define ROWS 64  /* output rows per block */
/* Bytes ahead to prefetch: the hardware prefetcher alone kept 2 cores at ~70 % of the memory's speed;
   4 KiB ahead reached 85-95 % (bench figures in docs/PERFORMANCE.md; 2 and 8 KiB were slower). */
#define PREFETCH 4096
#define QBLOCK 32 /* activation values per int8 scale */

int int4_gemv_available(void) {
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
    return 1;
#else
    return 0;
#endif
}

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)

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

/* Output rows [64 * block, 64 * block + 64) into y. */
static void run_block(const uint8_t *weight, const float *row_scale, const float *bias, const int8_t *x,
                      const float *x_scale, const int32_t *x_sum, float *y, int in, int block) {
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
                _mm_prefetch((const char *)p + PREFETCH, _MM_HINT_T0);
                low[t] = _mm512_dpbusd_epi32(low[t], _mm512_and_si512(v, nibble), x_first);
                high[t] = _mm512_dpbusd_epi32(high[t], _mm512_and_si512(_mm512_srli_epi16(v, 4), nibble), x_second);
            }
        }
        const __m512i offset = _mm512_set1_epi32(8 * x_sum[b]);
        const __m512 scale = _mm512_set1_ps(x_scale[b]);
        for (int t = 0; t < 4; t++) {
            const __m512i dot = _mm512_sub_epi32(_mm512_add_epi32(low[t], high[t]), offset);
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

/*
 * y[out] = weight (packed as above) times x[in], per-row scales and an optional bias, all float32.
 * `scratch` holds in + in/QBLOCK*8 bytes. in % 32 == 0 and out % 64 == 0. Returns 0 (-1 from a build
 * for a CPU without VNNI). The threads are OpenMP's: the library links the libgomp torch has loaded,
 * so they are torch's own pool rather than a second set competing with it for the cores.
 */
int int4_gemv(const uint8_t *weight, const float *row_scale, const float *bias, const float *x, float *y, int in,
              int out, int threads, void *scratch) {
    int8_t *values = (int8_t *)scratch;
    float *scales = (float *)(values + in);
    int32_t *sums = (int32_t *)(scales + in / QBLOCK);
    quantize_row(x, in, values, scales, sums);
    const int blocks = out / ROWS;
#pragma omp parallel for num_threads(threads > 0 ? threads : 1) schedule(static)
    for (int block = 0; block < blocks; block++) {
        run_block(weight, row_scale, bias, values, scales, sums, y, in, block);
    }
    return 0;
}

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

/*
 * The weight's first `rows` rows (a multiple of 64) -> bf16 [rows, in], q * scale: a prompt's matmul
 * then runs on bf16 (AMX where the CPU has it). One pass, where unpacking in torch took six.
 */
int int4_dequantize_bf16(const uint8_t *weight, const float *row_scale, uint16_t *out, int in, int rows,
                         int threads) {
#pragma omp parallel for num_threads(threads > 0 ? threads : 1) schedule(static)
    for (int block = 0; block < rows / ROWS; block++) {
        dequantize_block(weight, row_scale, out, in, block);
    }
    return 0;
}

#else

int int4_dequantize_bf16(const uint8_t *weight, const float *row_scale, uint16_t *out, int in, int rows,
                         int threads) {
    (void)weight; (void)row_scale; (void)out; (void)in; (void)rows; (void)threads;
    return -1;
}

int int4_gemv(const uint8_t *weight, const float *row_scale, const float *bias, const float *x, float *y, int in,
              int out, int threads, void *scratch) {
    (void)weight; (void)row_scale; (void)bias; (void)x; (void)y; (void)in; (void)out; (void)threads; (void)scratch;
    return -1;
}

#endif
