package dev.bptt4j.algo;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.cell.StateSpec;
import dev.bptt4j.cell.States;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The host tensors a pass returns (y, final states, dL/dx, gradients of initial states). With
 * reuse on, the same tensor comes back for a role call after call, overwritten by the next call
 * with that shape, so a warmed-up training loop allocates almost nothing on the Java heap; off
 * (the default), every call returns fresh tensors.
 */
final class HostResults {
    private final Backend backend;
    private final DType dtype;
    private final Map<String, Tensor> kept = new HashMap<>();
    private final Map<String, States> keptStates = new HashMap<>();
    private boolean reuse;

    HostResults(Backend backend, DType dtype) {
        this.backend = backend;
        this.dtype = dtype;
    }

    void setReuse(boolean on) {
        reuse = on;
        if (!on) {
            kept.clear();
            keptStates.clear();
        }
    }

    /**
     * The states of {@code tensors} by {@code names}: with reuse on, the same {@link States} as the
     * last call of this role when its tensors are the same objects (they are, once warmed up).
     */
    States states(String role, List<StateSpec> names, Tensor[] tensors) {
        States last = reuse ? keptStates.get(role) : null;
        if (last != null) {
            boolean same = true;
            for (int i = 0; i < tensors.length && same; i++) same = last.get(names.get(i).name()) == tensors[i];
            if (same) return last;
        }
        Map<String, Tensor> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < tensors.length; i++) m.put(names.get(i).name(), tensors[i]);
        States made = States.of(m);
        if (reuse) keptStates.put(role, made);
        return made;
    }

    /** A downloaded result: into the kept tensor of this role when reuse is on and the shape matches. */
    Tensor download(String role, DeviceSlice source, int... shape) {
        if (!reuse) return backend.download(source, shape);
        Tensor t = tensor(role, shape);
        backend.downloadInto(source, t);
        return t;
    }

    /** The host tensor a result of this role is written into: the kept one when reuse is on, else a new one. */
    Tensor tensor(String role, int... shape) {
        if (!reuse) return Tensor.zeros(dtype, shape);
        Tensor t = kept.get(role);
        if (t == null || !sameShape(t, shape)) {
            t = Tensor.zeros(dtype, shape);
            kept.put(role, t);
        }
        return t;
    }

    private static boolean sameShape(Tensor t, int[] shape) {
        if (t.rank() != shape.length) return false;
        for (int i = 0; i < shape.length; i++) if (t.dim(i) != shape[i]) return false;
        return true;
    }
}
