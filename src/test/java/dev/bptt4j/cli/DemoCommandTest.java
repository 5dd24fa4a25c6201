package dev.bptt4j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The demo command's argument handling (the demos themselves run in dev.bptt4j.demo.DemoTest). */
class DemoCommandTest {
    @Test
    void badArgumentsAreUsageErrors() {
        for (String[] argv : new String[][]{{"demo", "nonsense", "--seconds", "1"}, {"demo", "--seconds", "soon"},
                {"demo", "--seconds", "-3"}, {"demo", "--bogus", "1"}}) {
            CommandLineTest.Result r = CommandLineTest.run(argv);
            System.out.printf("%s -> exit %d: %s", String.join(" ", argv), r.code(), r.err());
            assertEquals(2, r.code(), String.join(" ", argv));
            assertTrue(r.err().contains("usage: bptt4j demo"), r.err());
        }
        assertTrue(CommandLineTest.run("--help").out().contains("demo [long-range]"), "listed in the usage");
    }

    @Test
    void aHiddenSizeBelowOneIsRefusedNotReplacedByTheDefault() {
        // These used to run the demo silently with the default hidden size (128).
        CommandLineTest.assertUsageError("bptt4j demo", "invalid value for option '--hidden': expected an integer >= 1, got 0", "demo", "--hidden", "0");
        CommandLineTest.assertUsageError("bptt4j demo", "invalid value for option '--hidden': expected an integer >= 1, got -5",
                "demo", "long-range", "--hidden", "-5");
        CommandLineTest.assertUsageError("bptt4j demo", "invalid value for option '--seconds': expected a number, got 'soon'", "demo", "--seconds", "soon");
        CommandLineTest.assertUsageError("bptt4j demo", "invalid value for option '--seconds': expected a positive number, got 0", "demo", "--seconds", "0");
    }

    /**
     * A --hidden whose model cannot fit is refused in one line with the figures before anything is
     * built or written. In-process on the emulated device, so that no CPU backend is made here with
     * the demo's one BLAS thread (the first CPU backend fixes the count for the process).
     */
    @Test
    void aHiddenSizeThatCannotFitIsRefusedBeforeAnythingIsWritten(@TempDir Path dir) throws Exception {
        String threads = System.getProperty("bptt4j.threads");
        try {
            Path out = dir.resolve("never");
            CommandLineTest.Result r = CommandLineTest.run("demo", "--hidden", "100000", "--device", "cuda-emulated", "--out", out.toString());
            assertEquals(1, r.code(), r.err());
            assertEquals("bptt4j demo: parameter 'weight_hh_l0': shape [100000, 100000] is 10000000000 elements, more than the cuda-emulated"
                    + " backend's limit of 2147483639 per buffer", r.err().strip());
            r = CommandLineTest.run("demo", "long-range", "--hidden", "30000", "--device", "cuda-emulated", "--out", out.toString());
            assertEquals(1, r.code(), r.err());
            assertTrue(r.err().startsWith("bptt4j demo: parameter 'weight_hh_l0': shape [120000, 30000]"), "the LSTM's four gates: " + r.err());
            r = CommandLineTest.run("demo", "--hidden", "40000", "--device", "cuda-emulated", "--out", out.toString());
            assertEquals(1, r.code(), r.err());
            assertTrue(r.err().startsWith("bptt4j demo: not enough memory: --hidden 40000: the initial draw of weight_hh_l0 in float64 and its"
                    + " copy need 17.9 GiB of Java heap, "), r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
            assertTrue(!Files.exists(out), "nothing written");
            // train checks the same way, once its text is read.
            Path text = dir.resolve("text.txt");
            Files.writeString(text, "In the beginning God created the heaven and the earth. ".repeat(200));
            r = CommandLineTest.run("train", "--text", text.toString(), "--hidden", "40000", "--device", "cuda-emulated", "--out", out.toString());
            assertEquals(1, r.code(), r.err());
            assertTrue(r.err().startsWith("bptt4j train: not enough memory: --hidden 40000: the initial draw of weight_hh_l0"), r.err());
            assertTrue(!Files.exists(out), "nothing written");
        } finally {
            if (threads == null) System.clearProperty("bptt4j.threads");
            else System.setProperty("bptt4j.threads", threads);
        }
        // The backend's limit, in a JVM of its own whose CPU backend may take 64 MiB.
        Path out = dir.resolve("never-either");
        CommandLineTest.Result r = ChildJvm.run(dir, List.of("-Dorg.bytedeco.javacpp.maxBytes=64m"), Map.of(),
                "demo", "--hidden", "2000", "--seconds", "1", "--device", "cpu", "--out", out.toString());
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().startsWith("bptt4j demo: not enough memory on the cpu backend: --hidden 2000: the parameters with their gradients"
                + " and Adam's moments"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(!Files.exists(out), "nothing written");
    }
}
