package dev.bptt4j.train;

/**
 * How per-step cross-entropies combine into L. Both sum over time (L = Σ_t L_t, the BPTT
 * objective); {@link #MEAN} then divides by the batch size B, {@link #SUM} does not.
 */
public enum Reduction {
    MEAN,
    SUM
}
