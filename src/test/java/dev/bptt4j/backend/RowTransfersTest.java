package dev.bptt4j.backend;

import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * {@link Backend#uploadRows} and {@link Backend#downloadRows} against a plain reference loop, on
 * the CPU backend (direct row copies) and the emulated CUDA backend (the interface's defaults):
 * maps with dead rows (−1), runs of consecutive rows, column offsets, both dtypes;
 * and bad maps or sizes rejected with an exception naming the operation before anything moves.
 */
class RowTransfersTest {
    private static final int SOURCE_ROWS = 9, STRIDE = 7, COLUMN = 2, WIDTH = 4;
    /** Dead rows, a run of consecutive rows (3, 4, 5), repeats and out-of-order rows. */
    private static final int[] MAP = {3, 4, 5, -1, 0, 8, 8, -1, 1, 6};

    @Test
    void uploadRowsGathersHostRowsIntoDenseDeviceRows() {
        for (String device : new String[]{"cpu", "cuda-emulated"}) {
            for (DType dtype : new DType[]{DType.F32, DType.F64}) {
                try (Backend b = Backends.create(device)) {
                    Tensor source = random(new SplittableRandom(1), dtype, SOURCE_ROWS, STRIDE);
                    long offset = 3;
                    DeviceBuffer dst = b.allocate(dtype, offset + (long) MAP.length * WIDTH + 2);
                    Packing.fill(b, DeviceSlice.of(dst), dst.elements(), 42.0);
                    b.uploadRows(new DeviceSlice(dst, offset), source, STRIDE, COLUMN, MAP, MAP.length, WIDTH);
                    double[] got = b.download(DeviceSlice.of(dst), (int) dst.elements()).toDoubleArray();
                    double[] s = source.toDoubleArray();
                    for (int i = 0; i < got.length; i++) {
                        long r = (i - offset) / WIDTH, c = (i - offset) % WIDTH;
                        double want = i < offset || r >= MAP.length ? 42.0 : MAP[(int) r] < 0 ? 0.0 : s[MAP[(int) r] * STRIDE + COLUMN + (int) c];
                        assertEquals(want, got[i], device + " " + dtype + " element " + i);
                    }
                    dst.close();
                }
            }
        }
    }

    @Test
    void downloadRowsGathersDenseDeviceRowsIntoHostRows() {
        for (String device : new String[]{"cpu", "cuda-emulated"}) {
            for (DType dtype : new DType[]{DType.F32, DType.F64}) {
                try (Backend b = Backends.create(device)) {
                    SplittableRandom random = new SplittableRandom(2);
                    long offset = 5;
                    Tensor rows = random(random, dtype, SOURCE_ROWS, WIDTH);
                    DeviceBuffer src = b.allocate(dtype, offset + rows.size());
                    b.upload(rows, new DeviceSlice(src, offset));
                    // Columns outside [COLUMN, COLUMN + WIDTH) keep their values; dead rows read zero.
                    Tensor target = random(random, dtype, MAP.length, STRIDE);
                    double[] want = target.toDoubleArray(), s = rows.toDoubleArray();
                    for (int r = 0; r < MAP.length; r++) {
                        for (int c = 0; c < WIDTH; c++) want[r * STRIDE + COLUMN + c] = MAP[r] < 0 ? 0.0 : s[MAP[r] * WIDTH + c];
                    }
                    b.downloadRows(target, STRIDE, COLUMN, new DeviceSlice(src, offset), MAP, MAP.length, WIDTH);
                    assertArrayEquals(want, target.toDoubleArray(), device + " " + dtype);
                    src.close();
                }
            }
        }
    }

    @Test
    void badMapsAndSizesAreRejectedNamingTheOperation() {
        for (String device : new String[]{"cpu", "cuda-emulated"}) {
            try (Backend b = Backends.create(device)) {
                Tensor source = Tensor.zeros(DType.F32, SOURCE_ROWS, STRIDE);
                DeviceBuffer dst = b.allocate(DType.F32, (long) MAP.length * WIDTH);
                int[] outside = MAP.clone();
                outside[2] = SOURCE_ROWS;
                assertMessage(IndexOutOfBoundsException.class, "uploadRows",
                        () -> b.uploadRows(DeviceSlice.of(dst), source, STRIDE, COLUMN, outside, MAP.length, WIDTH));
                assertMessage(IllegalArgumentException.class, "uploadRows",
                        () -> b.uploadRows(DeviceSlice.of(dst), source, STRIDE, STRIDE - 1, MAP, MAP.length, WIDTH));
                assertMessage(IndexOutOfBoundsException.class, "upload",
                        () -> b.uploadRows(new DeviceSlice(dst, 1), source, STRIDE, COLUMN, MAP, MAP.length, WIDTH));
                assertMessage(IllegalArgumentException.class, "upload",
                        () -> b.uploadRows(DeviceSlice.of(dst), Tensor.zeros(DType.F64, SOURCE_ROWS, STRIDE), STRIDE, COLUMN, MAP, MAP.length, WIDTH));

                Tensor target = Tensor.zeros(DType.F32, MAP.length, STRIDE);
                DeviceBuffer src = b.allocate(DType.F32, (long) SOURCE_ROWS * WIDTH);
                int[] pastEnd = MAP.clone();
                pastEnd[0] = SOURCE_ROWS;
                assertMessage(IndexOutOfBoundsException.class, "download",
                        () -> b.downloadRows(target, STRIDE, COLUMN, DeviceSlice.of(src), pastEnd, MAP.length, WIDTH));
                int[] negative = MAP.clone();
                negative[1] = -2;
                assertMessage(IndexOutOfBoundsException.class, "downloadRows",
                        () -> b.downloadRows(target, STRIDE, COLUMN, DeviceSlice.of(src), negative, MAP.length, WIDTH));
                assertMessage(IllegalArgumentException.class, "downloadRows",
                        () -> b.downloadRows(Tensor.zeros(DType.F32, 2, STRIDE), STRIDE, COLUMN, DeviceSlice.of(src), MAP, MAP.length, WIDTH));
                dst.close();
                src.close();
                assertEquals(0, b.liveBuffers(), device + ": nothing leaked");
            }
        }
    }

    private static void assertMessage(Class<? extends RuntimeException> type, String fragment, org.junit.jupiter.api.function.Executable call) {
        RuntimeException e = assertThrows(type, call);
        if (!e.getMessage().contains(fragment)) throw new AssertionError("message should name '" + fragment + "': " + e.getMessage());
    }

    private static Tensor random(SplittableRandom r, DType dtype, int... shape) {
        Tensor t = Tensor.zeros(DType.F64, shape);
        double[] v = t.f64();
        for (int i = 0; i < v.length; i++) v[i] = r.nextDouble() * 2 - 1;
        return t.to(dtype);
    }
}
