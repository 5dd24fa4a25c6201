package dev.bptt4j.model;

import dev.bptt4j.BackendsUnderTest;
import dev.bptt4j.io.SafeTensors;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Conformance: {@code batch_first}. Every bundled PyTorch case, rewritten batch-first (x, y, dy and
 * grad.x transposed to (B, T, ·), {@code batch_first: true} in its metadata), runs through the
 * case runner and the resident path on every backend and gives PyTorch's results transposed,
 * within the case tolerances (1e-10 float64, 1e-5 float32).
 */
class BatchFirstTest {
    private static final Set<String> PADDED = Set.of("x", "y", "dy", "grad.x");
    private static final BackendsUnderTest backends = new BackendsUnderTest();

    @AfterAll
    static void shut() {
        backends.close();
    }

    static Stream<Arguments> backendsAndCases() throws IOException {
        List<String> cases = ReferenceCasesTest.bundledCases().toList();
        return BackendsUnderTest.names().flatMap(b -> cases.stream().map(c -> Arguments.of(b, c)));
    }

    /** (T, B, W) → (B, T, W). */
    static Tensor transpose(Tensor t) {
        int steps = t.dim(0), batch = t.dim(1), width = t.dim(2);
        Tensor out = Tensor.zeros(t.dtype(), batch, steps, width);
        for (int s = 0; s < steps; s++) {
            for (int b = 0; b < batch; b++) Tensor.copy(t, ((long) s * batch + b) * width, out, ((long) b * steps + s) * width, width);
        }
        return out;
    }

    /** The case with its padded tensors batch-first. */
    static ReferenceCase batchFirst(String file) throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (var e : SafeTensors.read(ReferenceCasesTest.bytes(file), file).tensors().entrySet()) {
            tensors.put(e.getKey(), PADDED.contains(e.getKey()) ? transpose(e.getValue()) : e.getValue());
        }
        Map<String, String> meta = new LinkedHashMap<>(ReferenceCasesTest.load(file).metadata());
        meta.put("batch_first", "true");
        return ReferenceCase.load(SafeTensors.toBytes(tensors, meta), file);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("backendsAndCases")
    void batchFirstCasesGivePyTorchsResultsTransposed(String backend, String file) throws IOException {
        ReferenceCase c = batchFirst(file);
        assertTrue(c.config().batchFirst(), "batch_first read from the metadata");
        double tolerance = c.config().dtype() == DType.F32 ? 1e-5 : 1e-10;
        for (boolean resident : new boolean[]{false, true}) {
            Map<String, Tensor> actual = resident ? ResidentCaseRunner.runResident(c, backends.get(backend)) : CaseRunner.run(c, backends.get(backend));
            for (Map.Entry<String, Tensor> e : c.expected().entrySet()) {
                Tensor got = actual.get(e.getKey());
                assertArrayEquals(e.getValue().shape(), got.shape(), file + " " + e.getKey() + " shape");
                double err = got.relativeError(e.getValue());
                System.out.printf("%-13s %-8s %-30s %-22s rel.error %.3e (tolerance %.0e)%n", backend, resident ? "resident" : "host", file,
                        e.getKey(), err, tolerance);
                assertTrue(err <= tolerance, file + " batch-first " + e.getKey() + ": " + err);
            }
        }
        assertEquals(c.expected().get("y").dim(0), c.tensor("x").dim(0), "y is (B, T, ·) like x");
    }
}
