// SHA-256 as specified in FIPS 180-4, with two block functions: the x86 SHA extensions
// (SHA256RNDS2, SHA256MSG1, SHA256MSG2) and portable C. The padding and the byte order are shared.

#include "CCubbySHA256.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define CUBBY_SHA256_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

// FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64 primes.
static const uint32_t round_constants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

// FIPS 180-4 §5.3.3: the initial hash value.
static const uint32_t initial_state[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

typedef void (*block_function)(uint32_t state[8], const uint8_t *blocks, size_t count);

// MARK: - Portable C

static inline uint32_t rotate_right(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

static inline uint32_t load_big_endian(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void blocks_portable(uint32_t state[8], const uint8_t *blocks, size_t count) {
    uint32_t w[64];
    for (; count > 0; count--, blocks += 64) {
        for (int t = 0; t < 16; t++) w[t] = load_big_endian(blocks + 4 * t);
        for (int t = 16; t < 64; t++) {
            uint32_t s0 = rotate_right(w[t - 15], 7) ^ rotate_right(w[t - 15], 18) ^ (w[t - 15] >> 3);
            uint32_t s1 = rotate_right(w[t - 2], 17) ^ rotate_right(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
        for (int t = 0; t < 64; t++) {
            uint32_t sum1 = rotate_right(e, 6) ^ rotate_right(e, 11) ^ rotate_right(e, 25);
            uint32_t choose = (e & f) ^ (~e & g);
            uint32_t t1 = h + sum1 + choose + round_constants[t] + w[t];
            uint32_t sum0 = rotate_right(a, 2) ^ rotate_right(a, 13) ^ rotate_right(a, 22);
            uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
            uint32_t t2 = sum0 + majority;
            h = g; g = f; f = e; e = d + t1;
            d = c; c = b; b = a; a = t1 + t2;
        }
        state[0] += a; state[1] += b; state[2] += c; state[3] += d;
        state[4] += e; state[5] += f; state[6] += g; state[7] += h;
    }
}

// MARK: - x86 SHA extensions

#ifdef CUBBY_SHA256_X86

// The instructions keep the working variables in two registers, (A, B, E, F) and (C, D, G, H), each
// listed from the highest lane down; SHA256RNDS2 runs two rounds with the two message-plus-constant
// words in the low lanes of its third operand.
__attribute__((target("sha,sse4.1,ssse3")))
static void blocks_sha_extensions(uint32_t state[8], const uint8_t *blocks, size_t count) {
    // Reverses the bytes of each 32-bit lane: the message words are big-endian.
    const __m128i byte_swap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);

    __m128i low = _mm_loadu_si128((const __m128i *)&state[0]);   // lanes high→low: D C B A
    __m128i high = _mm_loadu_si128((const __m128i *)&state[4]);  // lanes high→low: H G F E
    low = _mm_shuffle_epi32(low, 0xB1);                          // C D A B
    high = _mm_shuffle_epi32(high, 0x1B);                        // E F G H
    __m128i abef = _mm_alignr_epi8(low, high, 8);                // A B E F
    __m128i cdgh = _mm_blend_epi16(high, low, 0xF0);             // C D G H

    for (; count > 0; count--, blocks += 64) {
        const __m128i abef_before = abef, cdgh_before = cdgh;
        __m128i w[4];  // the last four groups of four schedule words, group i at w[i % 4]
        for (int group = 0; group < 16; group++) {
            __m128i words;
            if (group < 4) {
                words = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(blocks + 16 * group)), byte_swap);
            } else {
                // W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], four at a time.
                __m128i oldest = w[group % 4], older = w[(group + 1) % 4];
                __m128i previous2 = w[(group + 2) % 4], previous = w[(group + 3) % 4];
                words = _mm_sha256msg1_epu32(oldest, older);                          // W[t-16] + σ0(W[t-15])
                words = _mm_add_epi32(words, _mm_alignr_epi8(previous, previous2, 4)); // + W[t-7]
                words = _mm_sha256msg2_epu32(words, previous);                        // + σ1(W[t-2])
            }
            w[group % 4] = words;
            __m128i input = _mm_add_epi32(words, _mm_loadu_si128((const __m128i *)&round_constants[4 * group]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, input);
            input = _mm_shuffle_epi32(input, 0x0E);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, input);
        }
        abef = _mm_add_epi32(abef, abef_before);
        cdgh = _mm_add_epi32(cdgh, cdgh_before);
    }

    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);     // F E B A
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);     // D C H G
    low = _mm_blend_epi16(feba, dchg, 0xF0);          // D C B A
    high = _mm_alignr_epi8(dchg, feba, 8);            // H G F E
    _mm_storeu_si128((__m128i *)&state[0], low);
    _mm_storeu_si128((__m128i *)&state[4], high);
}

