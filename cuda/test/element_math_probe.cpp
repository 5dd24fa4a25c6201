// element_math_probe.cpp: bptt4j_math.cuh compiled for the host, so the Java twin
// (dev.bptt4j.backend.ElementMath) can be held against the header's own code without a GPU.
// ElementMathHostTest compiles this with g++ (or clang++, or nvcc) and feeds it inputs on stdin,
// one per line: "f XXXXXXXX" (float bits) or "d XXXXXXXXXXXXXXXX" (double bits). For each it
// prints the type, the input bits and then the bits of, in this order:
//   tanh_of relu_of sigmoid_of tanh_grad_from_output relu_grad
//   activate(tanh) activate(relu) grad_from_output(tanh) grad_from_output(relu)
//   grad_from_preactivation(tanh) grad_from_preactivation(relu)
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "bptt4j_math.cuh"

template <typename T, typename Bits>
static void probe(const char* type, Bits inputBits, const char* format) {
    T z;
    std::memcpy(&z, &inputBits, sizeof z);
    const T results[] = {
        bptt4j::tanh_of(z),
        bptt4j::relu_of(z),
        bptt4j::sigmoid_of(z),
        bptt4j::tanh_grad_from_output(z),
        bptt4j::relu_grad(z),
        bptt4j::activate(z, bptt4j::ACTIVATION_TANH),
        bptt4j::activate(z, bptt4j::ACTIVATION_RELU),
        bptt4j::activation_grad_from_output(z, bptt4j::ACTIVATION_TANH),
        bptt4j::activation_grad_from_output(z, bptt4j::ACTIVATION_RELU),
        bptt4j::activation_grad_from_preactivation(z, bptt4j::ACTIVATION_TANH),
        bptt4j::activation_grad_from_preactivation(z, bptt4j::ACTIVATION_RELU),
    };
    std::printf("%s", type);
    std::printf(format, (unsigned long long)inputBits);
    for (T r : results) {
        Bits bits;
        std::memcpy(&bits, &r, sizeof bits);
        std::printf(format, (unsigned long long)bits);
    }
    std::printf("\n");
}

int main() {
    char type[8];
    unsigned long long bits;
    while (std::scanf("%7s %llx", type, &bits) == 2) {
        if (std::strcmp(type, "f") == 0) {
            probe<float, std::uint32_t>("f", (std::uint32_t)bits, " %08llx");
        } else if (std::strcmp(type, "d") == 0) {
            probe<double, std::uint64_t>("d", (std::uint64_t)bits, " %016llx");
        } else {
            std::fprintf(stderr, "element_math_probe: unknown type '%s'\n", type);
            return 2;
        }
    }
    return 0;
}
