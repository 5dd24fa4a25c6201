package dev.bptt4j.model;

import dev.bptt4j.cell.States;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A few seeded training steps (varying T, lengths, forward + backward, zeroGrad every other step)
 * whose every result is kept by name, and bitwise comparison of two such runs.
 */
final class TrainingRuns {
    private TrainingRuns() {
    }

    /** Outputs and input gradients of every step, then the accumulated parameter gradients, by name. */
    static Map<String, Tensor> run(Backend backend, RnnConfig cfg, long seed, int steps, int batch) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        RandomCases rc = new RandomCases(seed);
        int states = cfg.numLayers() * cfg.directions();
        boolean lstm = cfg.mode() == RnnMode.LSTM;
        try (Rnn rnn = new Rnn(cfg, backend)) {
            rnn.initialize(seed);
            for (int step = 0; step < steps; step++) {
                int t = 1 + rc.nextInt(8);
                int[] lengths = rc.lengths(batch, t);
                Tensor x = rc.uniform(cfg.dtype(), 1, t, batch, cfg.inputSize());
                Tensor h0 = rc.uniform(cfg.dtype(), 0.5, states, batch, cfg.hiddenSize());
                Tensor c0 = lstm ? rc.uniform(cfg.dtype(), 0.5, states, batch, cfg.hiddenSize()) : null;
                Tensor dy = rc.uniform(cfg.dtype(), 1, t, batch, cfg.directions() * cfg.hiddenSize());
                Tensor dhn = rc.uniform(cfg.dtype(), 1, states, batch, cfg.hiddenSize());
                Tensor dcn = lstm ? rc.uniform(cfg.dtype(), 1, states, batch, cfg.hiddenSize()) : null;
                if (step % 2 == 0) rnn.zeroGrad();
                try (Rnn.Pass pass = rnn.forward(x, States.of("h", h0, "c", c0), lengths)) {
                    out.put(step + ".y", pass.output());
                    out.put(step + ".hn", pass.finalStates().hidden());
                    if (lstm) out.put(step + ".cn", pass.finalStates().cell());
                    Rnn.InputGradients g = pass.backward(dy, States.of("h", dhn, "c", dcn), true);
                    out.put(step + ".dx", g.input());
                    out.put(step + ".dh0", g.initialHidden());
                    if (lstm) out.put(step + ".dc0", g.initialStates().cell());
                }
            }
            for (Map.Entry<String, Tensor> e : rnn.gradients().entrySet()) out.put("grad." + e.getKey(), e.getValue());
        }
        return out;
    }

    /** Names of the tensors whose bits differ (empty when the runs are bitwise identical). */
    static List<String> bitwiseDifferences(Map<String, Tensor> expected, Map<String, Tensor> actual) {
        List<String> differ = new ArrayList<>();
        if (!expected.keySet().equals(actual.keySet())) differ.add("names: " + expected.keySet() + " vs " + actual.keySet());
        for (String name : expected.keySet()) {
            Tensor a = expected.get(name), b = actual.get(name);
            if (b == null || !java.util.Arrays.equals(a.shape(), b.shape()) || a.dtype() != b.dtype()) {
                differ.add(name);
                continue;
            }
            for (int i = 0; i < a.size(); i++) {
                if (bits(a, i) != bits(b, i)) {
                    differ.add(name + "[" + i + "]: " + a.getDouble(i) + " vs " + b.getDouble(i));
                    break;
                }
            }
        }
        return differ;
    }

    private static long bits(Tensor t, int i) {
        return t.dtype() == DType.F32 ? Float.floatToRawIntBits(t.f32()[i]) : Double.doubleToRawLongBits(t.f64()[i]);
    }

    static int elementCount(Map<String, Tensor> run) {
        int n = 0;
        for (Tensor t : run.values()) n += t.size();
        return n;
    }
}
