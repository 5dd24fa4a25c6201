package dev.bptt4j.model;

import dev.bptt4j.backend.DeviceSlice;

import dev.bptt4j.BackendsUnderTest;
import dev.bptt4j.model.ReferenceCase;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.Arguments;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Conformance: every PyTorch-made case bundled under /cases (copied from shared/cases; Elman, LSTM
 * and GRU) on every backend under test ({@link BackendsUnderTest}: cpu, cuda-emulated, gpu when
 * present), through the host API and the resident path: y, the final states and every gradient
 * within 1e-10 (float64 cases) or 1e-5 (float32) relative error.
 */
class ReferenceCasesTest {
    private static final BackendsUnderTest backends = new BackendsUnderTest();

    @AfterAll
    static void shut() {
        backends.close();
    }

    static Stream<Arguments> backendsAndCases() throws IOException {
        List<String> cases = bundledCases().toList();
        return BackendsUnderTest.names().flatMap(b -> cases.stream().map(c -> Arguments.of(b, c)));
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

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("backendsAndCases")
    void matchesPyTorch(String backend, String file) throws IOException {
        ReferenceCase c = load(file);
        compare(backend, c, CaseRunner.run(c, backends.get(backend)));
    }

    /** The same cases with x, dy and dL/dx resident in device buffers (Rnn.forwardOnDevice with a DeviceSlice). */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("backendsAndCases")
    void residentPathMatchesPyTorch(String backend, String file) throws IOException {
        ReferenceCase c = load(file);
        compare(backend, c, ResidentCaseRunner.runResident(c, backends.get(backend)));
    }

    private static void compare(String backend, ReferenceCase c, Map<String, Tensor> actual) {
        double tolerance = c.config().dtype() == DType.F32 ? 1e-5 : 1e-10;
        Map<String, Tensor> expected = c.expected();
        assertFalse(expected.isEmpty(), "case has expected tensors");
        for (Map.Entry<String, Tensor> e : expected.entrySet()) {
            Tensor got = actual.get(e.getKey());
            assertNotNull(got, c.name() + ": " + e.getKey() + " not produced");
            assertArrayEquals(e.getValue().shape(), got.shape(), c.name() + ": " + e.getKey() + " shape");
            assertTrue(got.dtype() == e.getValue().dtype(), c.name() + ": " + e.getKey() + " dtype");
            double err = got.relativeError(e.getValue());
            System.out.printf("%-13s %-22s %-26s rel.error %.3e (tolerance %.0e)%n", backend, c.name(), e.getKey(), err, tolerance);
            assertTrue(err <= tolerance, c.name() + ": " + e.getKey() + " relative error " + err + " > " + tolerance);
        }
        // Every expected gradient the case defines must be one we produce, and vice versa for parameters.
        for (String n : c.config().parameters().stream().map(ParameterSpec::name).toList()) {
            assertTrue(expected.containsKey("grad." + n), c.name() + " lacks grad." + n);
        }
    }

    /**
     * The bundled gated cases are float64 only. Their float32 twin, made as the float32 cases are
     * (inputs rounded to float32, expected results computed in float64 from those values), must
     * agree with the float32 path within the float32 tolerance.
     */
    static Stream<Arguments> backendsAndGatedCases() {
        return BackendsUnderTest.names().flatMap(b -> Stream.of("lstm_basic.safetensors", "gru_basic.safetensors").map(c -> Arguments.of(b, c)));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("backendsAndGatedCases")
    void float32PathMatchesFloat64OnRoundedInputs(String name, String file) throws IOException {
        dev.bptt4j.backend.Backend backend = backends.get(name);
        ReferenceCase c = load(file);
        Map<String, Tensor> rounded = new java.util.LinkedHashMap<>();
        for (var e : dev.bptt4j.io.SafeTensors.read(bytes(file), file).tensors().entrySet()) {
            Tensor t = e.getValue();
            rounded.put(e.getKey(), t.dtype() == DType.F64 ? t.to(DType.F32) : t);
        }
        Map<String, String> meta32 = new java.util.LinkedHashMap<>(c.metadata());
        meta32.put("dtype", "F32");
        Map<String, String> meta64 = new java.util.LinkedHashMap<>(c.metadata());
        Map<String, Tensor> widened = new java.util.LinkedHashMap<>();
        for (var e : rounded.entrySet()) widened.put(e.getKey(), e.getValue().dtype() == DType.F32 ? e.getValue().to(DType.F64) : e.getValue());
        ReferenceCase c32 = ReferenceCase.load(dev.bptt4j.io.SafeTensors.toBytes(rounded, meta32), file);
        ReferenceCase c64 = ReferenceCase.load(dev.bptt4j.io.SafeTensors.toBytes(widened, meta64), file);
        Map<String, Tensor> expected = CaseRunner.run(c64, backend), actual = CaseRunner.run(c32, backend);
        for (Map.Entry<String, Tensor> e : expected.entrySet()) {
            Tensor got = actual.get(e.getKey());
            assertTrue(got.dtype() == DType.F32, e.getKey() + " dtype");
            double err = got.to(DType.F64).relativeError(e.getValue());
            System.out.printf("%-22s %-26s rel.error %.3e (tolerance %.0e)%n", c.name() + "_f32", e.getKey(), err, 1e-5);
            assertTrue(err <= 1e-5, c.name() + " f32: " + e.getKey() + " relative error " + err + " > 1e-5");
        }
    }

    static byte[] bytes(String file) throws IOException {
        try (InputStream in = ReferenceCasesTest.class.getResourceAsStream("/cases/" + file)) {
            assertNotNull(in, file);
            return in.readAllBytes();
        }
    }
}
