package dev.bptt4j.cli;

import dev.bptt4j.io.SafeTensors;
import dev.bptt4j.io.SafeTensorsFile;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The commands end to end, in-process: exit codes, written files, and one-line errors. */
class CommandLineTest {
    record Result(int code, String out, String err) {
    }

    static Result run(String... argv) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code = Main.run(argv, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /**
     * A usage error: exit 2, one line "bptt4j COMMAND: PROBLEM" on stderr containing {@code problem},
     * then the command's usage; returns the problem line.
     */
    static String assertUsageError(String command, String problem, String... argv) {
        Result r = run(argv);
        String[] lines = r.err.split("\\R");
        assertEquals(2, r.code, String.join(" ", argv) + ": " + r.err);
        assertTrue(lines[0].startsWith(command + ": ") && lines[0].contains(problem), String.join(" ", argv) + ": " + r.err);
        assertTrue(lines.length > 1 && lines[1].startsWith("usage: " + command), String.join(" ", argv) + ": " + r.err);
        assertEquals("", r.out, String.join(" ", argv));
        return lines[0];
    }

    static Path bundled(Path dir, String name) throws Exception {
        Path p = dir.resolve(name);
        try (InputStream in = CommandLineTest.class.getResourceAsStream("/cases/" + name)) {
            Files.write(p, in.readAllBytes());
        }
        return p;
    }

    @Test
    void gradWritesTheExpectedTensorsWithTheirNamesShapesAndDtypes(@TempDir Path dir) throws Exception {
        for (String name : new String[]{"rnn_tanh_bidir.safetensors", "rnn_tanh_basic_f32.safetensors", "rnn_tanh_lengths.safetensors",
                "lstm_basic.safetensors", "gru_basic.safetensors"}) {
            Path in = bundled(dir, name), out = dir.resolve("out-" + name);
            Result r = run("grad", in.toString(), out.toString(), "--device", "cpu");
            assertEquals(0, r.code, r.err);
            SafeTensorsFile expected = SafeTensors.read(in), actual = SafeTensors.read(out);
            for (Map.Entry<String, Tensor> e : expected.tensors().entrySet()) {
                String k = e.getKey();
                if (!(k.equals("y") || k.equals("hn") || k.equals("cn") || k.startsWith("grad."))) continue;
                Tensor got = actual.get(k);
                assertArrayEquals(e.getValue().shape(), got.shape(), k);
                assertEquals(e.getValue().dtype(), got.dtype(), k);
                double err = got.relativeError(e.getValue());
                System.out.printf("grad %s %s rel.error %.2e%n", name, k, err);
                assertTrue(err <= 1e-5, name + " " + k + " " + err);
            }
        }
    }

    @Test
    void gradRejectsInvalidCasesWithOneLine(@TempDir Path dir) throws Exception {
        Path broken = dir.resolve("broken.safetensors");
        Files.write(broken, new byte[]{1, 2, 3});
        Result bad = run("grad", broken.toString(), dir.resolve("o").toString(), "--device", "cpu");
        assertEquals(1, bad.code);
        assertTrue(bad.err.strip().lines().count() == 1, bad.err);

        Result missing = run("grad", dir.resolve("nope.safetensors").toString(), dir.resolve("o").toString());
        assertEquals(1, missing.code);
        assertTrue(missing.err.contains("nope.safetensors"), missing.err);

        Result usage = run("grad");
        assertEquals(2, usage.code);
        assertTrue(usage.err.contains("usage: bptt4j grad"), usage.err);
        assertEquals(2, run("grad", "a", "b", "--frobnicate", "1").code);
        assertEquals(2, run("launch-missiles").code);
    }

    /** A directory or a device where a case file belongs used to say "IOException: Is a directory" or "0 bytes". */
    @Test
    void aDirectoryOrDeviceWhereACaseBelongsIsNamedAsSuch(@TempDir Path dir) throws Exception {
        Path cases = Files.createDirectory(dir.resolve("cases"));
        bundled(cases, "rnn_tanh_basic.safetensors");
        assertUsageError("bptt4j grad", "CASE is a directory: " + cases + " (grad takes one case file; check and compare take a directory)",
                "grad", cases.toString(), dir.resolve("o.safetensors").toString(), "--device", "cpu");
        assertUsageError("bptt4j grad", "OUT is a directory: " + cases, "grad", cases.resolve("rnn_tanh_basic.safetensors").toString(),
                cases.toString(), "--device", "cpu");
        if (Files.exists(Path.of("/dev/urandom"))) {
            Result r = run("grad", "/dev/urandom", dir.resolve("o.safetensors").toString(), "--device", "cpu");
            assertEquals(1, r.code, r.err);
            assertEquals("bptt4j grad: /dev/urandom: not a regular file (a device, pipe or socket); a safetensors file is expected", r.err.strip());
            r = run("compare", "/dev/urandom", "--device", "cuda-emulated");
            assertEquals(1, r.code, r.err);
            assertTrue(r.out.contains("FAIL (/dev/urandom: not a regular file"), r.out);
        }
        // In check's directory, a sub-directory named like a case fails as one, saying what it is.
        Files.createDirectory(cases.resolve("sub.safetensors"));
        Result r = run("check", cases.toString(), "--device", "cpu");
        assertEquals(1, r.code, r.out);
        assertTrue(r.out.contains("FAIL (" + cases.resolve("sub.safetensors") + ": is a directory, not a safetensors file)"), r.out);
        assertTrue(r.out.contains("1 passed, 1 failed"), r.out);
        assertUsageError("bptt4j check", "not a directory: " + cases.resolve("rnn_tanh_basic.safetensors") + " (check takes a directory",
                "check", cases.resolve("rnn_tanh_basic.safetensors").toString());
        assertUsageError("bptt4j check", "no such directory: " + dir.resolve("nowhere"), "check", dir.resolve("nowhere").toString());
    }

    /** grad X X overwrote its own case and exited 0; any existing OUT was replaced silently. */
    @Test
    void gradNeverOverwritesTheCaseAndReplacesAnExistingOutOnlyWithForce(@TempDir Path dir) throws Exception {
        Path c = bundled(dir, "rnn_tanh_basic.safetensors");
        byte[] original = Files.readAllBytes(c);
        Path link = Files.createSymbolicLink(dir.resolve("link.safetensors"), c);
        Path relative = Path.of("").toAbsolutePath().relativize(c);
        Files.createDirectory(dir.resolve("sub"));
        for (String[] argv : new String[][]{{"grad", c.toString(), c.toString()}, {"grad", c.toString(), link.toString()},
                {"grad", relative.toString(), c.toString()}, {"grad", c.toString(), dir.resolve("sub/../rnn_tanh_basic.safetensors").toString()},
                {"grad", c.toString(), c.toString(), "--force"}, {"grad", link.toString(), c.toString(), "--force"}}) {
            String line = assertUsageError("bptt4j grad", "OUT is the case itself: ", argv);
            assertTrue(line.contains("would destroy the case"), line);
        }
        assertArrayEquals(original, Files.readAllBytes(c), "the case is untouched");

        Path mine = dir.resolve("mine.safetensors");
        Files.writeString(mine, "my own file");
        assertUsageError("bptt4j grad", "OUT exists: " + mine + " (choose a new file, or --force to replace it)",
                "grad", c.toString(), mine.toString(), "--device", "cpu");
        assertEquals("my own file", Files.readString(mine));
        Result forced = run("grad", c.toString(), mine.toString(), "--device", "cpu", "--force");
        assertEquals(0, forced.code, forced.err);
        assertTrue(SafeTensors.read(mine).tensors().containsKey("grad.weight_hh_l0"));
        try (var left = Files.list(dir)) {
            assertTrue(left.noneMatch(p -> p.getFileName().toString().endsWith(".partial")), "no partial file left behind");
        }
        assertUsageError("bptt4j grad", "OUT's directory does not exist: " + dir.resolve("nowhere"),
                "grad", c.toString(), dir.resolve("nowhere/out.safetensors").toString());
    }

    @Test
    void checkRunsTheBundledCasesAndADirectory(@TempDir Path dir) throws Exception {
        Result r = run("check", "--device", "cpu");
        assertEquals(0, r.code, r.out + r.err);
        assertTrue(r.out.contains("rnn_tanh_bidir") && r.out.contains("grad.weight_hh_l0_reverse"), r.out);
        assertTrue(r.out.contains("lstm_basic") && r.out.contains("grad.c0") && r.out.contains("gru_basic"), r.out);
        assertTrue(!r.out.contains("SKIP"), r.out);
        assertTrue(r.out.lines().anyMatch(l -> l.matches("\\d+ passed, 0 failed.*")), r.out);

        bundled(dir, "rnn_tanh_basic.safetensors");
        Result one = run("check", dir.toString(), "--device", "cpu");
        assertEquals(0, one.code, one.out);
        assertTrue(one.out.contains("1 passed, 0 failed"), one.out);
    }

    @Test
    void checkFailsOnAWrongExpectation(@TempDir Path dir) throws Exception {
        SafeTensorsFile f = SafeTensors.read(bundled(dir, "rnn_tanh_basic.safetensors"));
        Map<String, Tensor> tensors = new java.util.LinkedHashMap<>(f.tensors());
        Tensor y = tensors.get("y").copy();
        y.setDouble(0, y.getDouble(0) + 1e-3);
        tensors.put("y", y);
        Path sub = Files.createDirectory(dir.resolve("wrong"));
        SafeTensors.write(sub.resolve("tampered.safetensors"), tensors, f.metadata());
        Result r = run("check", sub.toString(), "--device", "cpu");
        assertEquals(1, r.code);
        assertTrue(r.out.contains("0 passed, 1 failed"), r.out);
    }

    /** A case without y, hn or any grad.* used to pass ("1 passed") though it compared nothing. */
    @Test
    void checkFailsACaseWithNoExpectedTensors(@TempDir Path dir) throws Exception {
        SafeTensorsFile f = SafeTensors.read(bundled(dir, "lstm_basic.safetensors"));
        Map<String, Tensor> inputsOnly = new java.util.LinkedHashMap<>(f.tensors());
        inputsOnly.keySet().removeIf(k -> k.equals("y") || k.equals("hn") || k.equals("cn") || k.startsWith("grad."));
        assertTrue(inputsOnly.containsKey("x") && inputsOnly.containsKey("weight_hh_l0"), inputsOnly.keySet().toString());
        Path sub = Files.createDirectory(dir.resolve("stripped"));
        SafeTensors.write(sub.resolve("lstm_inputs_only.safetensors"), inputsOnly, f.metadata());
        Result r = run("check", sub.toString(), "--device", "cpu");
        System.out.print(r.out);
        assertEquals(1, r.code, r.out + r.err);
        assertTrue(r.out.contains("lstm_inputs_only") && r.out.contains("FAIL (no expected tensors (y, hn, cn, grad.*): the case checks nothing)"),
                r.out);
        assertTrue(r.out.contains("0 passed, 1 failed"), r.out);
        // grad still makes the results such a case lacks.
        Result g = run("grad", sub.resolve("lstm_inputs_only.safetensors").toString(), dir.resolve("made.safetensors").toString(), "--device", "cpu");
        assertEquals(0, g.code, g.err);
        assertTrue(SafeTensors.read(dir.resolve("made.safetensors")).tensors().keySet().containsAll(List.of("y", "hn", "cn", "grad.x")));
    }

    @Test
    void noArgumentsAndUnknownCommandsPrintTheUsageAndExit2() {
        Result none = run();
        assertEquals(2, none.code);
        assertTrue(none.out.startsWith("usage: bptt4j COMMAND"), none.out);
        for (String command : new String[]{"demo [long-range]", "check [DIR]", "grad CASE OUT", "compare CASE|DIR", "bench", "info"}) {
            assertTrue(none.out.contains("\n  " + command + " "), command + " listed: " + none.out);
        }
        Result unknown = run("launch-missiles", "--now");
        assertEquals(2, unknown.code);
        assertEquals("bptt4j: unknown command 'launch-missiles'", unknown.err.lines().findFirst().orElse(""), unknown.err);
        assertTrue(unknown.err.contains("usage: bptt4j COMMAND"), unknown.err);
        assertUsageError("bptt4j", "unknown option '--bogus'", "--bogus");
    }

    @Test
    void helpOnEveryCommandListsItsOptionsAndTheAcceptedValues() {
        for (String[] argv : new String[][]{{"--help"}, {"-h"}, {"help"}}) {
            Result r = run(argv);
            assertEquals(0, r.code, argv[0]);
            assertTrue(r.out.startsWith("usage: bptt4j COMMAND") && r.out.contains("bench "), r.out);
        }
        for (String command : new String[]{"demo", "check", "grad", "compare", "bench", "info"}) {
            for (String[] argv : new String[][]{{command, "--help"}, {command, "-h"}, {"help", command}}) {
                Result r = run(argv);
                assertEquals(0, r.code, String.join(" ", argv) + ": " + r.err);
                assertTrue(r.out.startsWith("usage: bptt4j " + command), r.out);
                assertTrue(r.out.contains("-h, --help"), r.out);
                assertEquals("", r.err);
            }
        }
        String bench = run("bench", "--help").out;
        for (String option : new String[]{"--mode=MODE", "--T=N", "--B=N", "--I=N", "--H=N", "--L=N", "--steps=N", "--warmup=N",
                "--device=DEVICE", "--dtype=DTYPE", "--no-input-grad", "--reuse-results", "--resident", "--min-length=N"}) {
            assertTrue(bench.contains(option), option + ": " + bench);
        }
        assertTrue(bench.contains("RNN_TANH, RNN_RELU, LSTM, GRU"), bench);
        assertTrue(bench.contains("cpu, gpu, cuda-emulated, auto"), bench);
        assertTrue(bench.contains("f32, f64"), bench);
        assertTrue(bench.contains("Time steps (default: 100)"), bench);
        String demo = run("demo", "--help").out;
        for (String option : new String[]{"--seconds=S", "--out=DIR", "--hidden=N", "--device=DEVICE"}) assertTrue(demo.contains(option), demo);
        String compare = run("compare", "--help").out;
        assertTrue(compare.contains("with the CPU: gpu, cuda-emulated") && !compare.contains("auto"), "compare lists its two devices: " + compare);
    }

    @Test
    void usageErrorsNameTheProblemInOneLine() {
        assertUsageError("bptt4j grad", "missing required parameters: 'CASE', 'OUT'", "grad");
        assertUsageError("bptt4j grad", "unknown option '--frobnicate'", "grad", "a", "b", "--frobnicate", "1");
        assertUsageError("bptt4j check", "unexpected argument 'b'", "check", "a", "b");
        assertUsageError("bptt4j info", "unexpected argument 'extra'", "info", "extra");
        // A value of the wrong type names the option and what it takes.
        assertUsageError("bptt4j check", "invalid value for option '--device': expected one of cpu, gpu, cuda-emulated, auto, got 'tpu'",
                "check", "--device", "tpu");
        assertUsageError("bptt4j grad", "missing required parameter for option '--device'", "grad", "a", "b", "--device");
    }

    @Test
    void typedOptionsAcceptWhatTheyDidBefore() {
        assertEquals(dev.bptt4j.model.RnnMode.LSTM, new Options.Mode().convert("lstm"));
        assertEquals(dev.bptt4j.model.RnnMode.RNN_RELU, new Options.Mode().convert(" Rnn_Relu"));
        assertEquals(Options.Device.CUDA_EMULATED, new Options.AnyDevice().convert("CUDA-Emulated"));
        assertEquals(Options.Device.GPU, new Options.AnyDevice().convert("cuda"));
        assertEquals(Options.Device.GPU, new Options.GpuDevice().convert("cuda"));
        assertEquals(dev.bptt4j.tensor.DType.F64, new Options.FloatType().convert("double"));
        assertEquals("cuda-emulated", Options.Device.CUDA_EMULATED.toString());
    }

    /** An unknown BLAS used to end in a bare "ExceptionInInitializerError". */
    @Test
    void anUnknownBlasIsNamedWithTheValuesAccepted(@TempDir Path dir) throws Exception {
        String saved = System.getProperty("bptt4j.blas");
        System.setProperty("bptt4j.blas", "bogus");
        try {
            Result r = run("check", "--device", "cpu");
            assertEquals(1, r.code, r.out + r.err);
            assertEquals("bptt4j check: -Dbptt4j.blas=bogus: unknown BLAS; expected mkl, openblas or auto", r.err.strip());
            assertTrue(run("info").out.contains("cpu: unavailable: -Dbptt4j.blas=bogus: unknown BLAS; expected mkl, openblas or auto"));
        } finally {
            if (saved == null) System.clearProperty("bptt4j.blas");
            else System.setProperty("bptt4j.blas", saved);
        }
        // The environment variable, in a JVM of its own (and with the property unset there).
        Result child = ChildJvm.run(dir, List.of(), Map.of("BPTT4J_BLAS", "bogus"), "check", "--device", "cpu");
        assertEquals(1, child.code(), child.err());
        assertEquals("bptt4j check: BPTT4J_BLAS=bogus: unknown BLAS; expected mkl, openblas or auto", child.err().strip());
    }

    /**
     * The backstop behind the size checks: an OutOfMemoryError anywhere in a command is one line
     * saying what to do, never a stack trace; a failed static initialiser is its cause's message.
     */
    @Test
    void anOutOfMemoryErrorIsOneLine(@TempDir Path dir) throws Exception {
        assertEquals("out of memory (Java heap space): use smaller sizes, or give Java more memory (-Xmx, e.g. BPTT4J_JAVA_OPTS=-Xmx8g)",
                Main.oneLine(new OutOfMemoryError("Java heap space")));
        assertEquals("bad value", Main.oneLine(new ExceptionInInitializerError(new IllegalArgumentException("bad value"))));
        // A heap too small for the command, as a user would give it. 16 MiB once sufficed with MKL, whose
        // resident size alone passed JavaCPP's limit (4 × -Xmx); with OpenBLAS check then passes at times.
        Result r = ChildJvm.run(dir, List.of("-Xmx8m"), Map.of(), "check", "--device", "cpu");
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().matches("bptt4j( check)?: out of memory \\(.*\\): use smaller sizes, or give Java more memory .*\\R?"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    /** The README's command list names every command and every option of each (bench's --pass was once missing). */
    @Test
    void theReadmeCommandListNamesEveryCommandAndOption() throws Exception {
        String readme = Files.readString(Path.of("README.md"), StandardCharsets.UTF_8);
        int section = readme.indexOf("### Command line");
        assertTrue(section >= 0, "README has a Command line section");
        int open = readme.indexOf("```", section), close = readme.indexOf("```", open + 3);
        String list = readme.substring(open + 3, close);
        picocli.CommandLine cl = Main.commandLine(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        List<String> missing = new java.util.ArrayList<>();
        for (var e : cl.getSubcommands().entrySet()) {
            String command = "bptt4j " + e.getKey();
            // The command's entries (train has two): each up to the next "bptt4j " line.
            StringBuilder entries = new StringBuilder();
            for (int at = list.indexOf("\n" + command + " "); at >= 0; at = list.indexOf("\n" + command + " ", at + 1)) {
                int end = list.indexOf("\nbptt4j ", at + 1);
                entries.append(list, at, end < 0 ? list.length() : end);
            }
            if (entries.length() == 0) {
                missing.add(command);
                continue;
            }
            String entry = entries.toString();
            for (var option : e.getValue().getCommandSpec().options()) {
                if (option.usageHelp() || option.versionHelp()) continue;
                if (!entry.contains(option.longestName())) missing.add(command + " " + option.longestName());
            }
        }
        assertTrue(missing.isEmpty(), "missing from the README's command list: " + missing + "\n" + list);
    }

    @Test
    void infoNamesTheBackends() {
        Result r = run("info");
        assertEquals(0, r.code);
        assertTrue(r.out.contains("cpu: available"), r.out);
        assertTrue(r.out.contains("gpu: "), r.out);
    }
}
