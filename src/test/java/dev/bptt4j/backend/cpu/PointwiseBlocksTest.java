package dev.bptt4j.backend.cpu;

import dev.bptt4j.backend.Activation;
import dev.bptt4j.tensor.DType;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CPU pointwise passes work on a lane-step a block of rows at a time
 * ({@link CpuPointwise#BLOCK_BYTES}); rows are independent, so the blocks must change no value.
 * Every Elman, LSTM and GRU kernel, forward and backward, in float32 and float64, runs on the same
 * random operands once whole and once in blocks of one row and of a few rows (not dividing the
 * row count), with live rows fewer than the slot's (the dead rows' zeros fall in the last block,
 * and are checked); every operand afterwards must be bitwise the same. The shapes are small, the block sizes tiny,
 * so the blocked path is exercised in every build (the default 256 KB only splits large steps).
 */
class PointwiseBlocksTest {
    private static final int ROWS = 13, ALIVE = 9, HIDDEN = 24;

    /** One kernel call over the named operands. */
    @FunctionalInterface
    private interface Kernel {
        void run(CpuPointwise elman, CpuGatedPointwise gated, Map<String, CpuBuffer> b);
    }

    @Test
    void blocksOfRowsGiveTheWholePassBitForBit() {
        int h = HIDDEN;
        Map<String, Kernel> kernels = new LinkedHashMap<>();
        for (Activation act : Activation.values()) {
            for (boolean residual : new boolean[]{false, true}) {
                String tag = act + (residual ? " residual" : "");
                kernels.put("rnnForward " + tag, (e, g, b) -> e.rnnForward(b.get("out"), 0, b.get("pre"), 0, b.get("bih"), b.get("bhh"),
                        b.get("prev"), 0, ROWS, h, act, residual));
                kernels.put("rnnBackward " + tag, (e, g, b) -> e.rnnBackward(b.get("delta"), 0, b.get("carry"), 0, b.get("hidden"), 0,
                        b.get("dy"), 0, b.get("bih"), b.get("bhh"), ALIVE, ROWS, h, act, residual));
            }
        }
        kernels.put("rnnForward no bias", (e, g, b) -> e.rnnForward(b.get("out"), 0, b.get("pre"), 0, null, null,
                b.get("prev"), 0, ROWS, h, Activation.TANH, false));
        kernels.put("lstmForward", (e, g, b) -> g.lstmForward(b.get("out"), 0, b.get("cell"), 0, b.get("gates4"), 0, b.get("bih4"),
                b.get("bhh4"), b.get("prev"), 0, ROWS, h));
        kernels.put("lstmBackward", (e, g, b) -> g.lstmBackward(b.get("gates4"), 0, b.get("carry"), 0, b.get("cellCarry"), 0,
                b.get("prev"), 0, b.get("cell"), 0, b.get("dy"), 0, ALIVE, ROWS, h));
        kernels.put("gruForward", (e, g, b) -> g.gruForward(b.get("out"), 0, b.get("gates3"), 0, b.get("hiddenGates3"), 0,
                b.get("bih3"), b.get("bhh3"), b.get("prev"), 0, ROWS, h));
        kernels.put("gruBackward", (e, g, b) -> g.gruBackward(b.get("gates3"), 0, b.get("hiddenGates3"), 0, b.get("carry"), 0,
                b.get("prev"), 0, b.get("dy"), 0, b.get("bhh3"), ALIVE, ROWS, h));

        VectorMath vectorMath = CpuBlas.process().vectorMath();
        int compared = 0;
        for (DType dtype : new DType[]{DType.F32, DType.F64}) {
            int elementBytes = dtype == DType.F64 ? 8 : 4;
            // One row per block, and 5 Elman rows (of the 13: blocks of 5, 5, 3) or 1-2 gated rows.
            int[] blockSizes = {1, 5 * HIDDEN * elementBytes};
            for (Map.Entry<String, Kernel> k : kernels.entrySet()) {
                Map<String, double[]> whole = run(k.getValue(), dtype, Integer.MAX_VALUE, vectorMath);
                if (k.getKey().contains("Backward")) {
                    // The slot's dead rows get zero deltas (the last block's duty).
                    String[] outputs = k.getKey().startsWith("rnn") ? new String[]{"delta"}
                            : k.getKey().startsWith("lstm") ? new String[]{"gates4"} : new String[]{"gates3", "hiddenGates3"};
                    for (String name : outputs) {
                        double[] v = whole.get(name);
                        int width = v.length / ROWS;
                        for (int i = ALIVE * width; i < v.length; i++) {
                            assertEquals(0.0, v[i], k.getKey() + " " + dtype + ": dead row element " + name + "[" + i + "]");
                        }
                    }
                }
                for (int blockBytes : blockSizes) {
                    Map<String, double[]> blocked = run(k.getValue(), dtype, blockBytes, vectorMath);
                    for (String name : whole.keySet()) {
                        double[] want = whole.get(name), got = blocked.get(name);
                        for (int i = 0; i < want.length; i++) {
                            assertEquals(Double.doubleToRawLongBits(want[i]), Double.doubleToRawLongBits(got[i]),
                                    k.getKey() + " " + dtype + " in blocks of " + blockBytes + " bytes: " + name + "[" + i + "] is "
                                            + got[i] + ", whole pass " + want[i]);
                        }
                        compared += want.length;
                    }
                }
            }
        }
        assertTrue(compared > 100_000, "compared " + compared + " values");
    }

    /** Runs the kernel on fresh operands made from a fixed seed; returns every operand's values afterwards. */
    private static Map<String, double[]> run(Kernel kernel, DType dtype, int blockBytes, VectorMath vectorMath) {
        int h = HIDDEN;
        Map<String, Integer> sizes = new LinkedHashMap<>();
        for (String rowsOfH : new String[]{"out", "pre", "prev", "delta", "carry", "hidden", "dy", "cell", "cellCarry"}) {
            sizes.put(rowsOfH, ROWS * h);
        }
        sizes.put("bih", h);
        sizes.put("bhh", h);
        sizes.put("gates4", ROWS * 4 * h);
        sizes.put("bih4", 4 * h);
        sizes.put("bhh4", 4 * h);
        sizes.put("gates3", ROWS * 3 * h);
        sizes.put("hiddenGates3", ROWS * 3 * h);
        sizes.put("bih3", 3 * h);
        sizes.put("bhh3", 3 * h);
        SplittableRandom r = new SplittableRandom(21);
        Map<String, CpuBuffer> buffers = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, Integer> s : sizes.entrySet()) {
                CpuBuffer b = new CpuBuffer(dtype, s.getValue(), () -> { });
                buffers.put(s.getKey(), b);
                for (int i = 0; i < s.getValue(); i++) {
                    double v = r.nextDouble(-2, 2);
                    if (dtype == DType.F32) b.floats.put(i, (float) v);
                    else b.doubles.put(i, v);
                }
            }
            kernel.run(new CpuPointwise(vectorMath, 0, blockBytes), new CpuGatedPointwise(blockBytes), buffers);
            Map<String, double[]> values = new LinkedHashMap<>();
            for (Map.Entry<String, CpuBuffer> e : buffers.entrySet()) {
                CpuBuffer b = e.getValue();
                double[] v = new double[(int) b.elements];
                for (int i = 0; i < v.length; i++) v[i] = dtype == DType.F32 ? b.floats.get(i) : b.doubles.get(i);
                values.put(e.getKey(), v);
            }
            return values;
        } finally {
            for (CpuBuffer b : buffers.values()) b.close();
        }
    }
}
