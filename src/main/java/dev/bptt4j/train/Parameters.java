package dev.bptt4j.train;

import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.model.Rnn;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Collects the trainable tensors of a model (an {@link Rnn} and its {@link SoftmaxHead}) for optimisers and clipping. */
public final class Parameters {
    private Parameters() {
    }

    /** The RNN's parameters as {@code rnn.<pytorch name>} and the head's as {@code head.weight}, {@code head.bias}. */
    public static List<Parameter> of(Rnn rnn, SoftmaxHead head) {
        List<Parameter> out = new ArrayList<>(of("rnn.", rnn.parameterBuffers(), rnn.gradientBuffers()));
        if (head != null) out.addAll(of("head.", head.parameterBuffers(), head.gradientBuffers()));
        return out;
    }

    static List<Parameter> of(String prefix, Map<String, DeviceBuffer> values, Map<String, DeviceBuffer> gradients) {
        List<Parameter> out = new ArrayList<>();
        for (Map.Entry<String, DeviceBuffer> e : values.entrySet()) {
            out.add(new Parameter(prefix + e.getKey(), e.getValue(), gradients.get(e.getKey())));
        }
        return out;
    }
}
