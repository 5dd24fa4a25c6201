package dev.bptt4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Reads the bundled reference cases and checks that their shapes agree with their metadata. */
class SafeTensorsCasesTest {

    @Test
    void everyBundledCaseReadsAndIsConsistentWithItsMetadata() throws IOException {
        List<Path> files = SafeTensorsTestFiles.caseFiles();
        assertTrue(files.size() >= 9, "expected the bundled cases, found " + files);
        for (Path path : files) {
            SafeTensorsFile f = SafeTensors.read(path);
            checkConsistent(f);
            System.out.println(path.getFileName() + ": " + f.tensors().size() + " tensors, mode " + f.metadata().get("mode")
                    + ", shapes consistent with metadata");
        }
    }

    @Test
    void pathAndByteReadsAgree() throws IOException {
        Path path = SafeTensorsTestFiles.CASES_DIR.resolve("lstm_basic.safetensors");
        SafeTensorsFile fromPath = SafeTensors.read(path);
        SafeTensorsFile fromBytes = SafeTensors.read(Files.readAllBytes(path), "lstm_basic");
        assertEquals(fromPath.metadata(), fromBytes.metadata());
        for (String name : fromPath.tensors().keySet()) {
            assertArrayEquals(SafeTensorsRoundTripTest.rawBits(fromPath.get(name)),
                    SafeTensorsRoundTripTest.rawBits(fromBytes.get(name)), name);
        }
        System.out.println("lstm_basic: " + fromPath.tensors().size() + " tensors, path vs bytes max diff 0 (exact)");
    }

    @Test
    void knownFactsOfRnnTanhBasic() throws IOException {
        SafeTensorsFile f = SafeTensors.read(SafeTensorsTestFiles.CASES_DIR.resolve("rnn_tanh_basic.safetensors"));
        assertEquals("RNN_TANH", f.metadata().get("mode"));
        assertEquals("F64", f.metadata().get("dtype"));
        for (String name : List.of("x", "h0", "y", "weight_ih_l0")) assertTrue(f.contains(name), name);
        assertFalse(f.contains("c0"));
        Tensor w = f.get("weight_ih_l0");
        assertEquals(2, w.rank());
        assertArrayEquals(new int[] {6, 4}, w.shape());
        assertArrayEquals(new int[] {5, 3, 4}, f.get("x").shape());
        // Reference values decoded independently with numpy from the same file.
        double[] x = f.get("x").f64();
        assertEquals(Double.doubleToRawLongBits(0.2192061063309955), Double.doubleToRawLongBits(x[0]));
        assertEquals(0.3486936883844885, x[x.length - 1]);
        assertEquals(List.of("bias_hh_l0", "bias_ih_l0", "dhn"), f.tensors().keySet().stream().limit(3).toList(),
                "header order");
        System.out.println("rnn_tanh_basic x[0]: expected 0.2192061063309955 got " + x[0] + ", max diff 0 (exact)");

        SafeTensorsException missing = assertThrows(SafeTensorsException.class, () -> f.get("c0"));
        System.out.println("missing: " + missing.getMessage());
        assertTrue(missing.getMessage().contains("'c0'") && missing.getMessage().contains("weight_ih_l0")
                && missing.getMessage().contains("rnn_tanh_basic.safetensors"), missing.getMessage());
    }

    @Test
    void knownFactsOfF32AndLengthsCases() throws IOException {
        SafeTensorsFile f32 = SafeTensors.read(SafeTensorsTestFiles.CASES_DIR.resolve("rnn_tanh_basic_f32.safetensors"));
        float[] x = f32.get("x").f32();
        assertEquals(-1.011697769165039f, x[0]);
        assertEquals(0.5155941843986511f, x[x.length - 1]);
        System.out.println("rnn_tanh_basic_f32 x[0]: expected -1.011697769165039 got " + x[0] + ", max diff 0 (exact)");

        SafeTensorsFile lengths = SafeTensors.read(SafeTensorsTestFiles.CASES_DIR.resolve("rnn_tanh_lengths.safetensors"));
        Tensor len = lengths.get("lengths");
        assertEquals(DType.I64, len.dtype());
        assertEquals(4L, len.i64()[0]);
        assertEquals(2L, len.i64()[2]);
        System.out.println("rnn_tanh_lengths lengths: " + Arrays.toString(len.i64()));
    }

