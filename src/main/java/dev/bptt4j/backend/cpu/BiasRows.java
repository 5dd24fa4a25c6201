package dev.bptt4j.backend.cpu;

import java.util.Arrays;

/**
 * Both biases repeated over a step's rows, so the fused bias-add + activation is one flat loop
 * (JDK 17's C2 does not vectorise a row loop that indexes z by row offset and the bias by
 * column). Rebuilt only when the bias values (compared bit for bit) or the width change, or more
 * rows are needed: within a pass, and between passes until the optimiser moves the biases, every
 * step reuses them. {@code A} is float[] or double[].
 */
abstract class BiasRows<A> {
    /** Each bias repeated over {@code rows} rows (at least), row-major. */
    A ih, hh;
    private A ihRow, hhRow;
    private int rows, width = -1;

    abstract A newArray(int n);

    /** Whether the first {@code width} values of the two arrays are bitwise equal. */
    abstract boolean sameValues(A kept, A given, int width);

    /** The rows of {@code bih} and {@code bhh} (their first {@code width} values), rebuilt if needed. */
    BiasRows<A> of(A bih, A bhh, int rows, int width) {
        if (width == this.width && rows <= this.rows && sameValues(ihRow, bih, width) && sameValues(hhRow, bhh, width)) return this;
        ihRow = newArray(width);
        hhRow = newArray(width);
        System.arraycopy(bih, 0, ihRow, 0, width);
        System.arraycopy(bhh, 0, hhRow, 0, width);
        this.rows = width == this.width ? Math.max(rows, this.rows) : rows;
        this.width = width;
        ih = newArray(this.rows * width);
        hh = newArray(this.rows * width);
        for (int r = 0; r < this.rows; r++) {
            System.arraycopy(ihRow, 0, ih, r * width, width);
            System.arraycopy(hhRow, 0, hh, r * width, width);
        }
        return this;
    }

    static final class Floats extends BiasRows<float[]> {
        @Override
        float[] newArray(int n) {
            return new float[n];
        }

        @Override
        boolean sameValues(float[] kept, float[] given, int width) {
            return Arrays.equals(kept, 0, width, given, 0, width);
        }
    }

    static final class Doubles extends BiasRows<double[]> {
        @Override
        double[] newArray(int n) {
            return new double[n];
        }

        @Override
        boolean sameValues(double[] kept, double[] given, int width) {
            return Arrays.equals(kept, 0, width, given, 0, width);
        }
    }
}
