package dev.bptt4j.model;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.Backends;
import dev.bptt4j.cell.States;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Padding variable-length sequences into one batch and splitting results back, as PyTorch's pad_sequence / pad_packed_sequence. */
class SequenceBatchTest {
    /** Three sequences of lengths 3, 1, 2 and width 2; element (t, c) of sequence b is 100·(b+1) + 10·t + c. */
    private static List<Tensor> three(DType dtype) {
        List<Tensor> out = new ArrayList<>();
        int[] lengths = {3, 1, 2};
        for (int b = 0; b < 3; b++) {
            Tensor s = Tensor.zeros(dtype, lengths[b], 2);
            for (int t = 0; t < lengths[b]; t++) for (int c = 0; c < 2; c++) s.setDouble(t * 2 + c, 100 * (b + 1) + 10 * t + c);
            out.add(s);
        }
        return out;
    }

    @Test
    void padsTimeMajorWithZerosAndSplitsBack() {
        List<Tensor> seqs = three(DType.F64);
        SequenceBatch batch = SequenceBatch.of(seqs);
        assertArrayEquals(new int[]{3, 1, 2}, batch.lengths());
        assertEquals(3, batch.steps());
        assertEquals(3, batch.batchSize());
        Tensor x = batch.padded();
        assertArrayEquals(new int[]{3, 3, 2}, x.shape());
        assertEquals(DType.F64, x.dtype());
        assertArrayEquals(new double[]{
                100, 101, 200, 201, 300, 301,   // t = 0: every sequence
                110, 111, 0, 0, 310, 311,       // t = 1: sequence 1 has ended
                120, 121, 0, 0, 0, 0            // t = 2: only sequence 0
        }, x.f64());
        List<Tensor> back = batch.split(x);
        for (int b = 0; b < 3; b++) {
            assertArrayEquals(seqs.get(b).shape(), back.get(b).shape());
            assertArrayEquals(seqs.get(b).f64(), back.get(b).f64(), "sequence " + b);
        }
        // The batch holds copies: changing what it handed out changes nothing inside.
        x.f64()[0] = -1;
        assertEquals(100, batch.padded().f64()[0]);
    }

    @Test
    void float32AndBatchFirst() {
        List<Tensor> seqs = three(DType.F32);
        SequenceBatch batch = SequenceBatch.of(seqs);
        Tensor bf = batch.paddedBatchFirst();
        assertArrayEquals(new int[]{3, 3, 2}, bf.shape());
        assertArrayEquals(new float[]{
                100, 101, 110, 111, 120, 121,   // sequence 0, t = 0..2
                200, 201, 0, 0, 0, 0,           // sequence 1
                300, 301, 310, 311, 0, 0        // sequence 2
        }, bf.f32());
        List<Tensor> back = SequenceBatch.splitBatchFirst(bf, batch.lengths());
        for (int b = 0; b < 3; b++) assertArrayEquals(seqs.get(b).f32(), back.get(b).f32(), "sequence " + b);
        // A (T, B) tensor splits into 1-D sequences; any trailing shape is kept.
        Tensor tb = Tensor.of(new double[]{1, 2, 3, 4, 5, 6}, 2, 3);
        List<Tensor> cols = SequenceBatch.split(tb, new int[]{2, 1, 2});
        assertArrayEquals(new double[]{1, 4}, cols.get(0).f64());
        assertArrayEquals(new double[]{2}, cols.get(1).f64());
        assertArrayEquals(new double[]{3, 6}, cols.get(2).f64());
        Tensor deep = Tensor.zeros(DType.F64, 2, 1, 2, 3);
        for (int i = 0; i < deep.size(); i++) deep.setDouble(i, i);
        List<Tensor> one = SequenceBatch.split(deep, new int[]{1});
        assertArrayEquals(new int[]{1, 2, 3}, one.get(0).shape());
        assertArrayEquals(new double[]{0, 1, 2, 3, 4, 5}, one.get(0).f64());
    }

    @Test
    void targetsPadWithMinusOne() {
        SequenceBatch t = SequenceBatch.ofTargets(List.of(new int[]{4, 0, 2}, new int[]{1}, new int[]{3, -1}));
        Tensor padded = t.padded();
        assertEquals(DType.I32, padded.dtype());
        assertArrayEquals(new int[]{3, 3}, padded.shape());
        assertArrayEquals(new int[]{
                4, 1, 3,
                0, -1, -1,
                2, -1, -1
        }, padded.i32());
        assertArrayEquals(new int[]{3, 1, 2}, t.lengths());
        SequenceBatch fromTensors = SequenceBatch.ofTargetTensors(List.of(Tensor.ofInts(new int[]{4, 0, 2}, 3),
                Tensor.ofInts(new int[]{1}, 1), Tensor.ofInts(new int[]{3, -1}, 2)));
        assertArrayEquals(padded.i32(), fromTensors.padded().i32());
        List<Tensor> back = t.split(padded);
        assertArrayEquals(new int[]{4, 0, 2}, back.get(0).i32());
        assertArrayEquals(new int[]{1}, back.get(1).i32());
        assertArrayEquals(new int[]{3, -1}, back.get(2).i32());
        assertArrayEquals(new int[]{4, 0, 2, 1, -1, -1, 3, -1, -1}, t.paddedBatchFirst().i32());
    }

