package dev.bptt4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bptt4j.backend.Packing;
import dev.bptt4j.cell.Elman;
import dev.bptt4j.tensor.DType;
import java.util.HashSet;
import java.util.Set;
import jcuda.driver.CUdeviceptr;
import org.junit.jupiter.api.Test;

/** CUDA entry points of the kernel specs: names, argument checks, packing and launch geometry. No GPU needed. */
class CudaKernelTest {
    private static final CUdeviceptr DEVICE = new CUdeviceptr();

    @Test
    void everySpecHasTwoEntryPointsWithUniqueNames() {
        Set<String> names = new HashSet<>();
        for (CudaKernel k : KernelRegistry.kernels()) {
            assertTrue(names.add(k.functionName()), "duplicate " + k);
            assertTrue(k.functionName().endsWith(k.dtype() == DType.F32 ? "_f32" : "_f64"), k + ": name vs dtype");
            System.out.println(k.module() + ": " + k.signature() + ", n = product of " + k.extentParameters());
        }
        assertEquals("rnn_backward_f64", CudaKernel.of(Elman.BACKWARD, DType.F64).functionName());
        assertSame(CudaKernel.of(Elman.BACKWARD, DType.F64), CudaKernel.of(Elman.BACKWARD, DType.F64));
        assertThrows(IllegalArgumentException.class, () -> CudaKernel.of(Packing.FILL, DType.I32));
        assertThrows(IllegalArgumentException.class, () -> KernelRegistry.byFunctionName("rnn_forward"));
    }

    @Test
    void validateChecksCountTypesAndNullability() {
        CudaKernel forward = CudaKernel.of(Elman.FORWARD, DType.F32);
        // no biases, no residual: the three nullable pointers may be null
        forward.validate(DEVICE, DEVICE, null, null, null, 4, 8, 0, 0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> forward.validate(null, DEVICE, null, null, null, 4, 8, 0, 0));
        System.out.println("null hiddenOut: " + e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> forward.validate(DEVICE, DEVICE, null, null, null, 4, 8, 0));
        System.out.println("8 arguments: " + e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> forward.validate(DEVICE, DEVICE, null, null, null, 4L, 8, 0, 0));
        System.out.println("long rows: " + e.getMessage());

        // fill's count is a long long: an Integer there would be read as 8 bytes of which 4 are garbage
        CudaKernel fill32 = CudaKernel.of(Packing.FILL, DType.F32), fill64 = CudaKernel.of(Packing.FILL, DType.F64);
        fill32.validate(DEVICE, 0.0f, 10L);
        e = assertThrows(IllegalArgumentException.class, () -> fill32.validate(DEVICE, 0.0f, 10));
        System.out.println("int count: " + e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> fill64.validate(DEVICE, 0.0f, 10L));
        fill64.validate(DEVICE, 0.0, 10L);
    }

    @Test
    void kernelParametersPacksOnePointerPerArgument() {
        CudaKernel gather = CudaKernel.of(Packing.GATHER_ROWS, DType.F64);
        assertNotNull(gather.kernelParameters(DEVICE, DEVICE, DEVICE, 3, 5, 7, 2, 5, 0, 1));
        assertNotNull(CudaKernel.of(Elman.BACKWARD, DType.F32).kernelParameters(DEVICE, DEVICE, null, DEVICE, null, null, 2, 3, 4, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> gather.kernelParameters(DEVICE, DEVICE, null, 3, 5, 7, 2, 5, 0, 1));
    }

    @Test
    void elementCountAndGridFollowTheExtentParameters() {
        CudaKernel forward = CudaKernel.of(Elman.FORWARD, DType.F32);
        assertEquals(12L, forward.elementCount(DEVICE, DEVICE, null, null, null, 3, 4, 0, 0));
        assertEquals(20L, CudaKernel.of(Elman.BACKWARD, DType.F64).elementCount(DEVICE, DEVICE, DEVICE, DEVICE, null, null, 2, 5, 4, 0, 0));
        assertEquals(15L, CudaKernel.of(Packing.GATHER_ROWS, DType.F32).elementCount(DEVICE, DEVICE, DEVICE, 3, 5, 7, 2, 5, 0, 0));
        assertEquals(1L << 33, CudaKernel.of(Packing.FILL, DType.F32).elementCount(DEVICE, 1.0f, 1L << 33));
        assertEquals((long) Integer.MAX_VALUE * 1000, forward.elementCount(
                DEVICE, DEVICE, null, null, null, Integer.MAX_VALUE, 1000, 0, 0), "rows × hiddenSize must not wrap");
        assertEquals(1, CudaKernel.gridSize(0));
        assertEquals(1, CudaKernel.gridSize(256));
        assertEquals(2, CudaKernel.gridSize(257));
        assertEquals(CudaKernel.MAX_GRID_SIZE, CudaKernel.gridSize(1L << 40));
    }
}
