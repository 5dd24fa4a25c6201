// philox.cuh: Philox4x32-10, the counter-based random generator of Salmon, Moraes, Dror and Shaw,
// "Parallel random numbers: as easy as 1, 2, 3" (SC'11), as in their Random123 library, written
// as __host__ __device__ functions so that nvcc, NVRTC and a plain host compiler (g++, for
// PhiloxTest) all see the same code. A 128-bit counter (c0..c3) and a 64-bit key (k0, k1) go
// through 10 rounds and come out as four 32-bit words; the same counter and key give the same
// words on any thread, in any order, on any device.
// dev.bptt4j.backend.Philox is its Java twin, line for line; the CPU path and the GPU emulator
// draw through that twin, so a dropout mask is bitwise the same everywhere.
//
// One round, with the multipliers M0 = 0xD2511F53, M1 = 0xCD9E8D57:
//   (hi0, lo0) = mulhilo(M0, c0), (hi1, lo1) = mulhilo(M1, c2),
//   c = {hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0}.
// Between rounds the key is bumped by the Weyl increments k0 += 0x9E3779B9, k1 += 0xBB67AE85;
// the first round uses the key as given (9 bumps in all). Everything is unsigned 32-bit
// arithmetic, which wraps; the high half of the product is __umulhi on the device and a 64-bit
// product on the host. Header only: no kernels, no system headers (NVRTC has none).
#ifndef BPTT4J_PHILOX_CUH
#define BPTT4J_PHILOX_CUH

#ifndef __CUDACC__
// A host compiler (g++): no CUDA qualifiers. nvcc and NVRTC define __CUDACC__ and never see this.
// (bptt4j_math.cuh defines the same two macros the same way; an identical redefinition is legal.)
#define __host__
#define __device__
#endif

namespace bptt4j {

enum { PHILOX_ROUNDS = 10 };
// Round multipliers (Random123's PHILOX_M4x32_0 and _1).
const unsigned int PHILOX_M0 = 0xD2511F53u;
const unsigned int PHILOX_M1 = 0xCD9E8D57u;
// Weyl key increments (Random123's PHILOX_W32_0 and _1: golden ratio and sqrt(3) - 1).
const unsigned int PHILOX_W0 = 0x9E3779B9u;
const unsigned int PHILOX_W1 = 0xBB67AE85u;

// The high 32 bits of the 64-bit product a*b.
__host__ __device__ inline unsigned int philox_mulhi(unsigned int a, unsigned int b) {
#ifdef __CUDA_ARCH__
    return __umulhi(a, b);
#else
    return (unsigned int)(((unsigned long long)a * (unsigned long long)b) >> 32);
#endif
}

// Word `index` (0..3) of philox4x32-10 for counter (c0, c1, c2, c3) and key (k0, k1). Each call
// runs all 10 rounds; to use all four words of one counter, call philox_block. An index other than
// 0, 1, 2 gives word 3 (the Java twin throws instead): pass 0..3.
__host__ __device__ inline unsigned int philox_word(unsigned int c0, unsigned int c1, unsigned int c2,
                                                    unsigned int c3, unsigned int k0, unsigned int k1,
                                                    int index) {
    for (int round = 0; round < PHILOX_ROUNDS; round++) {
        if (round > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        const unsigned int hi0 = philox_mulhi(PHILOX_M0, c0), lo0 = PHILOX_M0 * c0;
        const unsigned int hi1 = philox_mulhi(PHILOX_M1, c2), lo1 = PHILOX_M1 * c2;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    switch (index) {
        case 0: return c0;
        case 1: return c1;
        case 2: return c2;
        default: return c3;
    }
}

// All four words of philox4x32-10 for counter[0..3] and key[0..1], into out[0..3]. out may be
// counter itself.
__host__ __device__ inline void philox_block(const unsigned int* counter, const unsigned int* key,
                                             unsigned int* out) {
    unsigned int c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
    unsigned int k0 = key[0], k1 = key[1];
    for (int round = 0; round < PHILOX_ROUNDS; round++) {
        if (round > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        const unsigned int hi0 = philox_mulhi(PHILOX_M0, c0), lo0 = PHILOX_M0 * c0;
        const unsigned int hi1 = philox_mulhi(PHILOX_M1, c2), lo1 = PHILOX_M1 * c2;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

// A word as a uniform double in [0, 1): w * 2^-32. Both steps are exact in double (w has at most
// 32 significant bits and the scale is a power of two), so no rounding mode or contraction can
// change the bits, and Philox.uniform gives the same. Values: the multiples of 2^-32 from 0 to
// 1 - 2^-32; never 1.
__host__ __device__ inline double philox_uniform(unsigned int w) {
    return (double)w * 0x1p-32;
}

}  // namespace bptt4j

#endif  // BPTT4J_PHILOX_CUH
