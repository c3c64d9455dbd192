/*
 * A prompt's activation rows times a quantized weight with int8 activations and AVX-512 VNNI: what
 * llama.cpp and chatglm.cpp do for prompts, where a float matmul is bound by compute.
 *
 * Why: a prompt multiplies hundreds of rows by each weight, so the arithmetic sets its speed, not the
 * memory. vpdpbusd multiplies 64 byte pairs into int32 sums per instruction, where a bf16 dot product
 * instruction does 32 pairs; and the int4/int8 weights are used as they are, never widened to bf16.
 *
 * Activations: each row is rounded to int8 in blocks of KBLOCK values, one float scale per block
 * (its largest |value| / 127), as int4_gemv.c does with blocks of 32; the int32 sums of a block are
 * turned into floats and scaled once per block, so a large activation coarsens only its own block.
 *
 * Weights, either of:
 * - int4 in int4_gemv.c's layout (quantization.py, `pack_int4_vnni`): blocks of 64 output rows; in each,
 *   for every 8 input columns, four 64-byte chunks (16-row tiles), byte 4r+j = row r's column 8c+j in the
 *   low nibble and 8c+4+j in the high nibble, stored as q + 8;
 * - int8 in the checkpoint's own layout, [out, in] signed, used in place (the file's mapped pages).
 * For each block of 64 output rows and KCHUNK input columns, the weights are first unpacked into a
 * per-thread buffer of unsigned bytes in vpdpbusd's lane order (16 rows x 4 columns per 64 bytes: int4
 * as q + 8, int8 as q + 128); every prompt row then reuses that buffer from the cache, so each weight is
 * read from memory once per call and unpacked once per call, however many rows the prompt has.
 *
 * y[t, o] = scale[o] * sum_b xs[t, b] * (sum_k u[o, k] x8[t, k] - offset * sum_k x8[t, k]) + bias[o],
 * u = q + offset (offset 8 for int4, 128 for int8; vpdpbusd multiplies unsigned by signed bytes): exact
 * int32 sums per block (they start at -offset * sum_k x8), then float steps. A row's numbers do not
 * depend on the other rows or the thread count.
 *
 * Where the CPU has AMX (Intel Sapphire Rapids and later) and Linux lets the process use its tiles,
 * int8_prefill_amx does the same with tdpbsud: 16 prompt rows x 64 columns of int8 activations (the A
 * tile, read in place from the rounded rows) times 64 columns x 16 output rows of the unpacked weights (the
 * B tile, the same buffer in the same lane order), 16 x 16 int32 sums per instruction. The sums of a block
 * are the same integers, turned into floats in the same order, so its outputs equal the VNNI kernel's bit
 * for bit; only the speed differs (the tiles multiply 16 times as many pairs per instruction).
 */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ROWS 64      /* output rows per block: four 16-row tiles, as int4_gemv.c's layout */
#ifndef KBLOCK
#define KBLOCK 128   /* activation values per int8 scale */
#endif
#ifndef KCHUNK
#define KCHUNK 2048  /* input columns unpacked at a time: 64 x 2048 bytes = 128 KiB, held in L2 */
#endif
#define TOKENS 6     /* prompt rows per register tile: 6 x 4 int32 accumulators of 16 lanes */

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && defined(__AVX512VNNI__)
#define HAVE_VNNI 1
#if defined(__AMX_TILE__) && defined(__AMX_INT8__)
#define HAVE_AMX 1
#include <sys/syscall.h>
#include <unistd.h>
#endif
#endif
#ifndef AMX_GROUP
#define AMX_GROUP 4  /* blocks of 64 output rows per pass of AMX over the rows: 4 x 128 KiB of weights in L2 */
#endif
#define TILE_ROWS 16 /* prompt rows per AMX tile; the rounded rows are padded with zeros to a multiple */

/* 1 where this build (compiled with -march=native for this CPU) can run the kernel, else 0. */
int int8_prefill_available(void) {
#ifdef HAVE_VNNI
    return 1;
#else
    return 0;
#endif
}

static int blocks_per_row(int in) { return (in + KBLOCK - 1) / KBLOCK; }

static int padded_rows(int m) { return (m + TILE_ROWS - 1) / TILE_ROWS * TILE_ROWS; }

/* Bytes of scratch a call needs: the int8 rows (padded for AMX's tiles), then a float scale and an int32
   sum per block. */
