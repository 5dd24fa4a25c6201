package dev.bptt4j.backend.cuda;

import dev.bptt4j.cell.Elman;
import dev.bptt4j.cell.Lstm;
import dev.bptt4j.cell.Gru;

import dev.bptt4j.cell.States;

import dev.bptt4j.backend.cuda.EmulatedCudaApi.Event;
import dev.bptt4j.backend.cuda.EmulatedCudaApi.Kind;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.model.RnnMode;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What one warmed-up training step asks of the device, from the emulator's event log: per layer
 * and direction T recurrent GEMMs and T pointwise launches forward and backward, one input
 * projection GEMM, one GEMM per weight gradient; inside either time loop nothing but GEMMs and
 * launches (no copy, no synchronisation, no allocation); synchronisations only for downloads.
 *
 * <p>Sizes are picked so the GEMMs tell themselves apart by cuBLAS's (m, n, k): T = 4, B = 3
 * (packed rows 12), I = 5, H = 7, 2 layers, bidirectional (layer 1 input 14). With G = gates·H
 * (7 Elman, 28 LSTM, 21 GRU), in column-major terms a recurrent GEMM is (G, 3, 7) forward and
 * (7, 3, G) backward. The same holds for the Elman, LSTM and GRU cells.
 */
class TrainingStepCountsTest {
    private static final int T = 4, B = 3, I = 5, H = 7, LAYERS = 2, DIRS = 2, LD = LAYERS * DIRS;

    private static Tensor random(Random r, int... shape) {
        double[] v = new double[(int) Tensor.elementCount(shape)];
        for (int i = 0; i < v.length; i++) v[i] = r.nextGaussian() * 0.5;
        return Tensor.of(v, shape);
    }

    /** A recurrent GEMM: h·W_hhᵀ forward (G, B, H), δ·W_hh backward (H, B, G), column-major. */
    private static boolean recurrent(Event e, int g, boolean forward) {
        return e.kind() == Kind.GEMM && e.n() == B && (forward ? e.m() == g && e.k() == H : e.m() == H && e.k() == g);
    }

    private static boolean launchOf(Event e, CudaKernel k) {
        return e.kind() == Kind.LAUNCH && e.kernel() == k;
    }

    private static long count(List<Event> events, java.util.function.Predicate<Event> p) {
        return events.stream().filter(p).count();
    }

    /**
     * Splits the log at the pointwise launches of the time loops ({@code T} per layer-direction)
     * and returns, per loop, the events from its first step's first event to its last step's last.
     */
    private static List<List<Event>> timeLoops(List<Event> events, CudaKernel pointwise, boolean gemmFirst) {
        List<Integer> at = new ArrayList<>();
        for (int i = 0; i < events.size(); i++) if (launchOf(events.get(i), pointwise)) at.add(i);
        assertEquals(LD * T, at.size(), pointwise + " launches");
        List<List<Event>> loops = new ArrayList<>();
        for (int loop = 0; loop < LD; loop++) {
            int first = at.get(loop * T), last = at.get(loop * T + T - 1);
            // Forward steps are GEMM then launch; backward steps are launch then GEMM.
            int from = gemmFirst ? first - 1 : first, to = gemmFirst ? last : last + 1;
            loops.add(events.subList(from, to + 1));
        }
        return loops;
    }

    @Test
    void aTrainingStepIsGemmsAndLaunchesInsideTheTimeLoops() {
        trainingStep(RnnMode.RNN_TANH, CudaKernel.of(Elman.FORWARD, DType.F64), CudaKernel.of(Elman.BACKWARD, DType.F64));
    }

    @Test
    void anLstmTrainingStepIsGemmsAndLaunchesInsideTheTimeLoops() {
        trainingStep(RnnMode.LSTM, CudaKernel.of(Lstm.FORWARD, DType.F64), CudaKernel.of(Lstm.BACKWARD, DType.F64));
    }

    @Test
    void aGruTrainingStepIsGemmsAndLaunchesInsideTheTimeLoops() {
        trainingStep(RnnMode.GRU, CudaKernel.of(Gru.FORWARD, DType.F64), CudaKernel.of(Gru.BACKWARD, DType.F64));
    }

