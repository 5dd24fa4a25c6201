package dev.bptt4j.model;

import dev.bptt4j.cell.StateSpec;

import dev.bptt4j.backend.Packing;
import dev.bptt4j.cell.States;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.model.ReferenceCase;
import dev.bptt4j.io.SafeTensorsException;
import dev.bptt4j.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;

/** {@link CaseRunner} for the tests, through the resident-tensor path. */
final class ResidentCaseRunner {
    private ResidentCaseRunner() {
    }

    /**
     * {@link CaseRunner#run} through the device-resident path: x and dy are uploaded once into device
     * buffers (at an offset, between guard elements of NaN that any read out of range would
     * spread into the results), the pass reads them in place, and y and dL/dx come back from the
     * device ({@link Rnn.Pass#outputOnDevice()}, dL/dx written into a third guarded buffer).
     */
    static Map<String, Tensor> runResident(ReferenceCase c, Backend backend) throws SafeTensorsException {
        RnnConfig cfg = c.config();
        Tensor x = c.tensor("x");
        Tensor dy = c.tensor("dy");
        int steps = x.dim(cfg.batchFirst() ? 1 : 0), batch = x.dim(cfg.batchFirst() ? 0 : 1);
        int[] lengths = Rnn.lengthsFrom(c.optional("lengths"));
        final long guard = 5;
        try (Rnn rnn = new Rnn(cfg, backend);
             DeviceBuffer xs = guarded(backend, x, guard);
             DeviceBuffer dys = guarded(backend, dy, guard);
             DeviceBuffer dxs = guarded(backend, Tensor.zeros(x.dtype(), x.shape()), guard)) {
            rnn.loadStateDict(c.weights(), false);
            rnn.zeroGrad();
            Map<String, Tensor> out = new LinkedHashMap<>();
            try (Rnn.Pass pass = rnn.forwardOnDevice(new DeviceSlice(xs, guard), steps, batch, CaseRunner.initialStates(c), lengths)) {
                DeviceSlice y = pass.outputOnDevice();
                out.put("y", cfg.batchFirst() ? backend.download(y, batch, steps, cfg.outputSize()) : backend.download(y, steps, batch, cfg.outputSize()));
                for (StateSpec s : rnn.states()) out.put(s.finalName(), pass.finalStates().get(s.name()));
                Rnn.InputGradients g = pass.backwardOnDevice(new DeviceSlice(dys, guard), CaseRunner.finalStateGradients(c), new DeviceSlice(dxs, guard));
                out.put("grad.x", backend.download(new DeviceSlice(dxs, guard), x.shape()));
                for (StateSpec s : rnn.states()) out.put("grad." + s.initialName(), g.initialStates().get(s.name()));
            }
            for (String n : rnn.parameterNames()) out.put("grad." + n, rnn.gradient(n));
            requireUntouched(backend, xs, guard, x, "x");
            requireUntouched(backend, dys, guard, dy, "dy");
            requireUntouched(backend, dxs, guard, null, "dL/dx");
            return out;
        }
    }

    /** The guards must still be NaN and, for an input, its elements as uploaded: the pass only reads it. */
    private static void requireUntouched(Backend backend, DeviceBuffer b, long guard, Tensor input, String name) {
        double[] all = backend.download(DeviceSlice.of(b), Math.toIntExact(b.elements())).toDoubleArray();
        for (int i = 0; i < all.length; i++) {
            boolean inGuard = i < guard || i >= all.length - guard;
            if (inGuard && !Double.isNaN(all[i])) throw new IllegalStateException(name + ": guard element " + i + " was overwritten");
            if (!inGuard && input != null && Double.compare(all[i], input.getDouble(i - (int) guard)) != 0) {
                throw new IllegalStateException(name + ": element " + (i - guard) + " was modified by the pass");
            }
        }
    }

    /** A device copy of {@code t} from element {@code guard}, with {@code guard} NaNs before and after it. */
    private static DeviceBuffer guarded(Backend backend, Tensor t, long guard) {
        DeviceBuffer b = backend.allocate(t.dtype(), t.size() + 2 * guard);
        try {
            Packing.fill(backend, DeviceSlice.of(b), b.elements(), Double.NaN);
            backend.upload(t, new DeviceSlice(b, guard));
            return b;
        } catch (RuntimeException e) {
            b.close();
            throw e;
        }
    }
}
