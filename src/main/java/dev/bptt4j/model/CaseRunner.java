package dev.bptt4j.model;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.cell.StateSpec;
import dev.bptt4j.cell.States;
import dev.bptt4j.io.SafeTensorsException;
import dev.bptt4j.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Runs a reference case: forward, then backward of L = Σ y·dy + Σ_s Σ sn·dsn over the cell's
 * states s (hn; hn and cn for the LSTM), producing tensors named and shaped as the case's expected
 * results (y, hn, cn, grad.x, grad.h0, grad.c0, grad.&lt;param&gt;).
 */
public final class CaseRunner {
    private CaseRunner() {
    }

    /** The initial states a case gives (h0, c0: absent ones are zeros). */
    public static States initialStates(ReferenceCase c) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (StateSpec s : c.config().cell().states()) m.put(s.name(), c.optional(s.initialName()));
        return States.of(m);
    }

    /** The gradients of the final states a case gives (dhn, dcn: absent ones are zeros). */
    public static States finalStateGradients(ReferenceCase c) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (StateSpec s : c.config().cell().states()) m.put(s.name(), c.optional("d" + s.finalName()));
        return States.of(m);
    }

    public static Map<String, Tensor> run(ReferenceCase c, Backend backend) throws SafeTensorsException {
        RnnConfig cfg = c.config();
        Tensor x = c.tensor("x");
        int[] lengths = Rnn.lengthsFrom(c.optional("lengths"));
        Tensor dy = c.tensor("dy");
        try (Rnn rnn = new Rnn(cfg, backend)) {
            rnn.loadStateDict(c.weights(), false);
            rnn.zeroGrad();
            Map<String, Tensor> out = new LinkedHashMap<>();
            try (Rnn.Pass pass = rnn.forward(x, initialStates(c), lengths)) {
                out.put("y", pass.output());
                States last = pass.finalStates();
                for (StateSpec s : rnn.states()) out.put(s.finalName(), last.get(s.name()));
                Rnn.InputGradients g = pass.backward(dy, finalStateGradients(c), true);
                out.put("grad.x", g.input());
                for (StateSpec s : rnn.states()) out.put("grad." + s.initialName(), g.initialStates().get(s.name()));
            }
            for (String n : rnn.parameterNames()) out.put("grad." + n, rnn.gradient(n));
            return out;
        }
    }
}
