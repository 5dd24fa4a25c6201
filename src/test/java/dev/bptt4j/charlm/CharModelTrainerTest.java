package dev.bptt4j.charlm;

import dev.bptt4j.backend.cpu.CpuBackend;
import dev.bptt4j.cell.States;
import dev.bptt4j.demo.CharLanguageModelDemo;
import dev.bptt4j.io.SafeTensors;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.model.RnnMode;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import dev.bptt4j.train.Checkpoints;
import dev.bptt4j.train.SoftmaxHead;
import dev.bptt4j.train.TrainingState;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The trainer behind {@code bptt4j train} and the demo: micro-batches against the whole batch,
 * runs with checkpoints against runs without, a run resumed past a damaged checkpoint against an
 * uninterrupted one, and the checks made before anything runs.
 */
class CharModelTrainerTest {
    private static CpuBackend backend;
    private static CharText text;

    @BeforeAll
    static void open() throws IOException {
        backend = new CpuBackend(1);
        text = CharText.of(CharLanguageModelDemo.bundledText().substring(0, 40_000), "kjv-40k.txt");
    }

    @AfterAll
    static void shut() {
        backend.close();
    }

    /** A small LSTM run: 2 layers of 8, batch 8, k = 6, 12 steps. */
    private static CharModelSettings small(DType dtype, int microBatches, double dropout, String optimizer) {
        return new CharModelSettings(RnnMode.LSTM, 2, 8, 0, dropout, dtype, 8, 6, microBatches, optimizer,
                optimizer.equals(CharModelSettings.SGD) ? 0.9 : 0, optimizer.equals(CharModelSettings.SGD) ? 0.3 : 1e-2, 1.0,
                12, 0, 0, 21, 0.05, 30, null);
    }

    private static States randomStates(SplittableRandom r, int rows, int batch, int width) {
        Tensor h = Tensor.zeros(DType.F64, rows, batch, width), c = Tensor.zeros(DType.F64, rows, batch, width);
        for (int i = 0; i < h.size(); i++) {
            h.setDouble(i, r.nextDouble() - 0.5);
            c.setDouble(i, 2 * r.nextDouble() - 1);
        }
        return States.of("h", h, "c", c);
    }

    /** One step's loss, every gradient (RNN and head) and final states with P micro-batches, from the same weights, cursor and states. */
    private record Accumulated(double loss, Map<String, Tensor> gradients, States finalStates) {
    }

    private static Accumulated accumulate(int microBatches) {
        CharModelSettings s = small(DType.F64, microBatches, 0, CharModelSettings.ADAM);
        CharModelTrainer trainer = new CharModelTrainer(text, s);
        try (Rnn rnn = new Rnn(s.rnnConfig(text.vocabularySize()), backend);
             SoftmaxHead head = new SoftmaxHead(backend, 8, text.vocabularySize(), DType.F64);
             CharModelTrainer.Session session = trainer.new Session(rnn, head)) {
            rnn.initialize(5);
            head.initialize(6);
            session.offset = 7 * s.bptt();
            session.carried = randomStates(new SplittableRandom(8), 2, s.batch(), 8);
            double loss = session.accumulate();
            Map<String, Tensor> g = new LinkedHashMap<>(rnn.gradients());
            g.put("head.weight", head.gradient("weight"));
            g.put("head.bias", head.gradient("bias"));
            return new Accumulated(loss, g, session.next);
        }
    }

    @Test
    void microBatchGradientsAddUpToTheWholeBatchGradient() {
        Accumulated whole = accumulate(1);
        for (int p : new int[]{2, 4, 8}) {
            Accumulated parts = accumulate(p);
            System.out.printf("P = %d: loss %.17g against %.17g for the whole batch%n", p, parts.loss(), whole.loss());
            assertEquals(whole.loss(), parts.loss(), 1e-12 * Math.abs(whole.loss()), "loss");
            for (String name : whole.gradients().keySet()) {
                double err = parts.gradients().get(name).relativeError(whole.gradients().get(name));
                System.out.printf("  %-14s sum of %d micro-batch gradients vs the batch's: relative difference %.2e (tolerance 1e-12)%n", name, p, err);
                assertTrue(err <= 1e-12, name + ": " + err);
            }
            for (String state : new String[]{"h", "c"}) {
                double err = parts.finalStates().get(state).relativeError(whole.finalStates().get(state));
                assertTrue(err <= 1e-12, "final " + state + ": " + err);
            }
        }
    }

