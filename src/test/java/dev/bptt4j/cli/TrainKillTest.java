package dev.bptt4j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@code bptt4j train} in a child JVM with a checkpoint every 5 steps, killed with SIGKILL
 * ({@code destroyForcibly}) at 20 random moments and resumed after each: every resume must find a
 * complete checkpoint at least as new as the last one the child announced, never a damaged one,
 * and the run, finished at last, must end with the weights, head and loss.csv of an uninterrupted
 * run without checkpoints, byte for byte. The children pause {@value #PAUSE_MS} ms halfway
 * through writing each checkpoint's temporary file (a test-only property), so that many kills land
 * in the middle of a write; a {@code .tmp} file left behind shows that one did.
 */
class TrainKillTest {
    private static final int KILLS = 20, STEPS = 1000, PAUSE_MS = 30;
    private static final Pattern CHECKPOINT = Pattern.compile("checkpoint step (\\d+): .*");
    private static final Pattern RESUMING = Pattern.compile("resuming from .*checkpoint-(\\d+)\\.safetensors");

    private static List<String> train(Path text, Path out) {
        return List.of("train", "--text", text.toString(), "--mode", "LSTM", "--hidden", "16", "--batch", "4", "--bptt", "8",
                "--steps", Integer.toString(STEPS), "--seed", "7", "--sample", "40", "--out", out.toString(), "--device", "cpu");
    }

    /** A child JVM running the command line, its stdout lines delivered to a queue, its stderr to a file. */
    private record Child(Process process, BlockingQueue<String> lines, Path stderr) {
        static Child start(List<String> args, boolean pausing, Path stderr) throws IOException {
            List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    // Short-lived JVMs: OpenBLAS loads faster than MKL, C1 alone compiles enough; every child and the reference alike.
                    "-Dbptt4j.threads=1", "-Dbptt4j.blas=openblas", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Djava.awt.headless=true"));
            if (pausing) command.add("-Dbptt4j.test.checkpointPauseMillis=" + PAUSE_MS);
            command.addAll(List.of("-cp", System.getProperty("java.class.path"), "dev.bptt4j.cli.Main"));
            command.addAll(args);
            Process p = new ProcessBuilder(command).redirectError(stderr.toFile()).start();
            BlockingQueue<String> lines = new LinkedBlockingQueue<>();
            Thread reader = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = r.readLine()) != null; ) lines.add(line);
                } catch (IOException e) {
                    // the child was killed
                }
                lines.add("<end>");
            });
            reader.setDaemon(true);
            reader.start();
            return new Child(p, lines, stderr);
        }

        String next() throws InterruptedException {
            String line = lines.poll(60, TimeUnit.SECONDS);
            if (line == null) fail("child: no output for 60 s");
            return line;
        }

        String stderrText() throws IOException {
            return Files.readString(stderr);
        }
    }

    @Test
    void killedAtRandomMomentsAndResumedEndsAsAnUninterruptedRun(@TempDir Path dir) throws Exception {
        long start = System.nanoTime();
        Path text = dir.resolve("text.txt");
        StringBuilder s = new StringBuilder();
        Random words = new Random(3);
        String[] vocabulary = {"the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "it", "was", "red"};
        while (s.length() < 60_000) s.append(vocabulary[words.nextInt(vocabulary.length)]).append(words.nextInt(9) == 0 ? ".\n" : " ");
        Files.writeString(text, s);

        Path reference = dir.resolve("reference"), killed = dir.resolve("killed");
        // The uninterrupted run, without checkpoints, runs beside the killed ones.
        Child ref = Child.start(train(text, reference), false, dir.resolve("reference.err"));

        Random random = new Random(20_261_202);
        List<String> args = new ArrayList<>(train(text, killed));
        args.addAll(List.of("--checkpoint-every", "5"));
        int duringWrite = 0;
        long announced = -1;
        List<String> log = new ArrayList<>();
        for (int kill = 0; kill <= KILLS; kill++) {
            boolean last = kill == KILLS;
            List<String> command = kill == 0 ? args : List.of("train", "--resume", killed.toString(), "--device", "cpu");
            Child child = Child.start(command, !last, dir.resolve("child" + kill + ".err"));
            long resumedAt = -1;
            int waitFor = 1 + random.nextInt(2), seen = 0;
            long newest = -1;
            while (seen < waitFor || last) {
                String line = child.next();
                if (line.equals("<end>")) break;
                Matcher c = CHECKPOINT.matcher(line), r = RESUMING.matcher(line);
                if (c.matches()) {
                    seen++;
                    newest = Long.parseLong(c.group(1));
                }
                if (r.matches()) resumedAt = Long.parseLong(r.group(1));
            }
            if (kill > 0) {
                assertTrue(resumedAt >= 0, "child " + kill + " did not resume: " + child.stderrText());
                // Nothing announced is ever lost (a later checkpoint may have been renamed into place before the kill).
                assertTrue(resumedAt >= announced, "child " + kill + " resumed at step " + resumedAt + ", but step " + announced + " was announced");
            }
            if (last) {
                assertEquals(0, child.process().waitFor(), child.stderrText());
            } else {
                long delay = random.nextInt(2 * PAUSE_MS);
                Thread.sleep(delay);
                assertTrue(child.process().isAlive(), "child " + kill + " finished before it was killed: raise STEPS");
                child.process().destroyForcibly();
                child.process().waitFor();
                boolean tmp = temporaryFiles(killed.resolve("checkpoints")) > 0;
                if (tmp) duringWrite++;
                announced = newest;
                log.add(String.format("kill %2d: resumed at %4d, announced %4d, killed %2d ms after it%s", kill, resumedAt, newest, delay,
                        tmp ? ", during a checkpoint write" : ""));
            }
            assertFalse(child.stderrText().contains("skipping"), "child " + kill + " found a damaged checkpoint: " + child.stderrText());
        }
        assertEquals(0, ref.process().waitFor(), () -> "reference run: " + stderr(ref));
        log.forEach(System.out::println);
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("%d kills, %d during a checkpoint write, %.1f s in all%n", KILLS, duringWrite, seconds);
        for (String f : new String[]{"rnn.safetensors", "head.safetensors", "loss.csv"}) {
            byte[] expected = Files.readAllBytes(reference.resolve(f)), actual = Files.readAllBytes(killed.resolve(f));
            System.out.printf("%s: %d bytes, %s%n", f, expected.length, java.util.Arrays.equals(expected, actual) ? "identical" : "DIFFERENT");
            assertArrayEquals(expected, actual, f + " after " + KILLS + " kills differs from the uninterrupted run's");
        }
        assertTrue(duringWrite >= 3, "only " + duringWrite + " of " + KILLS + " kills landed during a checkpoint write");
        assertEquals(0, temporaryFiles(killed.resolve("checkpoints")), "the finished run leaves no temporary file");
    }

    private static String stderr(Child c) {
        try {
            return c.stderrText();
        } catch (IOException e) {
            return e.toString();
        }
    }

    private static long temporaryFiles(Path checkpoints) throws IOException {
        if (!Files.isDirectory(checkpoints)) return 0;
        try (Stream<Path> files = Files.list(checkpoints)) {
            return files.filter(p -> p.getFileName().toString().endsWith(".tmp")).count();
        }
    }

    @Test
    void theChildJvmSeesOurClasses() {
        assertNotNull(System.getProperty("java.class.path"));
        assertTrue(System.getProperty("java.class.path").contains("classes"), System.getProperty("java.class.path"));
    }
}
