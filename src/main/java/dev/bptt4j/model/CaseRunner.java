package dev.bptt4j.model;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.io.ReferenceCase;
import dev.bptt4j.io.SafeTensorsException;
import dev.bptt4j.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Runs a reference case: forward, then backward of L = Σ y·dy + Σ hn·dhn [+ Σ cn·dcn], producing
 * tensors named and shaped as the case's expected results (y, hn, cn, grad.x, grad.h0, grad.c0,
 * grad.&lt;param&gt;; cn and grad.c0 for the LSTM only).
 */
public final class CaseRunner {
    private CaseRunner() {
    }

    public static Map<String, Tensor> run(ReferenceCase c, Backend backend) throws SafeTensorsException {
        RnnConfig cfg = c.config();
        boolean lstm = cfg.mode() == RnnMode.LSTM;
        Tensor x = c.tensor("x");
        Tensor h0 = c.optional("h0");
        int[] lengths = Rnn.lengthsFrom(c.optional("lengths"));
        Tensor dy = c.tensor("dy");
        Tensor dhn = c.optional("dhn");
        Tensor c0 = lstm ? c.optional("c0") : null;
        Tensor dcn = lstm ? c.optional("dcn") : null;
        try (Rnn rnn = new Rnn(cfg, backend)) {
            rnn.loadStateDict(c.weights(), false);
            rnn.zeroGrad();
            Map<String, Tensor> out = new LinkedHashMap<>();
            try (Rnn.Pass pass = rnn.forward(x, h0, c0, lengths)) {
                out.put("y", pass.output());
                out.put("hn", pass.finalHidden());
                if (lstm) out.put("cn", pass.finalCell());
                Rnn.InputGradients g = pass.backward(dy, dhn, dcn, true);
                out.put("grad.x", g.input());
                out.put("grad.h0", g.initialHidden());
                if (lstm) out.put("grad.c0", g.initialCell());
            }
            for (String n : rnn.parameterNames()) out.put("grad." + n, rnn.gradient(n));
            return out;
        }
    }
}