    private static CharModelTrainer.Outcome run(CharModelSettings s, Path dir, CharModelTrainer.Checkpointing checkpointing, TrainingState resume)
            throws IOException {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(log, true, StandardCharsets.UTF_8)) {
            return new CharModelTrainer(text, s).run(backend, dir, out, false, checkpointing, resume);
        } finally {
            String printed = log.toString(StandardCharsets.UTF_8);
            System.out.print(printed.lines().filter(l -> !l.startsWith("checkpoint step")).map(l -> "  | " + l + "\n").reduce("", String::concat));
        }
    }

    private static void assertSameOutputs(Path expected, Path actual, String what) throws IOException {
        for (String f : new String[]{"rnn.safetensors", "head.safetensors", "loss.csv", "sample.txt"}) {
            assertArrayEquals(Files.readAllBytes(expected.resolve(f)), Files.readAllBytes(actual.resolve(f)), what + ": " + f);
        }
        System.out.println(what + ": rnn.safetensors, head.safetensors, loss.csv and sample.txt identical");
    }

    @Test
    void aRunWithMicroBatchesRepeatsBitForBit(@TempDir Path dir) throws IOException {
        CharModelSettings s = small(DType.F32, 2, 0, CharModelSettings.ADAM);
        run(s, dir.resolve("a"), CharModelTrainer.Checkpointing.NONE, null);
        run(s, dir.resolve("b"), CharModelTrainer.Checkpointing.NONE, null);
        assertSameOutputs(dir.resolve("a"), dir.resolve("b"), "two runs with 2 micro-batches");
    }

    @Test
    void checkpointsChangeNothingAndAResumedRunSkipsADamagedOne(@TempDir Path dir) throws IOException {
        // Dropout (its masks' stream), SGD's momentum, micro-batches and an LSTM's two carried states.
        CharModelSettings s = small(DType.F32, 2, 0.2, CharModelSettings.SGD);
        Path plain = dir.resolve("plain"), checkpointed = dir.resolve("checkpointed");
        run(s, plain, CharModelTrainer.Checkpointing.NONE, null);
        run(s, checkpointed, new CharModelTrainer.Checkpointing(3, 0), null);
        assertSameOutputs(plain, checkpointed, "12 steps with a checkpoint every 3 against none");

        Path checkpoints = checkpointed.resolve(CharModelTrainer.CHECKPOINT_DIRECTORY);
        assertEquals(List.of(Checkpoints.fileFor(checkpoints, 12), Checkpoints.fileFor(checkpoints, 9)), Checkpoints.list(checkpoints));
        Path newest = Checkpoints.fileFor(checkpoints, 12);
        byte[] bytes = Files.readAllBytes(newest);
        bytes[bytes.length / 2] ^= 0x10;
        Files.write(newest, bytes);
        for (String f : new String[]{"rnn.safetensors", "head.safetensors", "loss.csv"}) Files.delete(checkpointed.resolve(f));

        List<String> skipped = new ArrayList<>();
        Checkpoints.Found found = Checkpoints.newest(checkpoints, skipped::add);
        System.out.println("skipped " + skipped);
        assertEquals(List.of(newest + ": checksum mismatch: the file was altered or damaged"), skipped);
        assertEquals(9, found.state().step());
        assertEquals(s, CharModelTrainer.settingsOf(found.state()));
        assertEquals(new CharModelTrainer.Checkpointing(3, 0), CharModelTrainer.checkpointingOf(found.state()));
        CharModelTrainer.Outcome o = run(s, checkpointed, CharModelTrainer.checkpointingOf(found.state()), found.state());
        assertEquals(12, o.steps());
        assertSameOutputs(plain, checkpointed, "resumed at step 9 past a damaged checkpoint 12");
        assertEquals(12, TrainingState.load(newest).step(), "the damaged checkpoint was replaced");
    }

    @Test
    void lossCsvHasTheTrainingAndValidationLoss(@TempDir Path dir) throws IOException {
        run(small(DType.F32, 1, 0, CharModelSettings.ADAM), dir, CharModelTrainer.Checkpointing.NONE, null);
        List<String> csv = Files.readAllLines(dir.resolve("loss.csv"));
        assertEquals("step,train_loss_per_char,validation_loss_per_char", csv.get(0));
        assertEquals(1 + 13, csv.size(), "step 0 (validation only) and 12 steps");
        assertTrue(csv.get(1).matches("0,,\\d\\.\\d+"), csv.get(1));
        assertTrue(csv.get(2).matches("1,\\d\\.\\d+,"), csv.get(2));
        // Validation every 12/6 = 2 steps, and at the end.
        for (int step = 2; step <= 12; step += 2) assertTrue(csv.get(step + 1).matches(step + ",\\d\\.\\d+,\\d\\.\\d+"), csv.get(step + 1));
        assertEquals(text.vocabulary(), SafeTensors.read(dir.resolve("head.safetensors")).metadata().get("vocabulary"));
    }

    @Test
    void aTextTooShortOrAPromptOutsideItIsRefusedFirst() {
        CharModelSettings s = CharModelSettings.defaults().withSteps(10);
        String m = assertThrows(IllegalArgumentException.class, () -> new CharModelTrainer(CharText.of("x".repeat(1000), "tiny.txt"), s)).getMessage();
        assertEquals("tiny.txt: 1,000 characters are too few: batch 32 and bptt 32 need 1,088 training characters (batch x (bptt + 2)),"
                + " and after holding out a valid-fraction of 0.05 there are 950", m);
        Map<String, String> m1 = new LinkedHashMap<>(s.toMetadata());
        m1.put("valid_fraction", "0.01");
        String shortValidation = assertThrows(IllegalArgumentException.class,
                () -> new CharModelTrainer(CharText.of("x".repeat(2000), "short.txt"), CharModelSettings.fromMetadata(m1))).getMessage();
        assertEquals("short.txt: the validation part (valid-fraction 0.01 of 2,000 characters: 20) is too short for batch 32: it needs"
                + " batch + 2 = 34", shortValidation);
        String prompt = assertThrows(IllegalArgumentException.class, () -> new CharModelTrainer(text, s.withPrompt("Zebra!"))).getMessage();
        assertEquals("prompt: the character '!' (U+0021) does not occur in kjv-40k.txt", prompt);
        assertEquals("In the begin", CharModelTrainer.defaultPrompt(text));
    }

    @Test
    void aTimeBudgetTooShortForAStepStillTrainsOne(@TempDir Path dir) throws IOException {
        CharModelTrainer.Outcome o = run(small(DType.F32, 1, 0, CharModelSettings.ADAM).withSeconds(1e-9), dir, CharModelTrainer.Checkpointing.NONE, null);
        assertEquals(1, o.steps());
        assertEquals(3, Files.readAllLines(dir.resolve("loss.csv")).size(), "header, step 0 and step 1");
        assertEquals("60", CharModelTrainer.seconds(60));
        assertEquals("1.5", CharModelTrainer.seconds(1.5));
        assertEquals("0.001", CharModelTrainer.seconds(0.001));
    }

    @Test
    void anOutputDirectoryWithOtherFilesOrAnEarlierRunsCheckpointsIsRefused(@TempDir Path dir) throws IOException {
        CharModelTrainer.checkOutputDirectory(dir.resolve("new"), false);
        CharModelTrainer.checkOutputDirectory(dir, false);
        Files.writeString(dir.resolve("loss.csv"), "an earlier run's");
        Files.writeString(dir.resolve("long-range.txt"), "the long-range demo's");
        CharModelTrainer.checkOutputDirectory(dir, false);
        Files.writeString(dir.resolve("thesis.tex"), "the user's");
        String m = assertThrows(IOException.class, () -> CharModelTrainer.checkOutputDirectory(dir, false)).getMessage();
        assertEquals(dir + ": holds files a training run does not write (thesis.tex); choose a new or empty directory for --out"
                + " (nothing was changed)", m);
        Files.delete(dir.resolve("thesis.tex"));
        Path checkpoints = Files.createDirectories(dir.resolve("checkpoints"));
        Files.writeString(Checkpoints.fileFor(checkpoints, 40), "x");
        m = assertThrows(IOException.class, () -> CharModelTrainer.checkOutputDirectory(dir, false)).getMessage();
        assertTrue(m.contains("holds the checkpoints of an earlier run (newest checkpoint-000000000040.safetensors); continue it with --resume"), m);
        CharModelTrainer.checkOutputDirectory(dir, true);
    }
}
