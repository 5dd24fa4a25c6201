package dev.bptt4j.model;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import dev.bptt4j.BackendsUnderTest;
import java.util.stream.Stream;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Conformance, on every backend under test: the same inputs give bitwise-identical outputs and gradients run after run: a 2-layer
 * bidirectional stack of each mode, three times, each on a fresh backend and model (the CPU
 * backend's thread count is fixed for the process).
 */
class DeterminismTest {
    private static final int RUNS = 3;

    static Stream<Arguments> backendsAndModes() {
        return BackendsUnderTest.names().flatMap(b -> Stream.of(RnnMode.RNN_TANH, RnnMode.LSTM, RnnMode.GRU).map(m -> Arguments.of(b, m)));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("backendsAndModes")
    void threeRunsAreBitwiseIdentical(String device, RnnMode mode) {
        for (DType dtype : new DType[]{DType.F32, DType.F64}) threeRuns(mode, device, dtype);
    }

    private static void threeRuns(RnnMode mode, String device, DType dtype) {
        {
            RnnConfig cfg = RnnConfig.of(mode, 13, 24).withLayers(2).withBidirectional(true).withDType(dtype);
            Map<String, Tensor> first = null;
            for (int run = 0; run < RUNS; run++) {
                try (Backend backend = dev.bptt4j.backend.Backends.create(device)) {
                    Map<String, Tensor> results = TrainingRuns.run(backend, cfg, 7, 3, 5);
                    if (first == null) {
                        first = results;
                        continue;
                    }
                    List<String> differ = TrainingRuns.bitwiseDifferences(first, results);
                    System.out.printf("%s %s on %s run %d vs run 0: %d tensors, %d elements, %d differ bitwise%n", mode, dtype, backend.description(), run,
                            results.size(), TrainingRuns.elementCount(results), differ.size());
                    assertEquals(List.of(), differ, mode + " " + dtype + " on " + device + " run " + run);
                }
            }
        }
    }
}