    private static void trainingStep(RnnMode mode, CudaKernel forwardKernel, CudaKernel backwardKernel) {
        final int g = mode.cell(H, true, false).gateWidth();
        Random r = new Random(3);
        Tensor x = random(r, T, B, I), dy = random(r, T, B, DIRS * H);
        EmulatedCudaApi device = new EmulatedCudaApi();
        RnnConfig config = RnnConfig.of(mode, I, H).withLayers(LAYERS).withBidirectional(true).withDType(DType.F64);
        try (CudaBackend backend = new CudaBackend(device, "cuda-emulated"); Rnn rnn = new Rnn(config, backend)) {
            rnn.initialize(7);
            for (int warmup = 0; warmup < 1; warmup++) {
                try (Rnn.Pass pass = rnn.forward(x, States.ZEROS, null)) {
                    pass.backward(dy, States.ZEROS);
                }
            }
            long gemmsBefore = device.gemmCount(), syncsBefore = device.synchronizations();
            device.setRecording(true);
            List<Event> forward, backward;
            try (Rnn.Pass pass = rnn.forward(x, States.ZEROS, null)) {
                forward = List.copyOf(device.events());
                device.clearEvents();
                pass.backward(dy, States.ZEROS);
                backward = List.copyOf(device.events());
            }
            device.setRecording(false);

            // Forward: per layer-direction one input projection (G, 12, inWidth) and T recurrent GEMMs, T pointwise launches.
            for (List<Event> loop : timeLoops(forward, forwardKernel, true)) {
                assertTrue(loop.stream().allMatch(e -> e.kind() == Kind.GEMM || e.kind() == Kind.LAUNCH),
                        mode + ": forward time loop holds only GEMMs and launches: " + loop);
                assertEquals(T, count(loop, e -> recurrent(e, g, true)), mode + ": recurrent GEMMs in a forward loop");
                assertEquals(T, count(loop, e -> launchOf(e, forwardKernel)), mode + ": " + forwardKernel + " launches in a forward loop");
                assertEquals(2 * T, loop.size(), mode + ": a forward loop is exactly its GEMMs and launches: " + loop);
            }
            assertEquals(LD, count(forward, e -> e.kind() == Kind.GEMM && e.m() == g && e.n() == T * B), "input projections");
            assertEquals(LD * (T + 1), count(forward, e -> e.kind() == Kind.GEMM), "forward GEMMs");

            // Backward: T pointwise launches and T recurrent GEMMs per layer-direction, then one GEMM per weight gradient.
            for (List<Event> loop : timeLoops(backward, backwardKernel, false)) {
                assertTrue(loop.stream().allMatch(e -> e.kind() == Kind.GEMM || e.kind() == Kind.LAUNCH),
                        mode + ": backward time loop holds only GEMMs and launches: " + loop);
                assertEquals(T, count(loop, e -> recurrent(e, g, false)), mode + ": recurrent GEMMs in a backward loop");
                assertEquals(T, count(loop, e -> launchOf(e, backwardKernel)), mode + ": " + backwardKernel + " launches in a backward loop");
                assertEquals(2 * T, loop.size(), mode + ": a backward loop is exactly its GEMMs and launches: " + loop);
            }
            // Reductions over all steps: dW_hh, dW_ih and the bias gradients. Where δ_ih and δ_hh are one
            // buffer (Elman, LSTM), one column sum serves both biases and two 1×1·1×G products add it
            // to each; the GRU's two deltas differ and need a column sum each.
            boolean sharedDelta = mode != RnnMode.GRU;
            long weightGradients = count(backward, e -> e.kind() == Kind.GEMM && e.k() == T * B);
            assertEquals(LD * (sharedDelta ? 3 : 4), weightGradients, "one GEMM each for dW_hh, dW_ih and the bias column sum(s)");
            long biasAccumulations = count(backward, e -> e.kind() == Kind.GEMM && e.n() == 1 && e.k() == 1); // column-major: n is the row-major m
            assertEquals(sharedDelta ? LD * 2 : 0, biasAccumulations, "1×1·1×G products adding the shared column sum to db_ih and db_hh");
            long inputGradients = count(backward, e -> e.kind() == Kind.GEMM && e.n() == T * B && e.k() == g);
            assertEquals(LD, inputGradients, "one dL/d(input) GEMM per layer-direction");
            assertEquals(LD * (T + (sharedDelta ? 6 : 5)), count(backward, e -> e.kind() == Kind.GEMM), "backward GEMMs");

            List<Event> step = new ArrayList<>(forward);
            step.addAll(backward);
            assertEquals(0, count(step, e -> e.kind() == Kind.ALLOCATE || e.kind() == Kind.FREE), "a warmed-up step allocates nothing");
            int downloads = mode == RnnMode.LSTM ? 6 : 4;
            assertEquals(downloads, count(step, e -> e.kind() == Kind.SYNCHRONIZE),
                    "one synchronisation per download: y, hn, dx, dh0 (and cn, dc0 for the LSTM)");
            assertEquals(count(step, e -> e.kind() == Kind.DEVICE_TO_HOST), count(step, e -> e.kind() == Kind.SYNCHRONIZE));

            System.out.printf("%s training step (T=%d B=%d I=%d H=%d, %d layers, bidirectional, f64): forward %d GEMMs, %d launches;"
                            + " backward %d GEMMs, %d launches; %d bytes host→device, %d bytes device→host, %d synchronisations"
                            + " (counters: %d GEMMs, %d synchronisations); peak %d device bytes%n",
                    mode, T, B, I, H, LAYERS, count(forward, e -> e.kind() == Kind.GEMM), count(forward, e -> e.kind() == Kind.LAUNCH),
                    count(backward, e -> e.kind() == Kind.GEMM), count(backward, e -> e.kind() == Kind.LAUNCH),
                    step.stream().filter(e -> e.kind() == Kind.HOST_TO_DEVICE).mapToLong(Event::bytes).sum(),
                    step.stream().filter(e -> e.kind() == Kind.DEVICE_TO_HOST).mapToLong(Event::bytes).sum(),
                    count(step, e -> e.kind() == Kind.SYNCHRONIZE),
                    device.gemmCount() - gemmsBefore, device.synchronizations() - syncsBefore, device.peakDeviceBytes());
        }
        device.checkNoLeaks();
    }
}
