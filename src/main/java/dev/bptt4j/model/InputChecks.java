package dev.bptt4j.model;

import dev.bptt4j.algo.NonFiniteException;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

import java.util.Arrays;

/** Argument checks shared by the public entry points; messages name the argument, expected and actual. */
final class InputChecks {
    private InputChecks() {
    }

    /** Requires rank, dtype and each dimension; −1 leaves a dimension free. */
    static void requireShape(String name, Tensor t, DType dtype, int... dims) {
        if (t == null) throw new IllegalArgumentException(name + ": must not be null");
        if (t.rank() != dims.length) {
            throw new IllegalArgumentException(name + ": expected a " + dims.length + "-D tensor " + describe(dims)
                    + ", got shape " + Arrays.toString(t.shape()));
        }
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] >= 0 && t.dim(i) != dims[i]) {
                throw new IllegalArgumentException(name + ": expected shape " + describe(dims) + ", got "
                        + Arrays.toString(t.shape()) + " (dim " + i + " should be " + dims[i] + ")");
            }
        }
        if (t.dtype() != dtype) {
            throw new IllegalArgumentException(name + ": expected dtype " + dtype + ", got " + t.dtype());
        }
    }

    /**
     * The host side of the finite check: throws a {@link NonFiniteException} at the first NaN or
     * ±Inf of a (T, B, W) (or batch-first (B, T, W)) or (L·D, B, H) tensor, naming its step (or state) and batch entry. With
     * lengths, positions past a sequence's length are skipped (the algorithm ignores them).
     */
    static void requireFinite(String name, Tensor t, int[] lengths, boolean batchFirst) {
        if (t == null) return;
        int outer = t.dim(batchFirst ? 1 : 0), batch = t.dim(batchFirst ? 0 : 1), width = t.dim(2);
        for (int s = 0; s < outer; s++) {
            for (int b = 0; b < batch; b++) {
                if (lengths != null && s >= lengths[b]) continue;
                for (int c = 0; c < width; c++) {
                    double v = t.getDouble(((batchFirst ? b * outer + s : s * batch + b)) * width + c);
                    if (!Double.isFinite(v)) {
                        String where = (name.contains("state") ? "state " : "step ") + s;
                        throw new NonFiniteException("non-finite value in " + name + " at " + where + ", batch entry " + b
                                + ", element " + c + ": " + v);
                    }
                }
            }
        }
    }

    private static String describe(int[] dims) {
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < dims.length; i++) {
            if (i > 0) sb.append(", ");
            sb.append(dims[i] < 0 ? "*" : Integer.toString(dims[i]));
        }
        return sb.append(')').toString();
    }
}