static int processor_has_sha_extensions(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    const int ssse3 = (ecx >> 9) & 1, sse41 = (ecx >> 19) & 1;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    const int sha = (ebx >> 29) & 1;
    return ssse3 && sse41 && sha;
}

#endif

// 0 = not yet known, 1 = portable, 2 = SHA extensions. Every thread computes the same answer, so a race
// only repeats the CPUID query.
static int chosen_path;

static block_function block_function_for_this_processor(void) {
    int path = __atomic_load_n(&chosen_path, __ATOMIC_RELAXED);
    if (path == 0) {
#ifdef CUBBY_SHA256_X86
        path = processor_has_sha_extensions() ? 2 : 1;
#else
        path = 1;
#endif
        __atomic_store_n(&chosen_path, path, __ATOMIC_RELAXED);
    }
#ifdef CUBBY_SHA256_X86
    if (path == 2) return blocks_sha_extensions;
#endif
    return blocks_portable;
}

// MARK: - Streaming, padding and output (FIPS 180-4 §5.1.1, §6.2.2)

typedef struct {
    block_function run_blocks;
    uint32_t state[8];
    uint8_t buffer[64];
    size_t filled;
    uint64_t length;
} hashing;

static void hashing_update(hashing *h, const uint8_t *data, size_t length) {
    if (length == 0) return;
    h->length += length;
    if (h->filled > 0) {
        size_t take = 64 - h->filled;
        if (take > length) take = length;
        memcpy(h->buffer + h->filled, data, take);
        h->filled += take;
        data += take;
        length -= take;
        if (h->filled < 64) return;
        h->run_blocks(h->state, h->buffer, 1);
        h->filled = 0;
    }
    const size_t whole = length / 64;
    if (whole > 0) {
        h->run_blocks(h->state, data, whole);
        data += whole * 64;
        length -= whole * 64;
    }
    if (length > 0) {
        memcpy(h->buffer, data, length);
        h->filled = length;
    }
}

static void sha256_with(block_function run_blocks, const uint8_t *prefix, size_t prefix_length,
                        const uint8_t *data, size_t length, uint8_t out[32]) {
    hashing h = {.run_blocks = run_blocks, .filled = 0, .length = 0};
    memcpy(h.state, initial_state, sizeof h.state);
    hashing_update(&h, prefix, prefix_length);
    hashing_update(&h, data, length);

    // 0x80, zeros, then the length in bits as a 64-bit big-endian number, ending on a block boundary.
    uint8_t tail[128];
    const size_t filled = h.filled;
    if (filled > 0) memcpy(tail, h.buffer, filled);
    tail[filled] = 0x80;
    const size_t padded = filled + 1 <= 56 ? 64 : 128;
    memset(tail + filled + 1, 0, padded - 8 - (filled + 1));
    const uint64_t bits = h.length * 8;
    for (int i = 0; i < 8; i++) tail[padded - 1 - i] = (uint8_t)(bits >> (8 * i));
    run_blocks(h.state, tail, padded / 64);

    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(h.state[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h.state[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h.state[i] >> 8);
        out[4 * i + 3] = (uint8_t)h.state[i];
    }
}

void cubby_sha256_prefixed(const uint8_t *prefix, size_t prefix_length,
                           const uint8_t *data, size_t length, uint8_t out[32]) {
    sha256_with(block_function_for_this_processor(), prefix, prefix_length, data, length, out);
}

void cubby_sha256_prefixed_portable(const uint8_t *prefix, size_t prefix_length,
                                    const uint8_t *data, size_t length, uint8_t out[32]) {
    sha256_with(blocks_portable, prefix, prefix_length, data, length, out);
}

int cubby_sha256_accelerated(void) {
    return block_function_for_this_processor() != blocks_portable;
}
