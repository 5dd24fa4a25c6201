package dev.bptt4j.diagnostics;

import dev.bptt4j.backend.cpu.CpuBackend;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.model.RnnMode;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import dev.bptt4j.train.SoftmaxHead;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Gradient flow: a tanh RNN with small recurrent weights vanishes; an identity-initialised residual cell does not. */
class GradientFlowTest {
    private static final int STEPS = 20, BATCH = 4, INPUT = 3, HIDDEN = 8, CLASSES = 5;

    private static GradientFlow.Report measure(CpuBackend backend, boolean residual, double recurrentScale) {
        SplittableRandom r = new SplittableRandom(9);
        Tensor x = Tensor.zeros(DType.F64, STEPS, BATCH, INPUT);
        for (int i = 0; i < x.size(); i++) x.setDouble(i, r.nextDouble() * 2 - 1);
        int[] y = new int[STEPS * BATCH];
        for (int i = 0; i < y.length; i++) y[i] = r.nextInt(CLASSES);
        try (Rnn rnn = new Rnn(RnnConfig.of(RnnMode.RNN_TANH, INPUT, HIDDEN).withResidual(residual), backend);
             SoftmaxHead head = new SoftmaxHead(backend, HIDDEN, CLASSES, DType.F64)) {
            rnn.initialize(1);
            head.initialize(2);
            Tensor whh = rnn.parameter("weight_hh_l0");
            for (int i = 0; i < whh.size(); i++) whh.setDouble(i, whh.getDouble(i) * recurrentScale);
            rnn.setParameter("weight_hh_l0", whh);
            Tensor before = rnn.gradient("weight_hh_l0");
            Tensor dy = GradientFlow.lossGradient(rnn, head, x, null, Tensor.ofInts(y, STEPS, BATCH));
            GradientFlow.Report report = GradientFlow.measure(rnn, x, null, dy);
            assertEquals(0.0, rnn.gradient("weight_hh_l0").relativeError(before), "gradients restored");
            assertEquals(0.0, head.gradient("weight").norm(), "head gradients untouched");
            return report;
        }
    }

    @Test
    void smallTanhVanishesResidualDoesNot() throws Exception {
        try (CpuBackend backend = new CpuBackend(1)) {
            GradientFlow.Report tanh = measure(backend, false, 0.3);
            GradientFlow.Report residual = measure(backend, true, 0.0);
            System.out.println("tanh, W_hh x0.3:   " + tanh.summary());
            System.out.println("residual, W_hh=0: " + residual.summary());
            assertEquals(GradientFlow.Verdict.VANISHING, tanh.verdict());
            assertTrue(tanh.factorPerStep() < 0.5, "tanh factor " + tanh.factorPerStep());
            assertEquals(GradientFlow.Verdict.HEALTHY, residual.verdict());
            assertEquals(1.0, residual.factorPerStep(), 1e-9, "identity path: the gradient is carried unchanged");
            for (int t = 0; t < STEPS; t++) {
                assertTrue(Double.isNaN(tanh.norms()[t][Math.min(STEPS - 1, t + 1)]) || t == STEPS - 1, "above the diagonal is NaN");
                assertTrue(tanh.norms()[t][0] >= 0);
            }
            Path dir = Path.of("target", "test-figures");
            Files.createDirectories(dir);
            Map<String, GradientFlow.Report> both = new LinkedHashMap<>();
            both.put("tanh", tanh);
            both.put("residual", residual);
            Plots.gradientFlow(dir.resolve("gradient-flow.png"), both);
            tanh.writeCsv(dir.resolve("gradient-flow-tanh.csv"));
            assertTrue(Files.size(dir.resolve("gradient-flow.png")) > 1000);
            assertTrue(Files.readAllLines(dir.resolve("gradient-flow-tanh.csv")).size() == 1 + STEPS * (STEPS + 1) / 2);
        }
    }
}
