package dev.bptt4j.model;

import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

import java.util.SplittableRandom;

/** Seeded random tensors and lengths for tests. */
final class RandomCases {
    private final SplittableRandom random;

    RandomCases(long seed) {
        random = new SplittableRandom(seed);
    }

    Tensor uniform(DType dtype, double scale, int... shape) {
        Tensor t = Tensor.zeros(dtype, shape);
        for (int i = 0; i < t.size(); i++) t.setDouble(i, (random.nextDouble() * 2 - 1) * scale);
        return t;
    }

    int[] lengths(int batch, int steps) {
        int[] l = new int[batch];
        for (int b = 0; b < batch; b++) l[b] = 1 + random.nextInt(steps);
        l[random.nextInt(batch)] = steps;
        return l;
    }

    int nextInt(int bound) {
        return random.nextInt(bound);
    }

    boolean nextBoolean() {
        return random.nextBoolean();
    }

    /** Zeroes dy at padded positions, as PyTorch's packed layout never sees them. */
    static void maskPadding(Tensor dy, int[] lengths) {
        if (lengths == null) return;
        int steps = dy.dim(0), batch = dy.dim(1), width = dy.dim(2);
        for (int t = 0; t < steps; t++) {
            for (int b = 0; b < batch; b++) {
                if (t >= lengths[b]) for (int c = 0; c < width; c++) dy.setDouble((t * batch + b) * width + c, 0);
            }
        }
    }
}
