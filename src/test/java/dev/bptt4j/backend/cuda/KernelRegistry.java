package dev.bptt4j.backend.cuda;

import dev.bptt4j.backend.KernelSpec;
import dev.bptt4j.backend.KernelTrainingOps;
import dev.bptt4j.backend.Packing;
import dev.bptt4j.model.RnnMode;
import dev.bptt4j.tensor.DType;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Every kernel spec the library launches (each cell's, the packing and training kernels) and
 * their CUDA entry points, for the tests that hold them against the bundled PTX and sources.
 */
final class KernelRegistry {
    private KernelRegistry() {
    }

    static List<KernelSpec> specs() {
        Set<KernelSpec> out = new LinkedHashSet<>();
        for (RnnMode mode : RnnMode.values()) out.addAll(mode.cell(8, true, false).kernels());
        out.addAll(List.of(Packing.GATHER_ROWS, Packing.FILL, Packing.SUM_ROWS, Packing.COUNT_NON_FINITE));
        out.addAll(List.of(dev.bptt4j.algo.Dropout.FORWARD, dev.bptt4j.algo.Dropout.BACKWARD));
        out.addAll(List.of(KernelTrainingOps.SOFTMAX_XENT, KernelTrainingOps.SGD_STEP, KernelTrainingOps.ADAM_STEP,
                KernelTrainingOps.SUM_OF_SQUARES, KernelTrainingOps.SCALE, KernelTrainingOps.CLAMP));
        return new ArrayList<>(out);
    }

    /** Every entry point: each spec in F32 and F64. */
    static List<CudaKernel> kernels() {
        List<CudaKernel> out = new ArrayList<>();
        for (KernelSpec s : specs()) {
            out.add(CudaKernel.of(s, DType.F32));
            out.add(CudaKernel.of(s, DType.F64));
        }
        return out;
    }

    static CudaKernel byFunctionName(String name) {
        for (CudaKernel k : kernels()) if (k.functionName().equals(name)) return k;
        throw new IllegalArgumentException("no CUDA kernel named '" + name + "'");
    }

    /** The entry point of a kernel family in a dtype, e.g. {@code of("fill", F64)}. */
    static CudaKernel of(String family, DType dtype) {
        for (KernelSpec s : specs()) if (s.name().equals(family)) return CudaKernel.of(s, dtype);
        throw new IllegalArgumentException("no kernel family '" + family + "'");
    }

    static List<CudaKernel> inModule(KernelModule module) {
        List<CudaKernel> out = new ArrayList<>();
        for (CudaKernel k : kernels()) if (k.module().equals(module.baseName())) out.add(k);
        return out;
    }
}
