package dev.bptt4j.model;

import dev.bptt4j.backend.cpu.CpuBackend;
import dev.bptt4j.cell.States;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The workspace a pass is estimated to hold before anything is allocated ({@link Rnn#estimatedWorkspaceBytes},
 * {@link Rnn#estimatedInferenceBytes}), which bench and the demos check against the memory available, held
 * against what the pass then holds ({@link Rnn#workspaceBytes()}): never below it, and not far above.
 */
class WorkspaceEstimateTest {
    private record Kind(String name, RnnConfig config) {
    }

    private static List<Kind> kinds() {
        List<Kind> k = new ArrayList<>();
        k.add(new Kind("tanh", RnnConfig.of(RnnMode.RNN_TANH, 5, 7)));
        k.add(new Kind("tanh 3 layers bidirectional f32", RnnConfig.of(RnnMode.RNN_TANH, 5, 7).withLayers(3).withBidirectional(true).withDType(DType.F32)));
        k.add(new Kind("LSTM 2 layers", RnnConfig.of(RnnMode.LSTM, 4, 6).withLayers(2)));
        k.add(new Kind("LSTM projected bidirectional", RnnConfig.of(RnnMode.LSTM, 4, 6).withProjection(3).withBidirectional(true)));
        k.add(new Kind("GRU 2 layers dropout", RnnConfig.of(RnnMode.GRU, 3, 8).withLayers(2).withDropout(0.3)));
        k.add(new Kind("GRU batch-first", RnnConfig.of(RnnMode.GRU, 3, 8).withBatchFirst(true)));
        k.add(new Kind("relu no bias", RnnConfig.of(RnnMode.RNN_RELU, 6, 5).withBias(false)));
        k.add(new Kind("LSTM 2 layers checkpointed k=3", RnnConfig.of(RnnMode.LSTM, 4, 6).withLayers(2).withActivationCheckpoints(3)));
        k.add(new Kind("GRU bidirectional dropout checkpointed √T", RnnConfig.of(RnnMode.GRU, 3, 8).withLayers(2).withBidirectional(true)
                .withDropout(0.2).withActivationCheckpoints(RnnConfig.AUTO_CHECKPOINTS)));
        k.add(new Kind("tanh batch-first checkpointed k=1 f32", RnnConfig.of(RnnMode.RNN_TANH, 5, 7).withBatchFirst(true)
                .withActivationCheckpoints(1).withDType(DType.F32)));
        return k;
    }

    private static void within(String what, long estimate, long actual) {
        System.out.printf("%-70s estimate %9d, held %9d bytes (%.2f)%n", what, estimate, actual, (double) estimate / actual);
        assertTrue(estimate >= actual, what + ": estimate " + estimate + " below what the pass held, " + actual);
        assertTrue(estimate <= 1.05 * actual + 256, what + ": estimate " + estimate + " far above what the pass held, " + actual);
    }

    @Test
    void theEstimateCoversWhatEachPassHolds() {
        SplittableRandom random = new SplittableRandom(3);
        try (CpuBackend backend = new CpuBackend(1)) {
            for (Kind kind : kinds()) {
                RnnConfig c = kind.config();
                for (int[] tb : new int[][]{{1, 1}, {9, 4}, {30, 16}, {200, 32}, {700, 24}}) {
                    int steps = tb[0], batch = tb[1];
                    int[] lengths = null;
                    if (steps > 1) {
                        lengths = new int[batch];
                        for (int b = 0; b < batch; b++) lengths[b] = 1 + random.nextInt(steps);
                        lengths[0] = steps;
                    }
                    for (int[] l : new int[][]{null, lengths}) {
                        if (l == null && lengths == null && steps > 1) continue;
                        String what = kind.name() + " T=" + steps + " B=" + batch + (l == null ? "" : " packed");
                        int[] shape = c.batchFirst() ? new int[]{batch, steps, c.inputSize()} : new int[]{steps, batch, c.inputSize()};
                        int[] dyShape = c.batchFirst() ? new int[]{batch, steps, c.outputSize()} : new int[]{steps, batch, c.outputSize()};
                        Tensor x = Tensor.zeros(c.dtype(), shape), dy = Tensor.zeros(c.dtype(), dyShape);
                        for (boolean train : new boolean[]{false, true}) {
                            try (Rnn rnn = new Rnn(c, backend)) {
                                rnn.initialize(1);
                                try (Rnn.Pass p = rnn.forward(x, States.ZEROS, l)) {
                                    if (train) p.backward(dy, States.ZEROS, true);
                                }
                                within(what + (train ? " train" : " forward"), Rnn.estimatedWorkspaceBytes(c, steps, batch, l, train, true),
                                        rnn.workspaceBytes());
                            }
                        }
                        if (c.dropout() == 0) {
                            try (Rnn rnn = new Rnn(c, backend)) {
                                rnn.initialize(1);
                                rnn.infer(x, States.ZEROS, l);
                                within(what + " infer", Rnn.estimatedInferenceBytes(c, steps, batch, l), rnn.workspaceBytes());
                            }
                        }
                    }
                }
            }
        }
    }
}
