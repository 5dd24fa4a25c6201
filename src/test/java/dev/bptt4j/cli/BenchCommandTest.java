package dev.bptt4j.cli;

import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.model.RnnMode;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BenchCommandTest {
    @Test
    void tinyRunPrintsMillisecondsPerStepLast() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code = Main.run(new String[]{"bench", "--T", "3", "--B", "2", "--I", "4", "--H", "5", "--steps", "3",
                        "--warmup", "1", "--warmup-seconds", "0", "--device", "cpu", "--dtype", "f64", "--no-input-grad"},
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        String text = out.toString(StandardCharsets.UTF_8).trim();
        System.out.println(text);
        assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
        String last = text.substring(text.lastIndexOf('\n') + 1);
        assertTrue(last.matches("ms_per_step=[0-9.]+"), "last line: " + last);
    }

    @Test
    void packedReusedRunReportsItsRealStepsAndBadMinLengthIsRefused() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code = Main.run(new String[]{"bench", "--T", "6", "--B", "4", "--I", "3", "--H", "5", "--steps", "2",
                        "--warmup", "1", "--warmup-seconds", "0", "--device", "cpu", "--min-length", "2", "--reuse-results"},
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        String text = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
        assertTrue(text.contains("reuse-results packed: lengths 2..6, "), text);
        assertTrue(text.matches("(?s).*ms_per_step=[0-9.]+\\s*"), text);

        ByteArrayOutputStream err2 = new ByteArrayOutputStream();
        int bad = Main.run(new String[]{"bench", "--T", "6", "--min-length", "7"},
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), new PrintStream(err2, true, StandardCharsets.UTF_8));
        assertTrue(bad != 0, "exit code for --min-length 7 > T");
        assertTrue(err2.toString(StandardCharsets.UTF_8).contains("--min-length: expected 1..6 (T), got 7"), err2.toString(StandardCharsets.UTF_8));
    }

    @Test
    void residentRunsFullAndPackedBatchesOnBothBackends() {
        for (String device : new String[]{"cpu", "cuda-emulated"}) {
            for (String minLength : new String[]{"5", "2"}) {
                ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
                int code = Main.run(new String[]{"bench", "--T", "5", "--B", "3", "--I", "4", "--H", "6", "--L", "2", "--steps", "2",
                                "--warmup", "1", "--warmup-seconds", "0", "--device", device, "--min-length", minLength, "--resident"},
                        new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
                String text = out.toString(StandardCharsets.UTF_8);
                assertEquals(0, code, device + ": " + err.toString(StandardCharsets.UTF_8));
                assertTrue(text.contains(" resident"), text);
                assertTrue(text.matches("(?s).*ms_per_step=[0-9.]+\\s*"), text);
            }
        }
    }

    private static long workspaceOf(String pass) {
        return workspaceOf("bench", "--mode", "lstm", "--T", "40", "--B", "3", "--I", "4", "--H", "6", "--L", "2", "--steps", "2",
                "--warmup", "1", "--warmup-seconds", "0", "--device", "cpu", "--pass", pass);
    }

    private static long workspaceOf(String... argv) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code = Main.run(argv, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        String text = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, String.join(" ", argv) + ": " + err.toString(StandardCharsets.UTF_8));
        assertTrue(text.matches("(?s).*ms_per_step=[0-9.]+\\s*"), text);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("workspace held: (\\d+) bytes").matcher(text);
        assertTrue(m.find(), text);
        return Long.parseLong(m.group(1));
    }

    /** --pass forward and infer run; infer holds less than the forward, which holds less than training. */
    @Test
    void forwardAndInferPassesReportTheirWorkspace() {
        long train = workspaceOf("train"), forward = workspaceOf("forward"), infer = workspaceOf("INFER");
        assertTrue(forward <= train && infer * 2 < forward, "train " + train + ", forward " + forward + ", infer " + infer);
        CommandLineTest.assertUsageError("bptt4j bench", "--resident: not with --pass infer", "bench", "--pass", "infer", "--resident");
        CommandLineTest.assertUsageError("bptt4j bench", "invalid value for option '--pass': expected train, forward or infer, got 'backward'",
                "bench", "--pass", "backward");
    }

    /** --checkpoint-activations: T·B = 8000 rows are four blocks, checkpoints every ⌈√1000⌉ = 32 steps keep one block's storage. */
    @Test
    void checkpointedActivationsHoldLessWorkspace() {
        String[] plain = {"bench", "--T", "1000", "--B", "8", "--I", "4", "--H", "6", "--steps", "1", "--warmup", "0",
                "--warmup-seconds", "0", "--device", "cpu"};
        long whole = workspaceOf(plain);
        String[] checkpointed = java.util.Arrays.copyOf(plain, plain.length + 1);
        checkpointed[plain.length] = "--checkpoint-activations";
        long segments = workspaceOf(checkpointed);
        assertTrue(segments * 2 < whole, "checkpointed " + segments + " against " + whole);
        CommandLineTest.assertUsageError("bptt4j bench",
                "invalid value for option '--checkpoint-activations': expected auto or a number of steps >= 1, got 0",
                "bench", "--checkpoint-activations", "0");
    }

    @Test
    void badOptionsAreUsageErrorsNamingTheOption() {
        // A trailing unknown flag is unknown (it used to "need a value").
        String line = CommandLineTest.assertUsageError("bptt4j bench", "unknown option '--bogus'", "bench", "--bogus");
        assertTrue(!line.contains("needs a value"), line);
        CommandLineTest.assertUsageError("bptt4j bench", "unknown option '--bogus'", "bench", "--T", "3", "--bogus", "--B", "2");
        // A value of the wrong type names the option and the type expected.
        CommandLineTest.assertUsageError("bptt4j bench", "invalid value for option '--T': expected an integer, got 'abc'", "bench", "--T", "abc");
        CommandLineTest.assertUsageError("bptt4j bench", "invalid value for option '--B': expected an integer, got '2.5'", "bench", "--B", "2.5");
        CommandLineTest.assertUsageError("bptt4j bench",
                "invalid value for option '--mode': expected one of RNN_TANH, RNN_RELU, LSTM, GRU (any case), got 'transformer'",
                "bench", "--mode", "transformer");
        CommandLineTest.assertUsageError("bptt4j bench", "invalid value for option '--dtype': expected f32 or f64, got 'f16'", "bench", "--dtype", "f16");
        CommandLineTest.assertUsageError("bptt4j bench", "missing required parameter for option '--steps'", "bench", "--steps");
        // Sizes are >= 1, --warmup >= 0; --T -1 blames --T (it used to blame --min-length).
        line = CommandLineTest.assertUsageError("bptt4j bench", "invalid value for option '--T': expected an integer >= 1, got -1", "bench", "--T", "-1");
        assertTrue(!line.contains("--min-length"), line);
        for (String option : new String[]{"--T", "--B", "--I", "--H", "--L", "--steps", "--min-length"}) {
            CommandLineTest.assertUsageError("bptt4j bench", "invalid value for option '" + option + "': expected an integer >= 1, got 0",
                    "bench", option, "0");
        }
        CommandLineTest.assertUsageError("bptt4j bench", "invalid value for option '--warmup': expected an integer >= 0, got -1", "bench", "--warmup", "-1");
        CommandLineTest.assertUsageError("bptt4j bench", "invalid value for option '--warmup-seconds': expected a number >= 0, got -1", "bench",
                "--warmup-seconds", "-1");
    }

    /**
     * Sizes that cannot fit are refused in one line with the figures, before x, dy or the model is
     * allocated: they ended in "Java heap space" (an OutOfMemoryError) part-way through. The test
     * JVM's heap is 4 GiB (the pom's argLine), which also caps the CPU backend's JavaCPP memory.
     */
    @Test
    void sizesThatCannotFitAreRefusedWithTheFigures() {
        CommandLineTest.Result r = CommandLineTest.run("bench", "--H", "100000", "--device", "cpu");
        assertEquals(1, r.code(), r.out() + r.err());
        assertEquals("bptt4j bench: parameter 'weight_hh_l0': shape [100000, 100000] is 10000000000 elements, more than the cpu backend's"
                + " limit of 2147483639 per buffer", r.err().strip());
        assertEquals("", r.out());

        r = CommandLineTest.run("bench", "--T", "100000", "--B", "1000", "--I", "1", "--H", "3000", "--device", "cpu");
        assertEquals(1, r.code(), r.err());
        assertEquals("bptt4j bench: too large: y and dy (T·B·H = 100000·1000·3000) would hold 300000000000 elements, more than a Java array"
                + " can (2147483639); use smaller sizes", r.err().strip());

        r = CommandLineTest.run("bench", "--T", "2000", "--B", "1000", "--I", "1000", "--H", "1000", "--dtype", "f64", "--device", "cpu");
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().strip().matches("bptt4j bench: not enough memory: the host tensors x, dy, y, dL/dx and the initial draw of"
                + " weight_ih_l0 need 59\\.6 GiB of Java heap, [0-9.]+ [MG]iB available \\(-Xmx [0-9.]+ GiB\\); use smaller sizes, or give Java"
                + " more with BPTT4J_JAVA_OPTS=-Xmx<size>"), r.err());

        // Host tensors of 128 MiB; a workspace of 64 layers of a million rows each, 8 GiB.
        r = CommandLineTest.run("bench", "--T", "1000", "--B", "1000", "--I", "8", "--H", "8", "--L", "64", "--device", "cpu");
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().strip().matches("bptt4j bench: not enough memory on the cpu backend: the parameters and their gradients \\(.*\\)"
                + " and the workspace of a train pass of T=1000, B=1000 \\([0-9.]+ GiB\\) need [0-9.]+ GiB, [0-9.]+ [MG]iB available; use"
                + " smaller sizes, or raise the limit \\(-Xmx, or -Dorg.bytedeco.javacpp.maxBytes\\)"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    /** The two reported command lines as a user runs them, in a JVM with a small heap: one line each, no stack trace. */
    @Test
    void theReportedCommandLinesEndInOneLine(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        CommandLineTest.Result r = ChildJvm.run(dir, java.util.List.of("-Xmx1g"), java.util.Map.of(),
                "bench", "--B", "100000000", "--H", "1", "--I", "1", "--T", "1", "--device", "cpu");
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().startsWith("bptt4j bench: not enough memory: the host tensors x, dy, y, dL/dx and the initial draw of weight_ih_l0"
                + " need 3.0 GiB of Java heap,"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        // The heap holds the host tensors (64 MiB each); the backend, capped at 64 MiB, cannot hold the workspace.
        r = ChildJvm.run(dir, java.util.List.of("-Xmx1g", "-Dorg.bytedeco.javacpp.maxBytes=64m"), java.util.Map.of(),
                "bench", "--T", "10", "--B", "100000", "--I", "16", "--H", "16", "--device", "cpu");
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().startsWith("bptt4j bench: not enough memory on the cpu backend: the parameters and their gradients"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        r = ChildJvm.run(dir, java.util.List.of(), java.util.Map.of(), "bench", "--H", "100000", "--device", "cpu");
        assertEquals(1, r.code(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(!r.err().contains("Exception") && !r.err().contains("\tat "), r.err());
    }

    @Test
    void flopIsSixTBHTimesIPlusHWithInputGradient() {
        RnnConfig c = RnnConfig.of(RnnMode.RNN_TANH, 256, 128);
        assertEquals(6.0 * 100 * 64 * 128 * (256 + 128), BenchCommand.flopPerStep(c, 100, 64, true));
        assertEquals(6.0 * 100 * 64 * 128 * (256 + 128) - 2.0 * 100 * 64 * 128 * 256, BenchCommand.flopPerStep(c, 100, 64, false));
    }
}