long long int8_prefill_scratch_bytes(int m, int in) {
    return (long long)padded_rows(m) * in + (long long)m * blocks_per_row(in) * 8;
}

#ifdef HAVE_VNNI

/* Below this a block's largest value counts as zero (127 / top would overflow). */
#define TINY 1e-30f

/*
 * One block of `len` floats (a multiple of 16) -> int8 values, its scale and the sum of its values.
 * A block holding NaN or an infinity gets a NaN scale, so the outputs it feeds are NaN, as a float
 * matmul would make them, rather than a finite number hiding the blow-up.
 */
static void quantize_block(const float *x, int len, int8_t *values, float *scale, int32_t *sum) {
    __m512 top = _mm512_setzero_ps();
    __mmask16 bad = 0;
    for (int i = 0; i < len; i += 16) {
        const __m512 v = _mm512_loadu_ps(x + i);
        bad |= _mm512_fpclass_ps_mask(v, 0x01 | 0x08 | 0x10 | 0x80); /* QNaN, +inf, -inf, SNaN */
        top = _mm512_max_ps(top, _mm512_abs_ps(v));
    }
    const float largest = _mm512_reduce_max_ps(top);
    if (bad || largest < TINY) {
        memset(values, 0, (size_t)len);
        *scale = bad ? NAN : 0.0f;
        *sum = 0;
        return;
    }
    const __m512 inverse = _mm512_set1_ps(127.0f / largest);
    __m512i total = _mm512_setzero_si512();
    for (int i = 0; i < len; i += 16) {
        /* cvtps rounds to nearest even, as lrintf does in int4_gemv.c */
        const __m512i rounded = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + i), inverse));
        total = _mm512_add_epi32(total, rounded);
        _mm_storeu_si128((__m128i *)(values + i), _mm512_cvtepi32_epi8(rounded));
    }
    *scale = largest / 127.0f;
    *sum = _mm512_reduce_add_epi32(total);
}

/* Input columns [k0, k0 + kc) of int4 block `block` -> buf: per 4 columns, four 64-byte tiles of q + 8. */
static void unpack_int4(const uint8_t *weight, int in, int block, int k0, int kc, uint8_t *buf) {
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    const uint8_t *p = weight + (size_t)block * ROWS * (in / 2) + (size_t)(k0 / 8) * 4 * 64;
    for (int c = 0; c < kc / 8; c++) {
        uint8_t *low = buf + (size_t)(2 * c) * 256, *high = low + 256;
        for (int t = 0; t < 4; t++, p += 64) {
            const __m512i v = _mm512_loadu_si512((const void *)p);
            _mm512_storeu_si512((void *)(low + 64 * t), _mm512_and_si512(v, nibble));
            _mm512_storeu_si512((void *)(high + 64 * t), _mm512_and_si512(_mm512_srli_epi16(v, 4), nibble));
        }
    }
}

/* The same from int8 rows [out, in]: 16 rows' 4 bytes gathered per 64-byte tile, q + 128 (= q ^ 0x80). */
static void unpack_int8(const int8_t *weight, int in, int block, int k0, int kc, uint8_t *buf) {
    const __m512i stride = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                              _mm512_set1_epi32(in / 4));
    const __m512i flip = _mm512_set1_epi32((int)0x80808080u);
    for (int j = 0; j < kc / 4; j++) {
        for (int t = 0; t < 4; t++) {
            const int8_t *base = weight + (size_t)(block * ROWS + 16 * t) * in + k0 + 4 * j;
            const __m512i rows = _mm512_i32gather_epi32(stride, (const void *)base, 4);
            _mm512_storeu_si512((void *)(buf + (size_t)(4 * j + t) * 64), _mm512_xor_si512(rows, flip));
        }
    }
}

/*
 * acc_t += u8 weights w_t times the four int8 activations at `four`, broadcast (vpdpbusd's memory form).
 * Written in asm: GCC 12 keeps intrinsic vpdpbusd accumulators on the stack once two dozen are live.
 */
static inline __attribute__((always_inline)) void dpbusd4(__m512i *a0, __m512i *a1, __m512i *a2, __m512i *a3,
                                                          __m512i w0, __m512i w1, __m512i w2, __m512i w3,
                                                          const int32_t *four) {
    __asm__("vpdpbusd %[x]%{1to16%}, %[w0], %[a0]\n\t"
            "vpdpbusd %[x]%{1to16%}, %[w1], %[a1]\n\t"
            "vpdpbusd %[x]%{1to16%}, %[w2], %[a2]\n\t"
            "vpdpbusd %[x]%{1to16%}, %[w3], %[a3]"
            : [a0] "+v"(*a0), [a1] "+v"(*a1), [a2] "+v"(*a2), [a3] "+v"(*a3)
            : [w0] "v"(w0), [w1] "v"(w1), [w2] "v"(w2), [w3] "v"(w3), [x] "m"(*four));
}

