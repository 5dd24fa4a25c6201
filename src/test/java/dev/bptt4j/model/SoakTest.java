package dev.bptt4j.model;

import dev.bptt4j.cell.States;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.Backends;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Leak-freedom under load: many training steps (forward + backward, zeroGrad) over a stream of
 * models of every mode, 1–3 layers, one or two directions, float32 and float64, with T, B and the
 * lengths changing every step. After each model is closed the backend's live-allocation count is
 * back at its start value, and at the end JavaCPP's off-heap byte count is too. 200 steps in the
 * default build; {@code mvn -B -Psoak test} runs 10 000 ({@code -Dbptt4j.soak.steps=N} for others).
 */
class SoakTest {
    private static final int STEPS = Integer.getInteger("bptt4j.soak.steps", 200);
    private static final int STEPS_PER_MODEL = 50;
    private static final RnnMode[] MODES = {RnnMode.RNN_TANH, RnnMode.RNN_RELU, RnnMode.LSTM, RnnMode.GRU};

    static Stream<String> devices() {
        return Stream.of("cpu", "cuda-emulated");  // the emulation counts live device allocations too
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void memoryStaysFlatOverManyTrainingSteps(String device) {
        SplittableRandom random = new SplittableRandom(2026);
        try (Backend backend = Backends.create(device)) {
            runModel(backend, random, 5); // loads the natives and JIT-warms before the baseline
            System.gc();
            long liveStart = backend.liveBuffers();
            long bytesStart = Pointer.totalBytes(), physicalStart = Pointer.physicalBytes();
            long heapStart = Runtime.getRuntime().totalMemory();
            long peakBytes = bytesStart, models = 0, done = 0, physicalTenth = -1, heapTenth = -1, heapPeak = heapStart;
            long startNanos = System.nanoTime();
            while (done < STEPS) {
                int steps = (int) Math.min(STEPS_PER_MODEL, STEPS - done);
                peakBytes = Math.max(peakBytes, runModel(backend, random, steps));
                done += steps;
                models++;
                assertEquals(liveStart, backend.liveBuffers(), "live buffers after closing model " + models);
                assertEquals(bytesStart, Pointer.totalBytes(), "JavaCPP off-heap bytes after closing model " + models);
                if (backend instanceof dev.bptt4j.backend.cpu.CpuBackend cpu) {
                    // MKL's packed recurrent weights: reused, and replaced rather than accumulated as shapes change.
                    assertTrue(cpu.packedBlocks() <= 1, "packed-operand blocks held after model " + models + ": " + cpu.packedBlocks());
                }
                heapPeak = Math.max(heapPeak, Runtime.getRuntime().totalMemory());
                if (physicalTenth < 0 && done >= STEPS / 10) {
                    physicalTenth = Pointer.physicalBytes();
                    heapTenth = Runtime.getRuntime().totalMemory();
                }
            }
            System.gc();
            long bytesEnd = Pointer.totalBytes(), physicalEnd = Pointer.physicalBytes(), heapEnd = Runtime.getRuntime().totalMemory();
            System.out.printf("soak %s: %d training steps over %d models in %.1f s; live buffers %d -> %d; "
                            + "JavaCPP off-heap bytes %d -> %d (peak %d while a model was open); process RSS %.1f MB -> %.1f MB after 10%% of the steps"
                            + " -> %.1f MB at the end (committed Java heap %.1f -> %.1f -> %.1f MB, peak %.1f MB)%n",
                    device, done, models, (System.nanoTime() - startNanos) / 1e9, liveStart, backend.liveBuffers(),
                    bytesStart, bytesEnd, peakBytes, physicalStart / 1e6, physicalTenth / 1e6, physicalEnd / 1e6,
                    heapStart / 1e6, heapTenth / 1e6, heapEnd / 1e6, heapPeak / 1e6);
            assertEquals(liveStart, backend.liveBuffers());
            assertEquals(bytesStart, bytesEnd);
            // RSS also holds every page the Java heap has touched (it follows the heap's peak, not its
            // end size) and JIT code, so it is only bounded, not exact; the off-heap figures above are.
            assertTrue(physicalEnd - physicalStart < 512L << 20, "RSS grew by " + (physicalEnd - physicalStart) + " bytes");
        }
    }

    /** Trains one random model for {@code steps} steps and closes it; returns the largest off-heap byte count seen. */
    private static long runModel(Backend backend, SplittableRandom random, int steps) {
        RnnMode mode = MODES[random.nextInt(MODES.length)];
        RnnConfig cfg = RnnConfig.of(mode, 1 + random.nextInt(16), 1 + random.nextInt(40))
                .withLayers(1 + random.nextInt(3)).withBidirectional(random.nextBoolean()).withBias(random.nextInt(4) > 0)
                .withDType(random.nextBoolean() ? DType.F32 : DType.F64);
        RandomCases rc = new RandomCases(random.nextLong());
        long peak = 0;
        int states = cfg.numLayers() * cfg.directions();
        boolean lstm = mode == RnnMode.LSTM;
        try (Rnn rnn = new Rnn(cfg, backend)) {
            rnn.initialize(random.nextLong());
            for (int step = 0; step < steps; step++) {
                int t = 1 + rc.nextInt(16), batch = 1 + rc.nextInt(8);
                int[] lengths = rc.nextBoolean() ? rc.lengths(batch, t) : null;
                if (rc.nextInt(3) == 0) rnn.zeroGrad();
                Tensor x = rc.uniform(cfg.dtype(), 1, t, batch, cfg.inputSize());
                Tensor c0 = lstm && rc.nextBoolean() ? rc.uniform(cfg.dtype(), 0.5, states, batch, cfg.hiddenSize()) : null;
                try (Rnn.Pass pass = rnn.forward(x, States.of("h", null, "c", c0), lengths)) {
                    Tensor dy = rc.uniform(cfg.dtype(), 1, t, batch, cfg.directions() * cfg.hiddenSize());
                    Tensor dhn = rc.nextBoolean() ? rc.uniform(cfg.dtype(), 1, states, batch, cfg.hiddenSize()) : null;
                    pass.backward(dy, States.of("h", dhn, "c", null), rc.nextBoolean());
                }
                peak = Math.max(peak, Pointer.totalBytes());
            }
        }
        return peak;
    }
}
