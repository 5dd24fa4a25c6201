package dev.bptt4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bptt4j.tensor.DType;
import java.util.HashSet;
import java.util.Set;
import jcuda.driver.CUdeviceptr;
import org.junit.jupiter.api.Test;

/** The registry's own API: lookups, argument checks, packing and launch geometry. No GPU needed. */
class CudaKernelTest {
    private static final CUdeviceptr DEVICE = new CUdeviceptr();

    @Test
    void namesAreUniqueAndFamiliesHaveBothPrecisions() {
        Set<String> names = new HashSet<>();
        for (CudaKernel k : CudaKernel.values()) {
            assertTrue(names.add(k.functionName()), "duplicate " + k);
            assertEquals(k, CudaKernel.byFunctionName(k.functionName()));
            System.out.println(k.module().baseName() + ": " + k.signature() + ", n = product of " + k.extentParameters());
        }
        for (String family : new String[] {"rnn_forward", "rnn_backward", "gather_rows", "fill"}) {
            assertEquals(DType.F32, CudaKernel.of(family, DType.F32).dtype());
            assertEquals(DType.F64, CudaKernel.of(family, DType.F64).dtype());
        }
        assertEquals(CudaKernel.RNN_BACKWARD_F64, CudaKernel.of("rnn_backward", DType.F64));
        assertThrows(IllegalArgumentException.class, () -> CudaKernel.of("fill", DType.I32));
        assertThrows(IllegalArgumentException.class, () -> CudaKernel.byFunctionName("rnn_forward"));
    }

    @Test
    void validateChecksCountTypesAndNullability() {
        CudaKernel forward = CudaKernel.RNN_FORWARD_F32;
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
        CudaKernel.FILL_F32.validate(DEVICE, 0.0f, 10L);
        e = assertThrows(IllegalArgumentException.class, () -> CudaKernel.FILL_F32.validate(DEVICE, 0.0f, 10));
        System.out.println("int count: " + e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> CudaKernel.FILL_F64.validate(DEVICE, 0.0f, 10L));
        CudaKernel.FILL_F64.validate(DEVICE, 0.0, 10L);
    }

    @Test
    void kernelParametersPacksOnePointerPerArgument() {
        assertNotNull(CudaKernel.GATHER_ROWS_F64.kernelParameters(DEVICE, DEVICE, DEVICE, 3, 5, 7, 2, 5, 0, 1));
        assertNotNull(CudaKernel.RNN_BACKWARD_F32.kernelParameters(DEVICE, DEVICE, null, DEVICE, null, null, 2, 3, 4, 1, 1));
        assertThrows(IllegalArgumentException.class,
                () -> CudaKernel.GATHER_ROWS_F64.kernelParameters(DEVICE, DEVICE, null, 3, 5, 7, 2, 5, 0, 1));
    }

    @Test
    void elementCountAndGridFollowTheExtentParameters() {
        assertEquals(12L, CudaKernel.RNN_FORWARD_F32.elementCount(DEVICE, DEVICE, null, null, null, 3, 4, 0, 0));
        assertEquals(20L, CudaKernel.RNN_BACKWARD_F64.elementCount(DEVICE, DEVICE, DEVICE, DEVICE, null, null, 2, 5, 4, 0, 0));
        assertEquals(15L, CudaKernel.GATHER_ROWS_F32.elementCount(DEVICE, DEVICE, DEVICE, 3, 5, 7, 2, 5, 0, 0));
        assertEquals(1L << 33, CudaKernel.FILL_F32.elementCount(DEVICE, 1.0f, 1L << 33));
        assertEquals((long) Integer.MAX_VALUE * 1000, CudaKernel.RNN_FORWARD_F32.elementCount(
                DEVICE, DEVICE, null, null, null, Integer.MAX_VALUE, 1000, 0, 0), "rows × hiddenSize must not wrap");
        assertEquals(1, CudaKernel.gridSize(0));
        assertEquals(1, CudaKernel.gridSize(256));
        assertEquals(2, CudaKernel.gridSize(257));
        assertEquals(CudaKernel.MAX_GRID_SIZE, CudaKernel.gridSize(1L << 40));
    }
}
