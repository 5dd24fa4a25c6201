package dev.bptt4j.backend;

/**
 * The right operand op(B) of many GEMMs, prepared once in a backend-private layout (a BLAS's
 * "packed" form): the recurrent weight across every step of a pass. It describes products
 * {@code C = A·op(B) + beta·C} with A of exactly {@link #rows()} rows; B must not change while it
 * is open. Closing it releases the prepared copy.
 */
public interface PackedOperand extends AutoCloseable {
    /** The row count m of A (and C) it was prepared for. */
    int rows();

    /** Columns n of op(B) and C. */
    int columns();

    /** The inner dimension k. */
    int depth();

    @Override
    void close();
}