    @Test
    void casesAreAlsoReadableFromTheClasspath() throws IOException {
        try (InputStream in = getClass().getResourceAsStream("/cases/gru_basic.safetensors")) {
            assertTrue(in != null, "cases are bundled as resources");
            SafeTensorsFile f = SafeTensors.read(in.readAllBytes(), "cases/gru_basic.safetensors");
            assertEquals("GRU", f.metadata().get("mode"));
            assertArrayEquals(new int[] {15, 4}, f.get("weight_ih_l0").shape());
        }
    }

    /** The layout described in cases/README.md, derived from metadata alone. */
    private static void checkConsistent(SafeTensorsFile f) throws SafeTensorsException {
        Map<String, String> m = f.metadata();
        String mode = m.get("mode");
        int gates = switch (mode) {
            case "RNN_TANH", "RNN_RELU" -> 1;
            case "LSTM" -> 4;
            case "GRU" -> 3;
            default -> throw new AssertionError(f.sourceName() + ": mode " + mode);
        };
        int inputSize = Integer.parseInt(m.get("input_size"));
        int hidden = Integer.parseInt(m.get("hidden_size"));
        int layers = Integer.parseInt(m.get("num_layers"));
        int dirs = Boolean.parseBoolean(m.get("bidirectional")) ? 2 : 1;
        boolean bias = Boolean.parseBoolean(m.get("bias"));
        DType dtype = DType.parseFloat(m.get("dtype"));
        int proj = m.containsKey("proj_size") ? Integer.parseInt(m.get("proj_size")) : 0;
        int width = proj > 0 ? proj : hidden; // h, y: projected to P where the LSTM has projections

        int[] xShape = f.get("x").shape();
        assertEquals(3, xShape.length, f.sourceName() + " x");
        int steps = xShape[0], batch = xShape[1];
        expectShape(f, "x", steps, batch, inputSize);
        expectShape(f, "h0", layers * dirs, batch, width);
        expectShape(f, "y", steps, batch, dirs * width);
        expectShape(f, "dy", steps, batch, dirs * width);
        expectShape(f, "hn", layers * dirs, batch, width);
        if (mode.equals("LSTM")) expectShape(f, "c0", layers * dirs, batch, hidden);
        for (int layer = 0; layer < layers; layer++) {
            for (String suffix : dirs == 2 ? List.of("", "_reverse") : List.of("")) {
                int in = layer == 0 ? inputSize : dirs * width;
                expectShape(f, "weight_ih_l" + layer + suffix, gates * hidden, in);
                expectShape(f, "weight_hh_l" + layer + suffix, gates * hidden, width);
                if (proj > 0) expectShape(f, "weight_hr_l" + layer + suffix, proj, hidden);
                assertEquals(bias, f.contains("bias_ih_l" + layer + suffix), f.sourceName() + " bias presence");
                if (bias) expectShape(f, "bias_hh_l" + layer + suffix, gates * hidden);
            }
        }
        for (Map.Entry<String, Tensor> e : f.tensors().entrySet()) {
            if (e.getKey().startsWith("grad.")) {
                String param = e.getKey().substring("grad.".length());
                assertArrayEquals(f.get(param).shape(), e.getValue().shape(), f.sourceName() + " " + e.getKey());
            }
            DType expected = e.getKey().equals("lengths") ? DType.I64 : dtype;
            assertEquals(expected, e.getValue().dtype(), f.sourceName() + " " + e.getKey());
        }
        if (f.contains("lengths")) {
            for (long len : f.get("lengths").i64()) assertTrue(len >= 1 && len <= steps, f.sourceName() + " length " + len);
        }
    }

    private static void expectShape(SafeTensorsFile f, String name, int... shape) throws SafeTensorsException {
        assertArrayEquals(shape, f.get(name).shape(), f.sourceName() + ": " + name);
    }
}