    /** A forward over the padded batch with its lengths equals each sequence run alone: outputs and final states. */
    @ParameterizedTest
    @EnumSource(value = RnnMode.class, names = {"RNN_TANH", "LSTM", "GRU"})
    void forwardOverTheBatchEqualsPerSequenceForwards(RnnMode mode) {
        SplittableRandom r = new SplittableRandom(5);
        int input = 3, hidden = 4;
        int[] lengths = {5, 2, 7, 1, 7};
        List<Tensor> seqs = new ArrayList<>();
        for (int len : lengths) {
            Tensor s = Tensor.zeros(DType.F64, len, input);
            for (int i = 0; i < s.size(); i++) s.setDouble(i, r.nextDouble() * 2 - 1);
            seqs.add(s);
        }
        SequenceBatch batch = SequenceBatch.of(seqs);
        RnnConfig config = RnnConfig.of(mode, input, hidden).withLayers(2).withBidirectional(true);
        try (Backend backend = Backends.create("cpu"); Rnn rnn = new Rnn(config, backend)) {
            rnn.initialize(11);
            List<Tensor> ys;
            Tensor hn;
            try (Rnn.Pass pass = rnn.forward(batch.padded(), States.ZEROS, batch.lengths())) {
                ys = batch.split(pass.output());
                hn = pass.finalStates().hidden();
            }
            for (int b = 0; b < lengths.length; b++) {
                assertArrayEquals(new int[]{lengths[b], 2 * hidden}, ys.get(b).shape());
                try (Rnn.Pass alone = rnn.forward(seqs.get(b).reshape(lengths[b], 1, input), States.ZEROS, null)) {
                    Tensor expected = alone.output().reshape(lengths[b], 2 * hidden);
                    double err = ys.get(b).relativeError(expected);
                    assertTrue(err < 1e-12, mode + " sequence " + b + ": y differs by " + err);
                    Tensor hAlone = alone.finalStates().hidden();
                    for (int row = 0; row < 4; row++) {
                        for (int c = 0; c < hidden; c++) {
                            double want = hAlone.getDouble(row * hidden + c), got = hn.getDouble((row * lengths.length + b) * hidden + c);
                            assertEquals(want, got, 1e-12 * Math.max(1, Math.abs(want)), mode + " hn row " + row + " sequence " + b);
                        }
                    }
                }
            }
        }
    }

    private static void refused(String expectedMessage, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertEquals(expectedMessage, e.getMessage());
    }

    @Test
    void clearErrors() {
        Tensor a = Tensor.zeros(DType.F64, 2, 3);
        refused("sequences: expected at least one sequence, got an empty list", () -> SequenceBatch.of(List.of()));
        refused("sequences: must not be null", () -> SequenceBatch.of(null));
        refused("sequences[1]: has length 0; every sequence needs at least one step",
                () -> SequenceBatch.of(List.of(a, Tensor.zeros(DType.F64, 0, 3))));
        refused("sequences[2]: dtype F32 differs from sequences[0]'s F64",
                () -> SequenceBatch.of(List.of(a, a, Tensor.zeros(DType.F32, 2, 3))));
        refused("sequences[1]: width 4 differs from sequences[0]'s 3", () -> SequenceBatch.of(List.of(a, Tensor.zeros(DType.F64, 2, 4))));
        refused("sequences[1]: expected a (T_b, I) tensor, got shape [2, 1, 3]", () -> SequenceBatch.of(List.of(a, Tensor.zeros(DType.F64, 2, 1, 3))));
        refused("sequences[0]: expected F32 or F64 values, got I32 (class ids are padded with -1 by SequenceBatch.ofTargets)",
                () -> SequenceBatch.of(List.of(Tensor.ofInts(new int[]{1, 2}, 2, 1))));
        refused("sequences[1]: is null", () -> SequenceBatch.of(Arrays.asList(a, null)));

        refused("targets: expected at least one sequence, got an empty list", () -> SequenceBatch.ofTargets(List.of()));
        refused("targets[1]: has length 0; every sequence needs at least one step", () -> SequenceBatch.ofTargets(List.of(new int[]{1}, new int[0])));
        refused("targets[0][2]: expected a class id >= 0, or -1 for a masked step, got -2", () -> SequenceBatch.ofTargets(List.of(new int[]{1, 0, -2})));
        refused("targets[1]: expected a 1-D I32 tensor (T_b), got I64 [2]",
                () -> SequenceBatch.ofTargetTensors(List.of(Tensor.ofInts(new int[]{1}, 1), Tensor.of(new long[]{1, 2}, 2))));
        refused("targets[0]: expected a 1-D I32 tensor (T_b), got I32 [2, 1]",
                () -> SequenceBatch.ofTargetTensors(List.of(Tensor.ofInts(new int[]{1, 2}, 2, 1))));

        Tensor y = Tensor.zeros(DType.F64, 3, 2, 4);
        refused("lengths[1]: expected 1..3 (T of y [3, 2, 4]), got 4", () -> SequenceBatch.split(y, new int[]{3, 4}));
        refused("lengths[0]: expected 1..3 (T of y [3, 2, 4]), got 0", () -> SequenceBatch.split(y, new int[]{0, 1}));
        refused("lengths: expected one per sequence of y [3, 2, 4] (2), got 3", () -> SequenceBatch.split(y, new int[]{1, 1, 1}));
        refused("lengths[0]: expected 1..2 (T of y [3, 2, 4]), got 3", () -> SequenceBatch.splitBatchFirst(y, new int[]{3, 1, 1}));
        refused("y: expected a (T, B, ...) tensor, got shape [3]", () -> SequenceBatch.split(Tensor.zeros(DType.F64, 3), new int[]{1}));
        SequenceBatch batch = SequenceBatch.of(List.of(a, a));
        refused("lengths: expected one per sequence of y [2, 3, 4] (3), got 2", () -> batch.split(Tensor.zeros(DType.F64, 2, 3, 4)));
    }
}
