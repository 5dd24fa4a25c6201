package dev.bptt4j.model;

import dev.bptt4j.backend.cpu.CpuBackend;
import dev.bptt4j.io.ReferenceCase;
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
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every PyTorch-made case bundled under /cases (copied from shared/cases; Elman, LSTM and GRU) on
 * the CPU backend: y, hn, cn and every gradient within 1e-10 (float64 cases) or 1e-5 (float32) relative error.
 */
class ReferenceCasesTest {
    private static CpuBackend backend;

    @BeforeAll
    static void open() {
        backend = new CpuBackend(2);
    }

    @AfterAll
    static void shut() {
        backend.close();
    }

    static Stream<String> bundledCases() throws IOException {
        try (InputStream idx = ReferenceCasesTest.class.getResourceAsStream("/cases/index.txt")) {
            assertNotNull(idx, "bundled case index");
            return Arrays.stream(new String(idx.readAllBytes(), StandardCharsets.UTF_8).split("\n"))
                    .map(String::trim).filter(s -> !s.isEmpty()).toList().stream();
        }
    }

    static ReferenceCase load(String file) throws IOException {
        try (InputStream in = ReferenceCasesTest.class.getResourceAsStream("/cases/" + file)) {
            assertNotNull(in, file);
            return ReferenceCase.load(in.readAllBytes(), file);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("bundledCases")
    void matchesPyTorch(String file) throws IOException {
        ReferenceCase c = load(file);
        double tolerance = c.config().dtype() == DType.F32 ? 1e-5 : 1e-10;
        Map<String, Tensor> actual = CaseRunner.run(c, backend);
        Map<String, Tensor> expected = c.expected();
        assertFalse(expected.isEmpty(), "case has expected tensors");
        for (Map.Entry<String, Tensor> e : expected.entrySet()) {
            Tensor got = actual.get(e.getKey());
            assertNotNull(got, c.name() + ": " + e.getKey() + " not produced");
            assertArrayEquals(e.getValue().shape(), got.shape(), c.name() + ": " + e.getKey() + " shape");
            assertTrue(got.dtype() == e.getValue().dtype(), c.name() + ": " + e.getKey() + " dtype");
            double err = got.relativeError(e.getValue());
            System.out.printf("%-22s %-26s rel.error %.3e (tolerance %.0e)%n", c.name(), e.getKey(), err, tolerance);
            assertTrue(err <= tolerance, c.name() + ": " + e.getKey() + " relative error " + err + " > " + tolerance);
        }
        // Every expected gradient the case defines must be one we produce, and vice versa for parameters.
        for (String n : c.config().parameters().stream().map(ParameterSpec::name).toList()) {
            assertTrue(expected.containsKey("grad." + n), c.name() + " lacks grad." + n);
        }
    }
}
