package dev.bptt4j.backend.cpu;

import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.backend.Packing;
import dev.bptt4j.cell.States;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.Backends;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.model.RnnMode;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CPU backend's lanes (threads over a sequential BLAS): time loops split by rows and GEMMs
 * split between the lanes give the emulated CUDA backend's results (which never splits) to 1e-12
 * in float64, for every cell, two layers and two directions, full and packed batches (where the
 * lanes hold unequal row counts and one runs out of live rows first); they are bitwise repeatable;
 * a failure in any lane reaches the caller and leaves the backend usable. The process's own count
 * (two, from bptt4j.threads in this JVM) and forced counts of 1 to 8 on this 2-core machine.
 * Shapes are just large enough to be split (asserted through the backend's counters).
 */
class LanesTest {
    private static final int T = 5, B = 48, I = 64, H = 64;

    @Test
    void splitLoopsAndGemmsMatchTheUnsplitEmulatedBackend() {
        try (CpuBackend probe = new CpuBackend()) {
            Assumptions.assumeTrue(probe.lanes(B, H) == 2, "lanes need MKL and two threads: " + probe.description());
        }
        List<RnnConfig> configs = List.of(
                RnnConfig.of(RnnMode.RNN_TANH, I, H).withDType(DType.F64),
                RnnConfig.of(RnnMode.RNN_RELU, I, H).withResidual(true).withDType(DType.F64),
                RnnConfig.of(RnnMode.LSTM, I, H).withDType(DType.F64),
                RnnConfig.of(RnnMode.GRU, I, H).withLayers(2).withBidirectional(true).withDType(DType.F64));
        for (RnnConfig config : configs) {
            for (int[] lengths : new int[][]{null, lengths()}) {
                String what = config.mode() + (config.residual() ? " residual" : "") + " L=" + config.numLayers()
                        + " D=" + config.directions() + (lengths == null ? " full" : " packed");
                List<double[]> reference;
                try (Backend emulated = Backends.create("cuda-emulated")) {
                    reference = step(emulated, config, lengths);
                }
                try (CpuBackend cpu = new CpuBackend()) {
                    List<double[]> first = step(cpu, config, lengths);
                    long loops = cpu.splitLoops(), gemms = cpu.splitGemms();
                    assertEquals(2L * config.numLayers() * config.directions(), loops, what + ": forward and backward loops split per layer-direction");
                    assertTrue(gemms > 0, what + ": whole-sequence GEMMs split");
                    assertMatches(reference, first, what);
                    List<double[]> again = step(cpu, config, lengths);
                    for (int i = 0; i < first.size(); i++) assertArrayEquals(first.get(i), again.get(i), what + ": result " + i + " repeats bitwise");
                }
            }
        }
    }

    /**
     * 1 to 8 lanes: each count within 1e-12 of the emulated backend and bitwise repeatable. Counts
     * may differ from each other in the last bits (other per-lane GEMM shapes, float64 weight
     * gradients summed in other groupings); how many results differ from the 1-lane run is printed.
     */
    @Test
    void oneToEightLanesMatchTheEmulatedBackendAndRepeatBitwise() {
        int t = 5, b = 128, width = 64;
        List<RnnConfig> configs = List.of(
                RnnConfig.of(RnnMode.RNN_TANH, width, width).withDType(DType.F64),
                RnnConfig.of(RnnMode.LSTM, width, width).withDType(DType.F64),
                RnnConfig.of(RnnMode.GRU, width, width).withLayers(2).withBidirectional(true).withDType(DType.F64));
        int[] packed = new int[b];
        for (int i = 0; i < b; i++) packed[i] = 1 + (i * 7) % t;
        packed[3] = t;
        for (RnnConfig config : configs) {
            for (int[] lengths : new int[][]{null, packed}) {
                String what = config.mode() + " L=" + config.numLayers() + " D=" + config.directions() + (lengths == null ? " full" : " packed");
                List<double[]> reference;
                try (Backend emulated = Backends.create("cuda-emulated")) {
                    reference = step(emulated, config, lengths, t, b);
                }
                List<double[]> oneLane = null;
                for (int lanes = 1; lanes <= 8; lanes++) {
                    try (CpuBackend cpu = new CpuBackend(2, lanes)) {
                        assertEquals(lanes, cpu.laneCount());
                        assertEquals(lanes, cpu.lanes(b, config.cell().gateWidth()), what + ": a time loop of " + b + " rows takes every lane");
                        List<double[]> first = step(cpu, config, lengths, t, b);
                        String at = what + " at " + lanes + " lane(s)";
                        assertEquals(lanes == 1 ? 0 : 2L * config.numLayers() * config.directions(), cpu.splitLoops(), at + ": loops split");
                        assertTrue(lanes == 1 ? cpu.splitGemms() == 0 : cpu.splitGemms() > 0, at + ": whole-sequence GEMMs split");
                        assertMatches(reference, first, at);
                        List<double[]> again = step(cpu, config, lengths, t, b);
                        for (int i = 0; i < first.size(); i++) assertArrayEquals(first.get(i), again.get(i), at + ": result " + i + " repeats bitwise");
                        if (oneLane == null) {
                            oneLane = first;
                        } else {
                            int differ = 0;
                            for (int i = 0; i < first.size(); i++) if (!java.util.Arrays.equals(oneLane.get(i), first.get(i))) differ++;
                            System.out.printf("%s: %d of %d results differ bitwise from 1 lane%n", at, differ, first.size());
                        }
                    }
                }
            }
        }
    }

    @Test
    void aFailingLaneAmongManyReachesTheCallerAndTheBackendStaysUsable() {
        for (int lanes = 2; lanes <= 8; lanes++) {
            try (CpuBackend cpu = new CpuBackend(2, lanes)) {
                int count = lanes;
                for (int failing = 0; failing < lanes; failing++) {
                    final int f = failing;
                    IllegalStateException e = assertThrows(IllegalStateException.class, () -> cpu.runLanes(count, lane -> {
                        if (lane == f) throw new IllegalStateException("lane " + lane + " failed");
                    }));
                    assertEquals("lane " + failing + " failed", e.getMessage());
                }
                // Several failures: the lowest lane's is thrown, the others ride along suppressed.
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> cpu.runLanes(count, lane -> {
                    if (lane >= count / 2) throw new IllegalStateException("lane " + lane + " failed");
                }));
                assertEquals("lane " + count / 2 + " failed", e.getMessage());
                assertEquals(count - count / 2 - 1, e.getSuppressed().length, "the other failures are suppressed in the first");
                int[] ran = new int[lanes];
                cpu.runLanes(count, lane -> ran[lane]++);
                int[] once = new int[lanes];
                java.util.Arrays.fill(once, 1);
                assertArrayEquals(once, ran, "every lane runs once after failures");
                assertThrows(IllegalArgumentException.class, () -> cpu.runLanes(count + 1, lane -> { }), "no more lanes than the backend has");
            }
        }
    }

    @Test
    void hostCopiesSplitIntoManyPartsMoveEveryElementOnce() {
        for (int lanes : new int[]{3, 8}) {
            try (CpuBackend cpu = new CpuBackend(2, lanes)) {
                // Large enough for a part per lane, and not a multiple of the lane count.
                int n = lanes * (int) (CpuBackend.MIN_SPLIT_COPY / 2) + 12_345, offset = 5;
                SplittableRandom r = new SplittableRandom(lanes);
                for (DType dtype : new DType[]{DType.F32, DType.F64, DType.I32}) {
                    Tensor source = Tensor.zeros(dtype, n), guard = Tensor.zeros(dtype, n + 2 * offset);
                    for (int i = 0; i < n; i++) source.setDouble(i, r.nextInt(1 << 20) - (1 << 19));
                    for (int i = 0; i < guard.size(); i++) guard.setDouble(i, -3);
                    try (dev.bptt4j.backend.DeviceBuffer buffer = cpu.allocate(dtype, n + 2L * offset)) {
                        cpu.upload(guard, DeviceSlice.of(buffer));
                        long before = cpu.splitCopies();
                        cpu.upload(source, new DeviceSlice(buffer, offset));
                        Tensor all = Tensor.zeros(dtype, n + 2 * offset);
                        cpu.downloadInto(DeviceSlice.of(buffer), all);
                        assertEquals(before + 2, cpu.splitCopies(), dtype + " at " + lanes + " lanes: upload and download split");
                        for (int i = 0; i < all.size(); i++) {
                            double want = i < offset || i >= offset + n ? -3 : value(source, i - offset);
                            if (value(all, i) != want) assertEquals(want, value(all, i), dtype + " at " + lanes + " lanes: element " + i);
                        }
                    }
                }
            }
        }
    }

    @Test
    void theLaneSettingIsReadAndABadOneIsOneLine() {
        String old = System.getProperty("bptt4j.lanes");
        try {
            System.clearProperty("bptt4j.lanes");
            if (System.getenv("BPTT4J_LANES") == null) assertEquals(6, CpuBackend.lanesSetting(6), "unset: one lane per thread");
            System.setProperty("bptt4j.lanes", " 3 ");
            assertEquals(3, CpuBackend.lanesSetting(16));
            for (String bad : new String[]{"0", "65", "two", "-1"}) {
                System.setProperty("bptt4j.lanes", bad);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CpuBackend.lanesSetting(2));
                assertEquals("bptt4j.lanes / BPTT4J_LANES: expected an integer from 1 to 64, got '" + bad + "'", e.getMessage());
            }
            assertThrows(IllegalArgumentException.class, () -> new CpuBackend(2, 65), "at most 64 lanes");
        } finally {
            if (old == null) System.clearProperty("bptt4j.lanes");
            else System.setProperty("bptt4j.lanes", old);
        }
    }

    @Test
    void aFailingLaneReachesTheCallerAndTheBackendStaysUsable() {
        try (CpuBackend cpu = new CpuBackend()) {
            Assumptions.assumeTrue(cpu.lanes(B, H) == 2, "lanes need MKL and two threads");
            for (int failing = 0; failing < 2; failing++) {
                final int f = failing;
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> cpu.runLanes(2, lane -> {
                    if (lane == f) throw new IllegalStateException("lane " + lane + " failed");
                }));
                assertEquals("lane " + failing + " failed", e.getMessage());
            }
            int[] ran = new int[2];
            cpu.runLanes(2, lane -> ran[lane]++);
            assertArrayEquals(new int[]{1, 1}, ran, "both lanes run once after failures");
            assertThrows(IllegalArgumentException.class, () -> cpu.runLanes(2, lane -> cpu.runLanes(2, inner -> { })),
                    "lanes do not nest");
        }
    }

    @Test
    void largeHostCopiesSplitBetweenTheLanesMoveEveryElementOnce() {
        try (CpuBackend cpu = new CpuBackend()) {
            Assumptions.assumeTrue(cpu.lanes(B, H) == 2, "lanes need MKL and two threads");
            // Odd, so the halves differ in size; at an offset, between guard elements that must stay.
            int n = (int) CpuBackend.MIN_SPLIT_COPY + 12_345, offset = 7;
            SplittableRandom r = new SplittableRandom(9);
            for (DType dtype : new DType[]{DType.F32, DType.F64, DType.I32}) {
                Tensor source = Tensor.zeros(dtype, n);
                for (int i = 0; i < n; i++) {
                    int v = r.nextInt(1 << 20) - (1 << 19);
                    switch (dtype) {
                        case F32: source.f32()[i] = v * 0.25f; break;
                        case F64: source.f64()[i] = v * 0.125; break;
                        default: source.i32()[i] = v;
                    }
                }
                try (dev.bptt4j.backend.DeviceBuffer buffer = cpu.allocate(dtype, n + 2L * offset)) {
                    Tensor guard = Tensor.zeros(dtype, n + 2 * offset);
                    for (int i = 0; i < guard.size(); i++) guard.setDouble(i, -3);
                    cpu.upload(guard, DeviceSlice.of(buffer));
                    long before = cpu.splitCopies();
                    cpu.upload(source, new DeviceSlice(buffer, offset));
                    Tensor back = Tensor.zeros(dtype, n);
                    cpu.downloadInto(new DeviceSlice(buffer, offset), back);
                    Tensor all = Tensor.zeros(dtype, n + 2 * offset);
                    cpu.downloadInto(DeviceSlice.of(buffer), all);
                    assertEquals(before + 3, cpu.splitCopies(), dtype + ": upload and both downloads split");
                    for (int i = 0; i < n; i++) {
                        assertEquals(value(source, i), value(back, i), dtype + ": element " + i + " round trip");
                        assertEquals(value(source, i), value(all, offset + i), dtype + ": element " + i + " in place");
                    }
                    for (int i = 0; i < offset; i++) {
                        assertEquals(-3.0, value(all, i), dtype + ": guard before");
                        assertEquals(-3.0, value(all, offset + n + i), dtype + ": guard after");
                    }
                }
            }
        }
    }

    @Test
    void largeRowGathersSplitBetweenTheLanesMatchTheirDefinition() {
        try (CpuBackend cpu = new CpuBackend()) {
            Assumptions.assumeTrue(cpu.lanes(B, H) == 2, "lanes need MKL and two threads");
            // Rows of 300 in a wider host tensor (stride 310, from column 6); the map mixes runs of
            // consecutive rows (merged copies), single rows and padding (-1), across the halves' border.
            int width = 300, stride = 310, column = 6, hostRows = 1200;
            int count = (int) (CpuBackend.MIN_SPLIT_COPY / width) + 101;
            SplittableRandom r = new SplittableRandom(13);
            int[] map = new int[count];
            for (int i = 0; i < count; i++) {
                int kind = r.nextInt(4);
                map[i] = kind == 0 ? -1 : kind == 1 ? r.nextInt(hostRows) : (i > 0 && map[i - 1] >= 0 && map[i - 1] + 1 < hostRows ? map[i - 1] + 1 : 0);
            }
            for (DType dtype : new DType[]{DType.F32, DType.F64}) {
                Tensor host = Tensor.zeros(dtype, hostRows * stride);
                for (int i = 0; i < host.size(); i++) {
                    if (dtype == DType.F32) host.f32()[i] = r.nextInt(1 << 20);
                    else host.f64()[i] = r.nextInt(1 << 20);
                }
                long before = cpu.splitCopies();
                try (dev.bptt4j.backend.DeviceBuffer packed = cpu.allocate(dtype, (long) count * width);
                     dev.bptt4j.backend.DeviceBuffer rowsOnDevice = cpu.allocate(dtype, (long) hostRows * width)) {
                    cpu.uploadRows(DeviceSlice.of(packed), host, stride, column, map, count, width);
                    Tensor got = Tensor.zeros(dtype, count * width);
                    cpu.downloadInto(DeviceSlice.of(packed), got);
                    for (int i = 0; i < count; i++) {
                        for (int c = 0; c < width; c++) {
                            double want = map[i] < 0 ? 0 : value(host, map[i] * stride + column + c);
                            assertEquals(want, value(got, i * width + c), dtype + ": uploaded row " + i + " column " + c);
                        }
                    }
                    // Back: the dense device rows scattered into the padded host view by the same map.
                    Tensor dense = Tensor.zeros(dtype, hostRows * width);
                    for (int i = 0; i < dense.size(); i++) {
                        if (dtype == DType.F32) dense.f32()[i] = -i;
                        else dense.f64()[i] = -i;
                    }
                    cpu.upload(dense, DeviceSlice.of(rowsOnDevice));
                    Tensor target = Tensor.zeros(dtype, count * stride);
                    for (int i = 0; i < target.size(); i++) {
                        if (dtype == DType.F32) target.f32()[i] = 7;
                        else target.f64()[i] = 7;
                    }
                    cpu.downloadRows(target, stride, column, DeviceSlice.of(rowsOnDevice), map, count, width);
                    for (int i = 0; i < count; i++) {
                        for (int c = 0; c < stride; c++) {
                            boolean inside = c >= column && c < column + width;
                            double want = !inside ? 7 : map[i] < 0 ? 0 : -(map[i] * width + (c - column));
                            assertEquals(want, value(target, i * stride + c), dtype + ": downloaded row " + i + " column " + c);
                        }
                    }
                    assertEquals(before + 4, cpu.splitCopies(), dtype + ": both row gathers and both dense copies split");
                }
            }
        }
    }

    private static double value(Tensor t, int i) {
        switch (t.dtype()) {
            case F32: return t.f32()[i];
            case F64: return t.f64()[i];
            default: return t.i32()[i];
        }
    }

    /** Every length 1..T, so that the lane of the shortest sequences runs out of rows before the other. */
    private static int[] lengths() {
        int[] l = new int[B];
        for (int b = 0; b < B; b++) l[b] = 1 + (b * 7) % T;
        l[3] = T;
        return l;
    }

    @Test
    void float64WeightGradientsSplitAlongKMatchTheEmulatedBackend() {
        try (CpuBackend probe = new CpuBackend()) {
            Assumptions.assumeTrue(probe.lanes(B, H) == 2, "lanes need MKL and two threads: " + probe.description());
        }
        // T·B = 1440 rows (about 1080 packed) against gradients 32 to 96 wide: the weight-gradient
        // products qualify for the K split (K at least 8 times the wider side).
        int t = 30, b = 48, width = 32;
        int[] packed = new int[b];
        for (int i = 0; i < b; i++) packed[i] = t / 2 + (i * 7) % (t / 2 + 1);
        packed[5] = t;
        for (RnnConfig config : List.of(RnnConfig.of(RnnMode.RNN_TANH, width, width).withDType(DType.F64),
                RnnConfig.of(RnnMode.GRU, width, width).withBidirectional(true).withDType(DType.F64))) {
            for (int[] lengths : new int[][]{null, packed}) {
                String what = config.mode() + " D=" + config.directions() + (lengths == null ? " full" : " packed");
                List<double[]> reference;
                try (Backend emulated = Backends.create("cuda-emulated")) {
                    reference = step(emulated, config, lengths, t, b);
                }
                try (CpuBackend cpu = new CpuBackend()) {
                    List<double[]> first = step(cpu, config, lengths, t, b);
                    assertTrue(cpu.kSplitGemms() >= 2L * config.directions(), what + ": weight gradients split along K: " + cpu.kSplitGemms());
                    assertMatches(reference, first, what);
                    List<double[]> again = step(cpu, config, lengths, t, b);
                    for (int i = 0; i < first.size(); i++) assertArrayEquals(first.get(i), again.get(i), what + ": result " + i + " repeats bitwise");
                }
            }
        }
    }

    @Test
    void aFloat64ProductSplitAlongKKeepsOffsetsStridesAlphaAndBeta() {
        for (int lanes = 2; lanes <= 8; lanes++) productSplitAlongK(lanes);
    }

    private static void productSplitAlongK(int lanes) {
        try (CpuBackend cpu = new CpuBackend(2, lanes)) {
            // K = 3449: enough work for a part per lane, and not a multiple of any lane count.
            int m = 40, n = 56, k = 8 * 56 + 3001, lda = m + 3, ldb = n + 5, aOff = 7, bOff = 11, cOff = 13;
            double alpha = 1.5, beta = 0.5;
            SplittableRandom r = new SplittableRandom(17);
            Tensor a = random(r, aOff + k * lda), bt = random(r, bOff + k * ldb), c = random(r, cOff + m * n + 9);
            double[] want = c.f64().clone();
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double sum = 0;
                    for (int p = 0; p < k; p++) sum += a.f64()[aOff + p * lda + i] * bt.f64()[bOff + p * ldb + j];
                    want[cOff + i * n + j] = alpha * sum + beta * c.f64()[cOff + i * n + j];
                }
            }
            try (dev.bptt4j.backend.DeviceBuffer da = cpu.allocate(DType.F64, a.size());
                 dev.bptt4j.backend.DeviceBuffer db = cpu.allocate(DType.F64, bt.size());
                 dev.bptt4j.backend.DeviceBuffer dc = cpu.allocate(DType.F64, c.size())) {
                cpu.upload(a, DeviceSlice.of(da));
                cpu.upload(bt, DeviceSlice.of(db));
                cpu.upload(c, DeviceSlice.of(dc));
                long before = cpu.kSplitGemms();
                cpu.gemm(true, false, m, n, k, alpha, new DeviceSlice(da, aOff), lda, new DeviceSlice(db, bOff), ldb, beta, new DeviceSlice(dc, cOff), n);
                assertEquals(before + 1, cpu.kSplitGemms(), "split along K at " + lanes + " lanes");
                Tensor got = Tensor.zeros(DType.F64, c.size());
                cpu.downloadInto(DeviceSlice.of(dc), got);
                for (int i = 0; i < want.length; i++) {
                    assertEquals(want[i], got.f64()[i], 1e-12 * Math.max(1, Math.abs(want[i])), "C[" + i + "] at " + lanes + " lanes");
                }
            }
        }
    }

    /** Every result within 1e-12 of the reference, relative to the result's largest magnitude (at least 1). */
    private static void assertMatches(List<double[]> reference, List<double[]> results, String what) {
        for (int i = 0; i < reference.size(); i++) {
            double[] want = reference.get(i), got = results.get(i);
            double scale = 0, diff = 0;
            for (int j = 0; j < want.length; j++) {
                scale = Math.max(scale, Math.abs(want[j]));
                diff = Math.max(diff, Math.abs(want[j] - got[j]));
            }
            assertTrue(diff <= 1e-12 * Math.max(1, scale), what + ": result " + i + " differs by " + diff + " (scale " + scale + ")");
        }
    }

    /** y, hn, dL/dx, dL/dh0 and every parameter gradient of one training step. */
    private static List<double[]> step(Backend backend, RnnConfig config, int[] lengths) {
        return step(backend, config, lengths, T, B);
    }

    private static List<double[]> step(Backend backend, RnnConfig config, int[] lengths, int steps, int batch) {
        try (Rnn rnn = new Rnn(config, backend)) {
            rnn.initialize(11);
            SplittableRandom r = new SplittableRandom(4);
            Tensor x = random(r, steps, batch, config.inputSize()), dy = random(r, steps, batch, config.directions() * config.hiddenSize());
            List<double[]> out = new ArrayList<>();
            try (Rnn.Pass pass = rnn.forward(x, States.ZEROS, lengths)) {
                Rnn.InputGradients g = pass.backward(dy, States.ZEROS, true);
                out.add(pass.output().f64());
                out.add(pass.finalStates().hidden().f64());
                out.add(g.input().f64());
                out.add(g.initialHidden().f64());
            }
            for (String name : rnn.parameterNames()) out.add(rnn.gradient(name).f64());
            return out;
        }
    }

    private static Tensor random(SplittableRandom r, int... shape) {
        Tensor t = Tensor.zeros(DType.F64, shape);
        double[] v = t.f64();
        for (int i = 0; i < v.length; i++) v[i] = r.nextDouble() * 2 - 1;
        return t;
    }
}
