package dev.bptt4j.cli;

import dev.bptt4j.io.SafeTensors;
import dev.bptt4j.io.SafeTensorsFile;
import dev.bptt4j.train.TrainingState;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code bptt4j train} end to end in-process: the files it writes, resuming, and one line for each bad command line or input. */
class TrainCommandTest {
    private static Path text(Path dir) throws Exception {
        Path t = dir.resolve("story.txt");
        StringBuilder s = new StringBuilder("once upon a time ");
        java.util.Random r = new java.util.Random(4);
        String[] words = {"once", "upon", "a", "time", "there", "was", "a", "fox", "who", "ran"};
        while (s.length() < 20_000) s.append(words[r.nextInt(words.length)]).append(r.nextInt(7) == 0 ? ".\n" : " ");
        Files.writeString(t, s);
        return t;
    }

    private static String[] args(String... more) {
        List<String> a = new ArrayList<>(List.of("train", "--mode", "GRU", "--hidden", "12", "--batch", "4", "--bptt", "10", "--device", "cpu"));
        a.addAll(List.of(more));
        return a.toArray(new String[0]);
    }

    @Test
    void trainsOnTheGivenTextAndWritesEveryFile(@TempDir Path dir) throws Exception {
        Path text = text(dir), out = dir.resolve("run");
        CommandLineTest.Result r = CommandLineTest.run(args("--text", text.toString(), "--steps", "30", "--micro-batches", "2", "--out", out.toString()));
        System.out.print(r.out());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("char-level language model on story.txt: 20,"), r.out());
        assertTrue(r.out().contains("GRU, hidden 12, batch 4 as 2 micro-batches, tBPTT k=10, Adam lr 1e-02 decaying linearly to a tenth, clip 1.0, cpu, 30 steps"), r.out());
        for (String f : new String[]{"loss.png", "loss.csv", "gradient-flow.png", "gradient-flow.csv", "rnn.safetensors", "head.safetensors", "sample.txt"}) {
            assertTrue(Files.size(out.resolve(f)) > 0, f);
        }
        assertFalse(Files.exists(out.resolve("checkpoints")), "no checkpoints unless asked");
        SafeTensorsFile rnn = SafeTensors.read(out.resolve("rnn.safetensors"));
        assertEquals("GRU", rnn.metadata().get("mode"));
        assertArrayEquals(new int[]{36, 12}, rnn.get("weight_hh_l0").shape(), "GRU: 3 gates x 12");
        SafeTensorsFile head = SafeTensors.read(out.resolve("head.safetensors"));
        assertEquals("\n .acefhimnoprstuwx", head.metadata().get("vocabulary"));
        assertTrue(Files.readString(out.resolve("sample.txt")).startsWith("once upon a "), "the default prompt: the text's first 12 characters");
        assertEquals("step,train_loss_per_char,validation_loss_per_char", Files.readAllLines(out.resolve("loss.csv")).get(0));
    }

    /** --checkpoint-activations changes no bit: chunks of 300 steps × 8 streams are two GEMM blocks, kept as two segments. */
    @Test
    void checkpointedActivationsTrainTheSameBits(@TempDir Path dir) throws Exception {
        Path text = text(dir), plain = dir.resolve("plain"), checkpointed = dir.resolve("checkpointed");
        String[] common = {"train", "--mode", "LSTM", "--hidden", "8", "--batch", "8", "--bptt", "300", "--device", "cpu", "--text", text.toString(),
                "--steps", "3", "--sample", "20"};
        List<String> a = new ArrayList<>(List.of(common));
        a.addAll(List.of("--out", plain.toString()));
        CommandLineTest.Result r = CommandLineTest.run(a.toArray(new String[0]));
        assertEquals(0, r.code(), r.err());
        List<String> b = new ArrayList<>(List.of(common));
        b.addAll(List.of("--checkpoint-activations", "20", "--out", checkpointed.toString()));
        r = CommandLineTest.run(b.toArray(new String[0]));
        assertEquals(0, r.code(), r.err());
        for (String f : new String[]{"rnn.safetensors", "head.safetensors", "loss.csv", "sample.txt"}) {
            assertArrayEquals(Files.readAllBytes(plain.resolve(f)), Files.readAllBytes(checkpointed.resolve(f)), f);
        }
    }

    @Test
    void resumesFromTheNewestCheckpoint(@TempDir Path dir) throws Exception {
        Path text = text(dir), whole = dir.resolve("whole"), resumed = dir.resolve("resumed");
        assertEquals(0, CommandLineTest.run(args("--text", text.toString(), "--steps", "20", "--out", whole.toString())).code());
        assertEquals(0, CommandLineTest.run(args("--text", text.toString(), "--steps", "20", "--checkpoint-every", "8", "--out",
                resumed.toString())).code());
        Path checkpoints = resumed.resolve("checkpoints");
        assertEquals(List.of("checkpoint-000000000016.safetensors", "checkpoint-000000000020.safetensors"),
                Files.list(checkpoints).map(p -> p.getFileName().toString()).sorted().toList(), "every 8 steps and at the end; the last two kept");
        Files.delete(checkpoints.resolve("checkpoint-000000000020.safetensors"));
        Files.delete(resumed.resolve("rnn.safetensors"));
        CommandLineTest.Result r = CommandLineTest.run("train", "--resume", resumed.toString(), "--device", "cpu");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("resuming from " + checkpoints.resolve("checkpoint-000000000016.safetensors")), r.out());
        assertTrue(r.out().contains("resuming at step 16 of 20"), r.out());
        for (String f : new String[]{"rnn.safetensors", "head.safetensors", "loss.csv", "sample.txt"}) {
            assertArrayEquals(Files.readAllBytes(whole.resolve(f)), Files.readAllBytes(resumed.resolve(f)), f);
        }
        assertEquals(20, TrainingState.load(checkpoints.resolve("checkpoint-000000000020.safetensors")).step());

        // A longer budget continues the finished run (the learning-rate schedule then follows the new budget).
        r = CommandLineTest.run("train", "--resume", resumed.toString(), "--steps", "24", "--device", "cpu");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("resuming at step 20 of 24"), r.out());

        // The text has changed since: refused, naming both.
        Files.writeString(text, Files.readString(text).replace("fox", "cat"));
        r = CommandLineTest.run("train", "--resume", resumed.toString(), "--device", "cpu");
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("bptt4j train: the text differs from the one the checkpoint was trained on (story.txt, 20,"), r.err());
        assertTrue(r.err().contains(" characters; now story.txt, 20,"), r.err());
    }

    @Test
    void badCommandLinesAreUsageErrors(@TempDir Path dir) throws Exception {
        String t = text(dir).toString();
        CommandLineTest.assertUsageError("bptt4j train", "--text FILE is required (or --resume DIR to continue a run)", "train");
        CommandLineTest.assertUsageError("bptt4j train", "--steps and --seconds: give one budget, not both", "train", "--text", t, "--steps", "5", "--seconds", "3");
        CommandLineTest.assertUsageError("bptt4j train", "--micro-batches: 3 does not divide the batch of 32", "train", "--text", t, "--micro-batches", "3");
        CommandLineTest.assertUsageError("bptt4j train", "--proj: only the LSTM has projections, not GRU", "train", "--text", t, "--mode", "gru", "--proj", "4");
        CommandLineTest.assertUsageError("bptt4j train", "--proj: expected less than hidden (16), got 16", "train", "--text", t, "--mode", "lstm",
                "--hidden", "16", "--proj", "16");
        CommandLineTest.assertUsageError("bptt4j train", "--momentum: only SGD has a momentum setting", "train", "--text", t, "--momentum", "0.9");
        CommandLineTest.assertUsageError("bptt4j train", "--optimizer: expected adam or sgd, got rmsprop", "train", "--text", t, "--optimizer", "rmsprop");
        CommandLineTest.assertUsageError("bptt4j train", "invalid value for option '--dropout': expected a number >= 0 and < 1, got 1", "train", "--text", t, "--dropout", "1");
        CommandLineTest.assertUsageError("bptt4j train", "invalid value for option '--valid-fraction': expected a positive number, got 0", "train", "--text", t,
                "--valid-fraction", "0");
        CommandLineTest.assertUsageError("bptt4j train", "invalid value for option '--bptt': expected an integer >= 1, got 0", "train", "--text", t, "--bptt", "0");
        CommandLineTest.assertUsageError("bptt4j train", "invalid value for option '--seed': expected an integer, got 'x'", "train", "--text", t, "--seed", "x");
        CommandLineTest.assertUsageError("bptt4j train", "--hidden: a resumed run keeps the settings of its checkpoint", "train", "--resume",
                dir.toString(), "--hidden", "64");
        assertTrue(CommandLineTest.run("--help").out().contains("\n  train  "), "listed in the usage");
    }

    @Test
    void badInputIsOneLineBeforeAnythingRuns(@TempDir Path dir) throws Exception {
        Path latin1 = dir.resolve("latin1.txt"), empty = dir.resolve("empty.txt"), tiny = dir.resolve("tiny.txt");
        Files.write(latin1, "caf\u00e9".getBytes(StandardCharsets.ISO_8859_1));
        Files.write(empty, new byte[0]);
        Files.writeString(tiny, "a few words only\n");
        Path mine = Files.createDirectories(dir.resolve("mine"));
        Files.writeString(mine.resolve("notes.txt"), "keep me");
        String[][] cases = {
                {dir.resolve("missing.txt") + ": no such file", "--text", dir.resolve("missing.txt").toString()},
                {latin1 + ": not UTF-8 text (invalid byte 0xe9 at offset 3)", "--text", latin1.toString()},
                {empty + ": empty file", "--text", empty.toString()},
                {tiny + ": 17 characters are too few: batch 32 and bptt 32 need 1,088 training characters", "--text", tiny.toString()},
                {mine + ": holds files a training run does not write (notes.txt)", "--text", tiny.toString(), "--out", mine.toString()},
                {dir.resolve("nothing") + "/checkpoints: no usable checkpoint", "--resume", dir.resolve("nothing").toString()},
        };
        for (String[] c : cases) {
            List<String> argv = new ArrayList<>(List.of("train", "--device", "cpu"));
            argv.addAll(List.of(c).subList(1, c.length));
            if (!argv.contains("--out") && !argv.contains("--resume")) argv.addAll(List.of("--out", dir.resolve("o").toString()));
            CommandLineTest.Result r = CommandLineTest.run(argv.toArray(new String[0]));
            System.out.printf("%s -> exit %d: %s", String.join(" ", argv), r.code(), r.err());
            assertEquals(1, r.code(), r.err());
            assertTrue(r.err().startsWith("bptt4j train: " + c[0]), r.err());
            assertEquals(1, r.err().lines().count(), "one line: " + r.err());
        }
        assertEquals("keep me", Files.readString(mine.resolve("notes.txt")));
        assertFalse(Files.exists(dir.resolve("o")), "nothing written");
    }
}
