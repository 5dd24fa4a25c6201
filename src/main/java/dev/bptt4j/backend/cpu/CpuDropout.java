package dev.bptt4j.backend.cpu;

import dev.bptt4j.backend.Philox;
import dev.bptt4j.tensor.DType;

/**
 * The CPU twin of {@code cuda/dropout.cu}: the same Philox words (one block gives the masks of
 * four consecutive units, as the kernel's word index e % 4 picks them), the same keep test
 * {@code u ≥ p} and the same single rounding of {@code x·scale}.
 */
final class CpuDropout {
    private final int[] counter = new int[4], key = new int[2], words = new int[4];

    void forward(CpuBuffer x, int xOff, CpuBuffer mask, int maskOff, CpuBuffer timeRow, int timeRowOff, int rows, int width, int hidden,
                 int layer, long seed, long stream, double p, double scale) {
        boolean f32 = x.dtype == DType.F32;
        float scale32 = (float) scale;
        for (int r = 0; r < rows; r++) {
            int row = timeRow.ints.get(timeRowOff + r), base = r * width;
            for (int c = 0; c < width; c++) {
                int i = base + c;
                if (row < 0) {
                    if (f32) mask.floats.put(maskOff + i, 0f);
                    else mask.doubles.put(maskOff + i, 0.0);
                    continue;
                }
                int direction = c / hidden, e = c - direction * hidden;
                if (c == 0 || (e & 3) == 0 || e == 0) {
                    counter[0] = e >> 2;
                    counter[1] = row;
                    counter[2] = 2 * layer + direction;
                    counter[3] = (int) stream;
                    key[0] = (int) seed;
                    key[1] = (int) (seed >>> 32);
                    Philox.block(counter, key, words);
                }
                boolean keep = Philox.uniform(words[e & 3]) >= p;
                if (f32) {
                    float m = keep ? scale32 : 0f;
                    mask.floats.put(maskOff + i, m);
                    x.floats.put(xOff + i, x.floats.get(xOff + i) * m);
                } else {
                    double m = keep ? scale : 0.0;
                    mask.doubles.put(maskOff + i, m);
                    x.doubles.put(xOff + i, x.doubles.get(xOff + i) * m);
                }
            }
        }
    }

    void backward(CpuBuffer grad, int gradOff, CpuBuffer mask, int maskOff, int count) {
        if (grad.dtype == DType.F32) {
            for (int i = 0; i < count; i++) grad.floats.put(gradOff + i, grad.floats.get(gradOff + i) * mask.floats.get(maskOff + i));
        } else {
            for (int i = 0; i < count; i++) grad.doubles.put(gradOff + i, grad.doubles.get(gradOff + i) * mask.doubles.get(maskOff + i));
        }
    }
}
