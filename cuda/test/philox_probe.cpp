// philox_probe.cpp: philox.cuh compiled for the host, so the Java twin (dev.bptt4j.backend.Philox)
// can be held against the header's own code without a GPU. PhiloxTest compiles this with g++ (or
// clang++, or nvcc) and runs it.
//
// First it prints the three Random123 known-answer inputs, one line each:
//   kat C0 C1 C2 C3 K0 K1 W0 W1 W2 W3
// (hex; W = philox_block's words). Then it reads lines "C0 C1 C2 C3 K0 K1" (hex) from stdin and
// prints, for each,
//   C0 C1 C2 C3 K0 K1 W0 W1 W2 W3 V0 V1 V2 V3 U0 U1 U2 U3
// where W are philox_block's words, V are philox_word(..., 0..3) and U the bits of
// philox_uniform(W0..W3) as 16 hex digits.
//
// The header defines __host__ and __device__ away itself when __CUDACC__ is not set; nothing else
// is needed here.
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "../philox.cuh"

static void words(const unsigned int* in, unsigned int* w) {
    bptt4j::philox_block(in, in + 4, w);
}

static void print_hex(const unsigned int* v, int n) {
    for (int i = 0; i < n; i++) std::printf(" %08x", v[i]);
}

int main() {
    static const unsigned int kat[3][6] = {
        {0u, 0u, 0u, 0u, 0u, 0u},
        {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
        {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u},
    };
    for (const auto& in : kat) {
        unsigned int w[4];
        words(in, w);
        std::printf("kat");
        print_hex(in, 6);
        print_hex(w, 4);
        std::printf("\n");
    }
    unsigned int in[6];
    while (std::scanf("%x %x %x %x %x %x", &in[0], &in[1], &in[2], &in[3], &in[4], &in[5]) == 6) {
        unsigned int w[4], v[4];
        words(in, w);
        for (int k = 0; k < 4; k++) v[k] = bptt4j::philox_word(in[0], in[1], in[2], in[3], in[4], in[5], k);
        print_hex(in, 6);
        print_hex(w, 4);
        print_hex(v, 4);
        for (int k = 0; k < 4; k++) {
            const double u = bptt4j::philox_uniform(w[k]);
            std::uint64_t bits;
            std::memcpy(&bits, &u, sizeof bits);
            std::printf(" %016llx", (unsigned long long)bits);
        }
        std::printf("\n");
    }
    return 0;
}
