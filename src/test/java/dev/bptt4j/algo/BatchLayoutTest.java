package dev.bptt4j.algo;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The layout's order: longest first, ties in batch order, as a comparison sort gives it; and no boxed batch. */
class BatchLayoutTest {
    @Test
    void countingSortOrdersAsTheComparisonSortDid() {
        SplittableRandom random = new SplittableRandom(5);
        for (int trial = 0; trial < 200; trial++) {
            int steps = 1 + random.nextInt(12), batch = 1 + random.nextInt(40);
            int[] lengths = new int[batch];
            for (int b = 0; b < batch; b++) lengths[b] = 1 + random.nextInt(steps);
            Integer[] order = IntStream.range(0, batch).boxed().toArray(Integer[]::new);
            Arrays.sort(order, Comparator.comparingInt((Integer b) -> -lengths[b]).thenComparingInt(b -> b));
            BatchLayout layout = BatchLayout.of(steps, batch, lengths);
            assertArrayEquals(Arrays.stream(order).mapToInt(Integer::intValue).toArray(), layout.originalOfSorted());
            for (int tau = 0; tau < steps; tau++) {
                final int t = tau;
                assertEquals(Arrays.stream(lengths).filter(l -> l > t).count(), layout.alive(tau), "alive(" + tau + ")");
            }
        }
    }

    /**
     * A batch of 10^7 sequences allocates its int arrays (the lengths' copy and three maps: 160 MB),
     * not a boxed sort besides (an Integer per sequence and an array of them: about 200 MB more).
     */
    @Test
    void aLargeBatchNeedsNoBoxedSort() {
        int batch = 10_000_000;
        int[] lengths = new int[batch];
        for (int b = 0; b < batch; b++) lengths[b] = 1 + b % 3;
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long before = threads.getCurrentThreadAllocatedBytes();
        BatchLayout layout = BatchLayout.of(3, batch, lengths);
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        System.out.printf("layout of B = %d: %.1f MB allocated%n", batch, allocated / 1e6);
        assertTrue(allocated < 250_000_000L, allocated + " bytes");
        assertEquals(2, layout.originalOfSorted()[0], "the first sequence of length 3");
        assertEquals(batch / 3, layout.alive(2));
        assertTrue(layout.packedRows() > batch);
    }
}