/* y[0..16) += sums * scale: one block's exact int32 sums into the float outputs. */
static inline __attribute__((always_inline)) void add_scaled(float *y, __m512i sums, __m512 scale) {
    _mm512_storeu_ps(y, _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), scale, _mm512_loadu_ps(y)));
}

/*
 * Rows [0, T) of x8 (row stride `in`) times the unpacked columns [k0, k0 + kc) of one 64-row block,
 * added into y (row stride `out`, the block's first column `column`). T is a constant at each call, so
 * the T x 4 accumulators live in registers.
 */
static inline __attribute__((always_inline)) void tile(const uint8_t *buf, const int8_t *x8, const float *xs,
                                                       const int32_t *xsum, float *y, int in, int out, int column,
                                                       int k0, int kc, int offset, const int T) {
    const int blocks = blocks_per_row(in);
    for (int kb = k0; kb < k0 + kc; kb += KBLOCK) {
        const int len = kb + KBLOCK <= k0 + kc ? KBLOCK : k0 + kc - kb;
        const int b = kb / KBLOCK;
        /* Named accumulators (an array of vectors would live on the stack): row r's are a<r>_0..3. Each
           starts at -offset * (the block's sum of x8), so what it ends at is the dot product with q itself. */
#define START(r)                                                                                                       \
    __m512i a##r##_0 = _mm512_set1_epi32(T > r ? -offset * xsum[r * blocks + b] : 0);                                  \
    __m512i a##r##_1 = a##r##_0, a##r##_2 = a##r##_0, a##r##_3 = a##r##_0;
        START(0) START(1) START(2) START(3) START(4) START(5)
#undef START
        const uint8_t *w = buf + (size_t)(kb - k0) * 64;
        const int8_t *xr = x8 + kb;
        for (int j = 0; j < len / 4; j++, w += 256, xr += 4) {
            const __m512i w0 = _mm512_loadu_si512((const void *)w);
            const __m512i w1 = _mm512_loadu_si512((const void *)(w + 64));
            const __m512i w2 = _mm512_loadu_si512((const void *)(w + 128));
            const __m512i w3 = _mm512_loadu_si512((const void *)(w + 192));
#define DOT(r)                                                                                                         \
    if (T > r) {                                                                                                       \
        const int32_t *four = (const int32_t *)(xr + (size_t)r * in);                                                  \
        dpbusd4(&a##r##_0, &a##r##_1, &a##r##_2, &a##r##_3, w0, w1, w2, w3, four);                                     \
    }
            DOT(0) DOT(1) DOT(2) DOT(3) DOT(4) DOT(5)
#undef DOT
        }
#define FLUSH(r)                                                                                                       \
    if (T > r) {                                                                                                       \
        const __m512 scale = _mm512_set1_ps(xs[r * blocks + b]);                                                       \
        float *yr = y + (size_t)r * out + column;                                                                      \
        add_scaled(yr, a##r##_0, scale);                                                                               \
        add_scaled(yr + 16, a##r##_1, scale);                                                                          \
        add_scaled(yr + 32, a##r##_2, scale);                                                                          \
        add_scaled(yr + 48, a##r##_3, scale);                                                                          \
    }
        FLUSH(0) FLUSH(1) FLUSH(2) FLUSH(3) FLUSH(4) FLUSH(5)
#undef FLUSH
    }
}

/* All m rows against one unpacked chunk, TOKENS rows at a time, then the rest. */
static void rows_times_chunk(const uint8_t *buf, const int8_t *x8, const float *xs, const int32_t *xsum, float *y,
                             int m, int in, int out, int column, int k0, int kc, int offset) {
    const int blocks = blocks_per_row(in);
    int r = 0;
    for (; r + TOKENS <= m; r += TOKENS) {
        tile(buf, x8 + (size_t)r * in, xs + (size_t)r * blocks, xsum + (size_t)r * blocks, y + (size_t)r * out, in,
             out, column, k0, kc, offset, TOKENS);
    }
    const int8_t *xr = x8 + (size_t)r * in;
    const float *sr = xs + (size_t)r * blocks;
    const int32_t *ur = xsum + (size_t)r * blocks;
    float *yr = y + (size_t)r * out;
    switch (m - r) {
    case 5: tile(buf, xr, sr, ur, yr, in, out, column, k0, kc, offset, 5); break;
    case 4: tile(buf, xr, sr, ur, yr, in, out, column, k0, kc, offset, 4); break;
    case 3: tile(buf, xr, sr, ur, yr, in, out, column, k0, kc, offset, 3); break;
    case 2: tile(buf, xr, sr, ur, yr, in, out, column, k0, kc, offset, 2); break;
    case 1: tile(buf, xr, sr, ur, yr, in, out, column, k0, kc, offset, 1); break;
    default: break;
    }
}

#ifdef HAVE_AMX

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

/* Tile numbers: C0..C3 the sums of 16 rows x 4 x 16 outputs; A the rows' 64 columns, B the weights' 64 columns
   for 16 outputs; A_HALF and B_HALF the same for a last step of 32 columns (an input length of 32 mod 64). */
#define C0 0
#define C1 1
#define C2 2
#define C3 3
#define A 4
#define B 5
#define A_HALF 6
#define B_HALF 7
/* GCC's tile intrinsics paste their argument into the instruction unexpanded: these expand it first. */
#define TILE_ZERO(t) _tile_zero(t)
#define TILE_LOAD(t, at, stride) _tile_loadd(t, at, stride)
#define TILE_STORE(t, at, stride) _tile_stored(t, at, stride)
#define TILE_DPBSUD(c, a, b) _tile_dpbsud(c, a, b)

struct tile_config {
    uint8_t palette;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t bytes_per_row[16];
    uint8_t rows[16];
} __attribute__((packed));

static void configure_tiles(void) {
    struct tile_config config;
    memset(&config, 0, sizeof config);
    config.palette = 1;
    for (int t = C0; t <= C3; t++) config.bytes_per_row[t] = 64, config.rows[t] = 16;
    config.bytes_per_row[A] = 64, config.rows[A] = TILE_ROWS;
    config.bytes_per_row[B] = 64, config.rows[B] = 16;
    config.bytes_per_row[A_HALF] = 32, config.rows[A_HALF] = TILE_ROWS;
    config.bytes_per_row[B_HALF] = 64, config.rows[B_HALF] = 8;
    _tile_loadconfig(&config);
}

/* 1 where this build has the AMX kernel and Linux grants this process the tiles' state (asked once). */
int int8_prefill_amx_available(void) {
    static int granted = -1;
    if (granted < 0) granted = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
    return granted;
}

/*
 * All m rows (padded to 16) against one unpacked chunk of `group` blocks of 64 output rows (their buffers
 * ROWS * KCHUNK bytes apart, the first block's outputs at `column`): per 16 rows and block of KBLOCK columns,
 * for each block the four 16 x 16 tiles of int32 sums, then each row's sums less offset * its block sum,
 * scaled into y in block order. The rows' 16 x KBLOCK bytes are read from memory once for the whole group
 * (then from the cache), where one block at a time read all of a prompt's rounded rows again per 64 outputs.
 * A buffer holds, per 4 columns, four 64-byte groups (16 outputs x 4 bytes): a B tile's rows are 256 bytes apart.
 */
static void amx_rows_times_chunk(const uint8_t *buf, int group, const int8_t *x8, const float *xs,
                                 const int32_t *xsum, float *y, int m, int in, int out, int column, int k0, int kc,
                                 int offset) {
    const int blocks = blocks_per_row(in);
    int32_t sums[TILE_ROWS * ROWS] __attribute__((aligned(64)));
    for (int r0 = 0; r0 < m; r0 += TILE_ROWS) {
        const int8_t *rows = x8 + (size_t)r0 * in;
        const int count = m - r0 < TILE_ROWS ? m - r0 : TILE_ROWS;
        for (int kb = k0; kb < k0 + kc; kb += KBLOCK) {
            const int len = kb + KBLOCK <= k0 + kc ? KBLOCK : k0 + kc - kb;
            const int b = kb / KBLOCK;
            for (int g = 0; g < group; g++) {
                const uint8_t *w = buf + (size_t)g * ROWS * KCHUNK + (size_t)(kb - k0) * 64;
                TILE_ZERO(C0);
                TILE_ZERO(C1);
                TILE_ZERO(C2);
                TILE_ZERO(C3);
/* One step of columns: the rows' tile `a` times each 16-output group's tile `b`, into C0..C3. */
#define STEP(a, b)                                                                                                     \
    do {                                                                                                               \
        TILE_LOAD(a, rows + kb + k, in);                                                                               \
        TILE_LOAD(b, w, 256);                                                                                          \
        TILE_DPBSUD(C0, a, b);                                                                                         \
        TILE_LOAD(b, w + 64, 256);                                                                                     \
        TILE_DPBSUD(C1, a, b);                                                                                         \
        TILE_LOAD(b, w + 128, 256);                                                                                    \
        TILE_DPBSUD(C2, a, b);                                                                                         \
        TILE_LOAD(b, w + 192, 256);                                                                                    \
        TILE_DPBSUD(C3, a, b);                                                                                         \
    } while (0)
                int k = 0;
                for (; k + 64 <= len; k += 64, w += 16 * 256) STEP(A, B);
                if (k < len) STEP(A_HALF, B_HALF); /* 32 columns left */
#undef STEP
                TILE_STORE(C0, sums, ROWS * 4);
                TILE_STORE(C1, sums + 16, ROWS * 4);
                TILE_STORE(C2, sums + 32, ROWS * 4);
                TILE_STORE(C3, sums + 48, ROWS * 4);
                for (int r = 0; r < count; r++) {
                    const int row = r0 + r;
                    const __m512i start = _mm512_set1_epi32(-offset * xsum[(size_t)row * blocks + b]);
                    const __m512 scale = _mm512_set1_ps(xs[(size_t)row * blocks + b]);
                    float *yr = y + (size_t)row * out + column + g * ROWS;
                    for (int t = 0; t < 4; t++) {
                        const __m512i own = _mm512_load_si512((const void *)(sums + r * ROWS + 16 * t));
                        add_scaled(yr + 16 * t, _mm512_add_epi32(start, own), scale);
                    }
                }
            }
        }
    }
}

#endif

#endif

#ifdef HAVE_VNNI

typedef void (*rows_kernel)(const uint8_t *buf, int group, const int8_t *x8, const float *xs, const int32_t *xsum,
                            float *y, int m, int in, int out, int column, int k0, int kc, int offset);

/* The VNNI form one block at a time (its weights stay in registers across a tile of 6 rows). */
static void vnni_rows_times_chunk(const uint8_t *buf, int group, const int8_t *x8, const float *xs,
                                  const int32_t *xsum, float *y, int m, int in, int out, int column, int k0, int kc,
                                  int offset) {
    for (int g = 0; g < group; g++) {
        rows_times_chunk(buf + (size_t)g * ROWS * KCHUNK, x8, xs, xsum, y, m, in, out, column + g * ROWS, k0, kc,
                         offset);
    }
}

/*
 * The body both entry points share: round the rows to int8, then per block of 64 output rows and chunk of
 * input columns unpack the weights and let `kernel` multiply every row by them; scales and bias last.
 * `amx`: each thread loads the tile configuration first and releases its tiles at the end.
 */
static int prefill(const void *weight, int bits, const float *row_scale, const float *bias, const float *x, float *y,
                   int m, int in, int out, int threads, void *scratch, rows_kernel kernel, int amx, int group) {
    const int blocks = blocks_per_row(in);
    const int padded = padded_rows(m);
    int8_t *x8 = (int8_t *)scratch;
    float *xs = (float *)(x8 + (size_t)padded * in);
    int32_t *xsum = (int32_t *)(xs + (size_t)m * blocks);
    memset(x8 + (size_t)m * in, 0, (size_t)(padded - m) * in);
    const int team = threads > 0 ? threads : 1;
    int unallocated = 0; /* a thread got no buffer: its share of the output is left undone, the call fails */
#pragma omp parallel num_threads(team)
    {
#pragma omp for schedule(static)
        for (int r = 0; r < m; r++) {
            for (int b = 0; b < blocks; b++) {
                const int len = (b + 1) * KBLOCK <= in ? KBLOCK : in - b * KBLOCK;
                const size_t at = (size_t)r * in + (size_t)b * KBLOCK;
                quantize_block(x + at, len, x8 + at, xs + (size_t)r * blocks + b, xsum + (size_t)r * blocks + b);
            }
        }
        uint8_t *buf = aligned_alloc(64, (size_t)group * ROWS * KCHUNK);
        if (!buf) {
#pragma omp atomic write
            unallocated = 1;
        }
        const int offset = bits == 4 ? 8 : 128;
#ifdef HAVE_AMX
        if (amx) configure_tiles();
#else
        (void)amx;
#endif
        const int groups = (out / ROWS + group - 1) / group;
#pragma omp for schedule(static)
        for (int index = 0; index < groups; index++) {
            if (!buf) continue; /* every thread still meets the loop; this one has nowhere to unpack */
            const int first = index * group;
            const int count = out / ROWS - first < group ? out / ROWS - first : group;
            const int column = first * ROWS;
            for (int r = 0; r < m; r++) memset(y + (size_t)r * out + column, 0, (size_t)count * ROWS * sizeof(float));
            for (int k0 = 0; k0 < in; k0 += KCHUNK) {
                const int kc = k0 + KCHUNK <= in ? KCHUNK : in - k0;
                for (int g = 0; g < count; g++) {
                    uint8_t *own = buf + (size_t)g * ROWS * KCHUNK;
                    if (bits == 4) {
                        unpack_int4((const uint8_t *)weight, in, first + g, k0, kc, own);
                    } else {
                        unpack_int8((const int8_t *)weight, in, first + g, k0, kc, own);
                    }
                }
                kernel(buf, count, x8, xs, xsum, y, m, in, out, column, k0, kc, offset);
            }
            for (int r = 0; r < m; r++) {
                float *yr = y + (size_t)r * out + column;
                for (int t = 0; t < 4 * count; t++) {
                    __m512 v = _mm512_mul_ps(_mm512_loadu_ps(yr + 16 * t), _mm512_loadu_ps(row_scale + column + 16 * t));
                    if (bias) v = _mm512_add_ps(v, _mm512_loadu_ps(bias + column + 16 * t));
                    _mm512_storeu_ps(yr + 16 * t, v);
                }
            }
        }
#ifdef HAVE_AMX
        if (amx) _tile_release();
#endif
        free(buf);
    }
    return unallocated ? -2 : 0;
}

#endif

#ifndef HAVE_AMX
int int8_prefill_amx_available(void) { return 0; }
#endif

/* Both entry points: check the arguments, then run the VNNI form or (amx) the AMX form. */
static int run(const void *weight, int bits, const float *row_scale, const float *bias, const float *x, float *y,
               int m, int in, int out, int threads, void *scratch, int amx) {
#ifdef HAVE_VNNI
    if ((bits != 4 && bits != 8) || in % 32 != 0 || out % ROWS != 0 || m < 0) return -1;
    if (amx && !int8_prefill_amx_available()) return -1;
    if (m == 0) return 0;
#ifdef HAVE_AMX
    if (amx) {
        return prefill(weight, bits, row_scale, bias, x, y, m, in, out, threads, scratch, amx_rows_times_chunk, 1,
                       AMX_GROUP);
    }
#endif
    return prefill(weight, bits, row_scale, bias, x, y, m, in, out, threads, scratch, vnni_rows_times_chunk, 0, 1);
#else
    (void)weight; (void)bits; (void)row_scale; (void)bias; (void)x; (void)y; (void)m; (void)in; (void)out;
    (void)threads; (void)scratch; (void)amx;
    return -1;
#endif
}

/*
 * y[m, out] = x[m, in] times the weight (bits 4: int4_gemv.c's layout; bits 8: int8 [out, in]), per-row
 * scales and an optional bias, all float32. in % 32 == 0, out % 64 == 0; `scratch` holds
 * int8_prefill_scratch_bytes(m, in). The threads are OpenMP's (torch's own pool, as in int4_gemv.c).
 * Returns 0; -1 where this build cannot run it or the arguments do not fit; -2 where a thread could not
 * allocate its unpacking buffer (the output is incomplete).
 */
int int8_prefill(const void *weight, int bits, const float *row_scale, const float *bias, const float *x, float *y,
                 int m, int in, int out, int threads, void *scratch) {
    return run(weight, bits, row_scale, bias, x, y, m, in, out, threads, scratch, 0);
}

/* The same on AMX's tiles (equal outputs); -1 where int8_prefill_amx_available() is 0. */
int int8_prefill_amx(const void *weight, int bits, const float *row_scale, const float *bias, const float *x, float *y,
                     int m, int in, int out, int threads, void *scratch) {
    return run(weight, bits, row_scale, bias, x, y, m, in, out, threads, scratch, 1);
}
