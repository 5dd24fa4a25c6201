package dev.bptt4j.cell;

/**
 * A per-step tensor a cell keeps for itself beyond the gates and states (for instance what a
 * projection multiplies), stored in the slot layout like the gates: {@code width} values per row
 * of every step's slot. The algorithm allocates it per layer and direction and hands each step
 * its slot ({@link Step#workspace}); what the cell leaves in it between forward and backward stays.
 */
public record StepTensor(String name, int width) {
    public StepTensor {
        if (width < 1) throw new IllegalArgumentException("step tensor " + name + ": width must be >= 1, got " + width);
    }
}
