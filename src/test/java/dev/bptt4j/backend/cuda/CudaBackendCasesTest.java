package dev.bptt4j.backend.cuda;

import dev.bptt4j.backend.cpu.CpuBackend;
import dev.bptt4j.model.ReferenceCase;
import dev.bptt4j.model.CaseRunner;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every bundled case (Elman, LSTM, GRU) through the whole CUDA backend (launchers, column-major mapping,
 * kernels) over the emulated device: against the CPU backend (float64 within 1e-12) and against
 * PyTorch (1e-10 float64, 1e-5 float32). The device must be left without live allocations.
 */
class CudaBackendCasesTest {
    private static CpuBackend cpu;

    @BeforeAll
    static void open() {
        cpu = new CpuBackend(2);
    }

    @AfterAll
    static void shut() {
        cpu.close();
    }

    static Stream<String> bundledCases() throws IOException {
        try (InputStream idx = CudaBackendCasesTest.class.getResourceAsStream("/cases/index.txt")) {
            assertNotNull(idx, "bundled case index");
            return Arrays.stream(new String(idx.readAllBytes(), StandardCharsets.UTF_8).split("\n"))
                    .map(String::trim).filter(s -> s.endsWith(".safetensors")).toList().stream();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("bundledCases")
    void emulatedCudaMatchesCpuAndPyTorch(String file) throws IOException {
        ReferenceCase c;
        try (InputStream in = getClass().getResourceAsStream("/cases/" + file)) {
            c = ReferenceCase.load(in.readAllBytes(), file);
        }
        EmulatedCudaApi device = new EmulatedCudaApi();
        Map<String, Tensor> gpu;
        try (CudaBackend backend = new CudaBackend(device, "cuda-emulated")) {
            gpu = CaseRunner.run(c, backend);
            assertEquals(0, backend.liveBuffers(), "the case runner closed every buffer");
        }
        device.checkNoLeaks();
        Map<String, Tensor> host = CaseRunner.run(c, cpu);
        boolean f64 = c.config().dtype() == DType.F64;
        double toPyTorch = f64 ? 1e-10 : 1e-5;
        for (Map.Entry<String, Tensor> e : c.expected().entrySet()) {
            String name = e.getKey();
            Tensor got = gpu.get(name);
            assertNotNull(got, c.name() + ": " + name + " not produced");
            assertArrayEquals(e.getValue().shape(), got.shape(), name + " shape");
            assertEquals(e.getValue().dtype(), got.dtype(), name + " dtype");
            double vsPyTorch = got.relativeError(e.getValue());
            double vsCpu = got.relativeError(host.get(name));
            System.out.printf("%-22s %-22s vs PyTorch %.3e (tol %.0e)   vs CPU %.3e%s%n", c.name(), name, vsPyTorch, toPyTorch,
                    vsCpu, f64 ? " (tol 1e-12)" : "");
            assertTrue(vsPyTorch <= toPyTorch, c.name() + ": " + name + " vs PyTorch " + vsPyTorch + " > " + toPyTorch);
            if (f64) assertTrue(vsCpu <= 1e-12, c.name() + ": " + name + " vs CPU " + vsCpu + " > 1e-12");
        }
        System.out.println(c.name() + ": " + device.countersSummary());
    }

    @org.junit.jupiter.api.Test
    void theGatedCasesAreAmongThem() throws IOException {
        java.util.List<String> all = bundledCases().toList();
        assertEquals(9, all.size(), all.toString());
        assertTrue(all.contains("lstm_basic.safetensors") && all.contains("gru_basic.safetensors"), all.toString());
    }
}
