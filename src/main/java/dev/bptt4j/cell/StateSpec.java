package dev.bptt4j.cell;

/**
 * One state a cell carries from step to step, by PyTorch's name for it ({@code h}, {@code c}) and
 * its width per sequence. The first state of every cell is {@code h}, the layer's output.
 */
public record StateSpec(String name, int width) {
    public StateSpec {
        if (name == null || name.isBlank()) throw new IllegalArgumentException("state name: must not be blank");
        if (width < 1) throw new IllegalArgumentException("state " + name + ": width must be >= 1, got " + width);
    }

    /** The name of its initial value in the API and the case files: {@code h0}, {@code c0}. */
    public String initialName() {
        return name + "0";
    }

    /** The name of its final value: {@code hn}, {@code cn}. */
    public String finalName() {
        return name + "n";
    }
}
