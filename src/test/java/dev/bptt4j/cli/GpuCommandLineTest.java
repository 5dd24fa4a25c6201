package dev.bptt4j.cli;

import dev.bptt4j.backend.cuda.CudaProbe;
import dev.bptt4j.io.SafeTensors;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static dev.bptt4j.cli.CommandLineTest.bundled;
import static dev.bptt4j.cli.CommandLineTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/** The GPU side of the command line: --device cuda-emulated, compare, and info's probe line. */
class GpuCommandLineTest {

    @Test
    void checkAndGradRunOnTheEmulatedCudaBackend(@TempDir Path dir) throws Exception {
        CommandLineTest.Result r = run("check", "--device", "cuda-emulated");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("backend: cuda-emulated: emulated CUDA device"), r.out());
        assertTrue(r.out().contains("10 passed, 0 failed"), r.out()); // LSTM (with projection) and GRU included
        assertTrue(!r.out().contains("SKIP") && !r.out().contains("skipped"), r.out());

        Path out = dir.resolve("out.safetensors");
        r = run("grad", bundled(dir, "rnn_tanh_lengths.safetensors").toString(), out.toString(), "--device", "cuda-emulated");
        assertEquals(0, r.code(), r.err());
        Map<String, Tensor> written = SafeTensors.read(out).tensors();
        assertTrue(written.containsKey("grad.weight_hh_l0"), written.keySet().toString());
    }

    @Test
    void compareRunsBothBackendsAndSummarises(@TempDir Path dir) throws Exception {
        bundled(dir, "rnn_tanh_bidir.safetensors");
        bundled(dir, "rnn_tanh_basic_f32.safetensors");
        bundled(dir, "gru_basic.safetensors");
        CommandLineTest.Result r = run("compare", dir.toString());
        System.out.println(r.out());
        assertEquals(0, r.code(), r.out() + r.err());
        if (!CudaProbe.verdict().usable()) assertTrue(r.out().startsWith("no usable GPU ("), r.out());
        assertTrue(r.out().contains("rnn_tanh_bidir               grad.weight_hh_l0_reverse"), r.out());
        assertTrue(r.out().contains("gru_basic                    grad.bias_hh_l0"), "the GRU case is compared: " + r.out());
        assertTrue(!r.out().contains("SKIP"), r.out());
        assertTrue(r.out().strip().lines().reduce((a, b) -> b).orElse("")
                .matches("3 case\\(s\\), 28 tensor\\(s\\) compared: largest relative difference .* 0 above tolerance, 0 case\\(s\\) failed"), r.out());

        r = run("compare", dir.resolve("rnn_tanh_bidir.safetensors").toString(), "--device", "cuda-emulated");
        assertEquals(0, r.code(), r.out());
        assertTrue(r.out().contains("1 case(s), 12 tensor(s) compared"), r.out());
    }

    @Test
    void compareRejectsTheCpuAndAMissingGpu(@TempDir Path dir) throws Exception {
        Path c = bundled(dir, "rnn_tanh_basic.safetensors");
        CommandLineTest.Result r = run("compare", c.toString(), "--device", "cpu");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("expected gpu or cuda-emulated"), r.err());
        assumeFalse(CudaProbe.verdict().usable(), "a GPU is usable here");
        r = run("compare", c.toString(), "--device", "gpu");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("no usable GPU"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    @Test
    void infoPrintsTheProbeVerdict() {
        CommandLineTest.Result r = run("info");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("gpu probe: " + CudaProbe.verdict()), r.out());
        assertTrue(r.out().contains("cuda-emulated: available"), r.out());
    }
}
