package dev.bptt4j.model;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.cpu.CpuBackend;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The threading contract: one backend and its models per thread. Several threads training
 * independent models at once, each on its own CPU backend, give bitwise exactly the results of
 * running the same models one after another.
 */
class ConcurrencyTest {
    private static final int STEPS = 4;

    private static final RnnConfig[] CONFIGS = {
            RnnConfig.of(RnnMode.RNN_TANH, 16, 48).withLayers(2).withBidirectional(true).withDType(DType.F32),
            RnnConfig.of(RnnMode.LSTM, 16, 40).withLayers(2).withBidirectional(true),
            RnnConfig.of(RnnMode.GRU, 12, 33).withLayers(1).withBidirectional(true).withDType(DType.F32),
            RnnConfig.of(RnnMode.RNN_RELU, 8, 64).withLayers(3),
    };

    private static Map<String, Tensor> train(int i) {
        try (Backend backend = new CpuBackend()) {
            return TrainingRuns.run(backend, CONFIGS[i], 100 + i, STEPS, 9);
        }
    }

    @Test
    void parallelTrainingEqualsSequentialBitwise() throws Exception {
        try (CpuBackend probe = new CpuBackend()) {
            System.out.printf("%d models in %d Java threads, OpenBLAS running %d thread(s)%n", CONFIGS.length, CONFIGS.length, probe.threads());
        }
        List<Map<String, Tensor>> sequential = new ArrayList<>();
        for (int i = 0; i < CONFIGS.length; i++) sequential.add(train(i));

        ExecutorService pool = Executors.newFixedThreadPool(CONFIGS.length);
        try {
            for (int round = 0; round < 3; round++) {
                CountDownLatch start = new CountDownLatch(1);
                List<Future<Map<String, Tensor>>> parallel = new ArrayList<>();
                for (int i = 0; i < CONFIGS.length; i++) {
                    final int model = i;
                    Callable<Map<String, Tensor>> job = () -> {
                        start.await(); // all threads enter the native code together
                        return train(model);
                    };
                    parallel.add(pool.submit(job));
                }
                start.countDown();
                for (int i = 0; i < CONFIGS.length; i++) {
                    Map<String, Tensor> got = parallel.get(i).get();
                    List<String> differ = TrainingRuns.bitwiseDifferences(sequential.get(i), got);
                    System.out.printf("round %d, thread %d (%s): %d tensors, %d elements, %d differ bitwise from the sequential run%n",
                            round, i, CONFIGS[i].mode(), got.size(), TrainingRuns.elementCount(got), differ.size());
                    assertEquals(List.of(), differ, "model " + i + " (" + CONFIGS[i].mode() + ") in round " + round);
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
