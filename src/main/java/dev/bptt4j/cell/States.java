package dev.bptt4j.cell;

import dev.bptt4j.tensor.Tensor;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A cell's states as one value: host tensors by state name ({@code h} for every cell, {@code c}
 * for the LSTM), each (L·D, B, width) with row {@code layer·D + direction}. Whatever takes initial
 * states takes all of them in one {@code States}, and whatever returns final states (or their
 * gradients) returns all of them, so no path can carry one state and forget another. A state that
 * is absent stands for zeros.
 *
 * <pre>{@code
 * States initial = States.of("h", h0, "c", c0);   // or States.ZEROS
 * try (Rnn.Pass pass = rnn.forward(x, initial, lengths)) {
 *     States last = pass.finalStates();          // hn and, for the LSTM, cn
 * }
 * }</pre>
 */
public final class States {
    /** Every state zero. */
    public static final States ZEROS = new States(Map.of());

    private final Map<String, Tensor> byName;

    private States(Map<String, Tensor> byName) {
        this.byName = Collections.unmodifiableMap(byName);
    }

    /** States from alternating names and tensors, e.g. {@code of("h", h0, "c", c0)}; a null tensor is left out (zeros). */
    public static States of(Object... namesAndTensors) {
        if (namesAndTensors.length % 2 != 0) throw new IllegalArgumentException("states: expected name, tensor pairs");
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (int i = 0; i < namesAndTensors.length; i += 2) {
            if (!(namesAndTensors[i] instanceof String name)) {
                throw new IllegalArgumentException("states: entry " + i / 2 + " has no name (expected a String, got " + namesAndTensors[i] + ")");
            }
            Object t = namesAndTensors[i + 1];
            if (t != null && !(t instanceof Tensor)) throw new IllegalArgumentException("state " + name + ": expected a Tensor, got " + t);
            put(m, name, (Tensor) t);
        }
        return new States(m);
    }

    /** States from a map of names to tensors (null values are left out). */
    public static States of(Map<String, Tensor> byName) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        byName.forEach((n, t) -> put(m, n, t));
        return new States(m);
    }

    /** Only the hidden state {@code h} (the others zero): enough for the Elman cells and the GRU. */
    public static States hidden(Tensor h) {
        return of("h", h);
    }

    private static void put(Map<String, Tensor> m, String name, Tensor t) {
        if (m.containsKey(name)) throw new IllegalArgumentException("state " + name + ": given twice");
        if (t != null) m.put(name, t);
    }

    /** The same states with {@code name} set to {@code t} (null: zeros). */
    public States with(String name, Tensor t) {
        Map<String, Tensor> m = new LinkedHashMap<>(byName);
        m.remove(name);
        if (t != null) m.put(name, t);
        return new States(m);
    }

    /** The tensor of state {@code name}, or null when it is absent (zeros). */
    public Tensor get(String name) {
        return byName.get(name);
    }

    /** {@code h}. */
    public Tensor hidden() {
        return get("h");
    }

    /** {@code c} (the LSTM's cell state), or null. */
    public Tensor cell() {
        return get("c");
    }

    /** Names of the states present, in the order given. */
    public Set<String> names() {
        return byName.keySet();
    }

    public boolean isEmpty() {
        return byName.isEmpty();
    }

    /** The states present, by name. */
    public Map<String, Tensor> asMap() {
        return byName;
    }

    /** Null stands for all zeros wherever states are taken. */
    public static States orZeros(States s) {
        return s == null ? ZEROS : s;
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("States[");
        byName.forEach((n, t) -> s.append(s.length() > 7 ? ", " : "").append(n).append('=').append(t));
        return s.append(']').toString();
    }
}
