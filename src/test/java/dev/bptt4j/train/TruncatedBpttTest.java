package dev.bptt4j.train;

import dev.bptt4j.cell.States;

import dev.bptt4j.backend.cpu.CpuBackend;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.model.RnnMode;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Truncated BPTT: k = T is full BPTT through the plain host API; k < T keeps the forward (loss) exact. */
class TruncatedBpttTest {

    @Test
    void chunkOfTheWholeSequenceIsFullBptt() {
        SplittableRandom r = new SplittableRandom(5);
        int steps = 12, batch = 4, input = 3, hidden = 6, classes = 7;
        Tensor x = LossGradientCheckTest.uniform(r, DType.F64, steps, batch, input);
        Tensor y = LossGradientCheckTest.targets(r, steps, batch, classes);
        try (CpuBackend backend = new CpuBackend(1);
             Rnn rnn = new Rnn(RnnConfig.of(RnnMode.RNN_TANH, input, hidden), backend);
             SoftmaxHead head = new SoftmaxHead(backend, hidden, classes, DType.F64)) {
            rnn.initialize(1);
            head.initialize(2);
            double loss = new TruncatedBptt(rnn, head, steps, Reduction.MEAN).run(x, y, null, null).loss();
            Map<String, Tensor> tbptt = rnn.gradients();
            Tensor dV = head.gradient("weight");

            // Full BPTT by hand: host forward, host softmax gradient, host backward.
            rnn.zeroGrad();
            double[] V = head.parameter("weight").f64();
            Tensor dy = Tensor.zeros(DType.F64, steps, batch, hidden);
            double[] dVHand = new double[classes * hidden];
            double hostLoss = 0;
            try (Rnn.Pass pass = rnn.forward(x, States.ZEROS, null)) {
                double[] h = pass.output().f64();
                for (int row = 0; row < steps * batch; row++) {
                    int t = y.i32()[row];
                    if (t < 0) continue;
                    double[] z = head.logitsOf(java.util.Arrays.copyOfRange(h, row * hidden, (row + 1) * hidden));
                    double max = Double.NEGATIVE_INFINITY, s = 0;
                    for (double v : z) max = Math.max(max, v);
                    for (double v : z) s += Math.exp(v - max);
                    hostLoss += (max + Math.log(s) - z[t]) / batch;
                    for (int c = 0; c < classes; c++) {
                        double g = (Math.exp(z[c] - max) / s - (c == t ? 1 : 0)) / batch;
                        for (int j = 0; j < hidden; j++) {
                            dy.f64()[row * hidden + j] += g * V[c * hidden + j];
                            dVHand[c * hidden + j] += g * h[row * hidden + j];
                        }
                    }
                }
                pass.backward(dy, States.ZEROS, false);
            }
            System.out.printf("loss: tBPTT(k=T) %.17g, by hand %.17g%n", loss, hostLoss);
            assertEquals(hostLoss, loss, 1e-12);
            assertTrue(dV.relativeError(Tensor.of(dVHand, classes, hidden)) <= 1e-12, "head.weight");
            for (String name : rnn.parameterNames()) {
                double err = tbptt.get(name).relativeError(rnn.gradient(name));
                System.out.printf("  %-14s tBPTT(k=T) vs full BPTT: relative difference %.2e (tolerance 1e-12)%n", name, err);
                assertTrue(err <= 1e-12, name + ": " + err);
            }
        }
    }

    @Test
    void chunkedForwardCarriesTheState() {
        SplittableRandom r = new SplittableRandom(6);
        int steps = 10, batch = 2, input = 2, hidden = 5, classes = 3;
        Tensor x = LossGradientCheckTest.uniform(r, DType.F64, steps, batch, input);
        Tensor y = LossGradientCheckTest.targets(r, steps, batch, classes);
        try (CpuBackend backend = new CpuBackend(1);
             Rnn rnn = new Rnn(RnnConfig.of(RnnMode.RNN_TANH, input, hidden).withLayers(2), backend);
             SoftmaxHead head = new SoftmaxHead(backend, hidden, classes, DType.F64)) {
            rnn.initialize(1);
            head.initialize(2);
            TruncatedBptt.Result full = new TruncatedBptt(rnn, head, steps, Reduction.SUM).evaluate(x, y, null);
            int[] chunks = new int[1];
            TruncatedBptt.Result chunked = new TruncatedBptt(rnn, head, 3, Reduction.SUM).run(x, y, null, (c, l) -> chunks[0]++);
            System.out.printf("loss: full %.17g, k=3 %.17g over %d chunks%n", full.loss(), chunked.loss(), chunks[0]);
            assertEquals(4, chunks[0]);
            assertEquals(full.loss(), chunked.loss(), 1e-12);
            assertEquals(full.tokens(), chunked.tokens());
            assertTrue(full.finalStates().hidden().relativeError(chunked.finalStates().hidden()) <= 1e-14, "final state");
        }
    }
}
