package dev.bptt4j.backend.cpu;

import java.util.Arrays;

/**
 * Both biases repeated over a step's rows, so the fused bias-add + activation is one flat loop
 * (JDK 17's C2 does not vectorise a row loop that indexes z by row offset and the bias by
 * column). Rebuilt only when the bias values (compared bit for bit) or the width change, or more
 * rows are needed: within a pass, and between passes until the optimiser moves the biases, every
 * step reuses them.
 */
final class BiasRows {
    private BiasRows() {
    }

    static final class Floats {
        float[] ih = new float[0], hh = new float[0];
        private float[] ihRow = new float[0], hhRow = new float[0];
        private int rows;

        Floats of(float[] bih, float[] bhh, int rows, int width) {
            boolean same = ihRow.length == width && rows <= this.rows
                    && Arrays.equals(ihRow, 0, width, bih, 0, width) && Arrays.equals(hhRow, 0, width, bhh, 0, width);
            if (!same) {
                ihRow = Arrays.copyOf(bih, width);
                hhRow = Arrays.copyOf(bhh, width);
                this.rows = Math.max(rows, this.rows);
                ih = new float[this.rows * width];
                hh = new float[this.rows * width];
                for (int r = 0; r < this.rows; r++) {
                    System.arraycopy(ihRow, 0, ih, r * width, width);
                    System.arraycopy(hhRow, 0, hh, r * width, width);
                }
            }
            return this;
        }
    }

    static final class Doubles {
        double[] ih = new double[0], hh = new double[0];
        private double[] ihRow = new double[0], hhRow = new double[0];
        private int rows;

        Doubles of(double[] bih, double[] bhh, int rows, int width) {
            boolean same = ihRow.length == width && rows <= this.rows
                    && Arrays.equals(ihRow, 0, width, bih, 0, width) && Arrays.equals(hhRow, 0, width, bhh, 0, width);
            if (!same) {
                ihRow = Arrays.copyOf(bih, width);
                hhRow = Arrays.copyOf(bhh, width);
                this.rows = Math.max(rows, this.rows);
                ih = new double[this.rows * width];
                hh = new double[this.rows * width];
                for (int r = 0; r < this.rows; r++) {
                    System.arraycopy(ihRow, 0, ih, r * width, width);
                    System.arraycopy(hhRow, 0, hh, r * width, width);
                }
            }
            return this;
        }
    }
}
