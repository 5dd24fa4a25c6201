package dev.bptt4j.backend.cpu;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The repeated bias rows always hold the biases of the current call, whatever came before. */
class BiasRowsTest {
    private static float[] repeat(float[] row, int rows) {
        float[] out = new float[rows * row.length];
        for (int r = 0; r < rows; r++) System.arraycopy(row, 0, out, r * row.length, row.length);
        return out;
    }

    private static void check(BiasRows<float[]> b, float[] ih, float[] hh, int rows) {
        int n = rows * ih.length;
        assertArrayEquals(repeat(ih, rows), java.util.Arrays.copyOf(b.ih, n));
        assertArrayEquals(repeat(hh, rows), java.util.Arrays.copyOf(b.hh, n));
    }

    @Test
    void followsValueRowAndWidthChanges() {
        BiasRows.Floats cache = new BiasRows.Floats();
        float[] a = {1, 2, 3}, b = {4, 5, 6}, c = {1, 2, 7};
        check(cache.of(a, b, 4, 3), a, b, 4);
        float[] before = cache.ih;
        check(cache.of(a, b, 2, 3), a, b, 2);
        assertEquals(before, cache.ih, "fewer rows of the same biases reuse the expansion");
        check(cache.of(c, b, 2, 3), c, b, 2);          // one value changed
        check(cache.of(c, a, 9, 3), c, a, 9);          // more rows, other bias changed
        check(cache.of(new float[]{1, 2}, new float[]{3, 4}, 9, 2), new float[]{1, 2}, new float[]{3, 4}, 9);  // width
        check(cache.of(new float[]{-0f, 2}, new float[]{3, 4}, 9, 2), new float[]{-0f, 2}, new float[]{3, 4}, 9);  // -0 is not +0
        // A longer scratch array (as the kernels pass) counts only its first `width` values.
        check(cache.of(new float[]{-0f, 2, 99}, new float[]{3, 4, 98}, 5, 2), new float[]{-0f, 2}, new float[]{3, 4}, 5);
    }
}
