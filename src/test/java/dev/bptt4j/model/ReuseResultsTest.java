package dev.bptt4j.model;

import dev.bptt4j.cell.States;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.Backends;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

/**
 * With reuse on, forward/backward return the same result tensors call after call, holding
 * bitwise what fresh tensors would hold; a new shape gets a new tensor; turning reuse off
 * returns fresh ones again. On the CPU and the emulated CUDA backend, for the Elman RNN (full
 * batch: the direct y download), a packed one-direction GRU (y and dL/dx moved row by row from the
 * slot layout) and a packed bidirectional LSTM (gathered y, cn, dc0). The second call changes the
 * lengths at the same shape, so rows that held values become padding and must read zero again.
 */
class ReuseResultsTest {
    @Test
    void reusedResultsEqualFreshOnesAndAreTheSameObjects() {
        for (String device : new String[]{"cpu", "cuda-emulated"}) {
            check(device, RnnConfig.of(RnnMode.RNN_TANH, 5, 7).withDType(DType.F64), null);
            check(device, RnnConfig.of(RnnMode.GRU, 5, 7).withDType(DType.F32), new int[]{4, 2, 3});
            check(device, RnnConfig.of(RnnMode.LSTM, 5, 7).withBidirectional(true).withLayers(2).withDType(DType.F32), new int[]{4, 2, 3});
        }
    }

    private static void check(String device, RnnConfig config, int[] lengths) {
        int steps = 4, batch = 3;
        try (Backend b1 = Backends.create(device); Backend b2 = Backends.create(device);
             Rnn fresh = new Rnn(config, b1); Rnn reused = new Rnn(config, b2)) {
            fresh.initialize(3);
            reused.initialize(3);
            reused.setReuseResults(true);
            SplittableRandom random = new SplittableRandom(9);
            Tensor[] previous = null;
            for (int call = 0; call < 3; call++) {
                int t = call == 2 ? steps + 1 : steps;  // the third call changes T: new y and dx tensors
                int[] len = lengths == null ? null : lengths.clone();
                if (len != null && call == 1) for (int i = 0; i < len.length; i++) len[i] = lengths[(i + 1) % len.length];
                if (len != null && call == 2) len[0] = t;
                Tensor x = random(random, config.dtype(), t, batch, config.inputSize());
                Tensor dy = random(random, config.dtype(), t, batch, config.directions() * config.hiddenSize());
                Tensor[] want = run(fresh, x, dy, len);
                Tensor[] got = run(reused, x, dy, len);
                for (int i = 0; i < want.length; i++) {
                    if (want[i] == null) continue;
                    assertArrayEquals(want[i].toDoubleArray(), got[i].toDoubleArray(), device + " " + config.mode() + " result " + i + " call " + call);
                }
                if (previous != null) {
                    boolean sameT = call == 1;
                    for (int i : new int[]{0, 2}) {  // y and dL/dx depend on T; hn and dL/dh0 do not
                        if (sameT) assertSame(previous[i], got[i], "result " + i + " reused at the same shape");
                        else assertNotSame(previous[i], got[i], "result " + i + " at a new shape");
                    }
                    assertSame(previous[1], got[1], "hn reused");
                    assertSame(previous[3], got[3], "dL/dh0 reused");
                }
                previous = got;
            }
            reused.setReuseResults(false);
            Tensor x = random(random, config.dtype(), steps, batch, config.inputSize());
            Tensor dy = random(random, config.dtype(), steps, batch, config.directions() * config.hiddenSize());
            Tensor[] after = run(reused, x, dy, lengths);
            assertNotSame(previous[1], after[1], "fresh tensors again with reuse off");
        }
    }

    /** y, hn, dL/dx, dL/dh0 (and cn, dL/dc0 for the LSTM) of one training step. */
    private static Tensor[] run(Rnn rnn, Tensor x, Tensor dy, int[] lengths) {
        try (Rnn.Pass pass = rnn.forward(x, States.ZEROS, lengths)) {
            Rnn.InputGradients g = pass.backward(dy, States.ZEROS, true);
            return new Tensor[]{pass.output(), pass.finalStates().hidden(), g.input(), g.initialHidden(), g.initialStates().cell()};
        }
    }

    private static Tensor random(SplittableRandom r, DType dtype, int... shape) {
        Tensor t = Tensor.zeros(DType.F64, shape);
        double[] v = t.f64();
        for (int i = 0; i < v.length; i++) v[i] = r.nextDouble() * 2 - 1;
        return t.to(dtype);
    }
}
