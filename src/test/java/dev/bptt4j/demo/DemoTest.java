package dev.bptt4j.demo;

import dev.bptt4j.backend.cpu.CpuBackend;
import dev.bptt4j.charlm.CharModelSettings;
import dev.bptt4j.charlm.CharModelTrainer;
import dev.bptt4j.io.SafeTensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The demos with a tiny budget: the text model's loss falls, and every promised file is written. */
class DemoTest {
    @Test
    void languageModelLossFalls(@TempDir Path dir) throws Exception {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        CharModelTrainer.Outcome o;
        try (CpuBackend backend = new CpuBackend(1); PrintStream out = new PrintStream(log, true, StandardCharsets.UTF_8)) {
            CharModelSettings s = CharLanguageModelDemo.settings().withSeconds(4).withHidden(48).withMinSteps(150);
            o = CharLanguageModelDemo.trainer(s).run(backend, dir, out, false, CharModelTrainer.Checkpointing.NONE, null);
        }
        System.out.print(log.toString(StandardCharsets.UTF_8));
        System.out.printf("validation loss %.3f -> %.3f after %d steps (must fall by >= 0.5 nats/char)%n", o.initialLoss(), o.finalLoss(), o.steps());
        assertTrue(o.finalLoss() < o.initialLoss() - 0.5, "loss falls: " + o.initialLoss() + " -> " + o.finalLoss());
        for (String f : new String[]{"loss.png", "loss.csv", "gradient-flow.png", "gradient-flow.csv", "rnn.safetensors", "head.safetensors", "sample.txt"}) {
            assertTrue(Files.size(dir.resolve(f)) > 0, f);
        }
        java.util.List<String> csv = Files.readAllLines(dir.resolve("gradient-flow.csv"));
        assertEquals("layer,direction,t,k,lag,norm", csv.get(0));
        assertEquals(1 + 24 * 25 / 2, csv.size(), "one layer, one direction, 24 steps: k <= t");
        assertTrue(SafeTensors.read(dir.resolve("rnn.safetensors")).tensors().containsKey("weight_hh_l0"), "PyTorch names");
        assertTrue(o.sample().startsWith("And God said") && o.sample().length() > 100, "sample");
        assertTrue(log.toString(StandardCharsets.UTF_8).contains("% train step"), "plain-text progress");
    }

    @Test
    void longRangeWritesTableAndPlots(@TempDir Path dir) throws Exception {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        LongRangeDemo.Outcome o;
        try (CpuBackend backend = new CpuBackend(1); PrintStream out = new PrintStream(log, true, StandardCharsets.UTF_8)) {
            o = new LongRangeDemo(16).run(backend, 2, new int[]{3, 6}, dir, out);
        }
        System.out.print(log.toString(StandardCharsets.UTF_8));
        assertTrue(o.contenders().size() >= 2, "tanh and residual at least");
        assertEquals(2, o.accuracy()[0].length);
        for (String f : new String[]{"long-range.png", "long-range.txt", "long-range-gradient-flow.png"}) assertTrue(Files.size(dir.resolve(f)) > 0, f);
    }

    /**
     * A budget too short for one step crashed in the plotting library ("Y-Axis data cannot be
     * empty") with only loss.csv written: now both demos write every file, the text model's loss
     * curve with at least one step.
     */
    @Test
    void aBudgetTooShortForAnyStepStillWritesEveryFile(@TempDir Path dir) throws Exception {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        CharModelTrainer.Outcome o;
        Path text = dir.resolve("text"), longRange = dir.resolve("long-range");
        try (CpuBackend backend = new CpuBackend(1); PrintStream out = new PrintStream(log, true, StandardCharsets.UTF_8)) {
            o = CharLanguageModelDemo.trainer(CharLanguageModelDemo.settings().withSeconds(0.001).withHidden(8))
                    .run(backend, text, out, false, CharModelTrainer.Checkpointing.NONE, null);
            new LongRangeDemo(4).run(backend, 0.001, new int[]{3, 6}, longRange, out);
        }
        System.out.print(log.toString(StandardCharsets.UTF_8));
        assertTrue(o.steps() >= 1, "steps: " + o.steps());
        assertTrue(log.toString(StandardCharsets.UTF_8).contains("0.001 s budget"), "the budget as given, not '0 s'");
        for (String f : new String[]{"loss.png", "gradient-flow.png"}) assertTrue(ImageIO.read(text.resolve(f).toFile()).getWidth() > 0, f);
        for (String f : new String[]{"gradient-flow.csv", "rnn.safetensors", "head.safetensors", "sample.txt"}) assertTrue(Files.size(text.resolve(f)) > 0, f);
        java.util.List<String> loss = Files.readAllLines(text.resolve("loss.csv"));
        assertTrue(loss.get(0).startsWith("step,train_loss_per_char"), loss.get(0));
        assertTrue(loss.size() >= 1 + o.steps(), "a row per step: " + loss);
        for (String f : new String[]{"long-range.png", "long-range-gradient-flow.png"}) {
            assertTrue(ImageIO.read(longRange.resolve(f).toFile()).getWidth() > 0, f);
        }
        assertTrue(Files.readString(longRange.resolve("long-range.txt")).startsWith("lag"), "the table");
        assertTrue(log.toString(StandardCharsets.UTF_8).contains("0.00013 s per cell and lag"), "the long-range share as it is");
    }

    /** The accuracy figure's title gives the training time per cell and lag as it is: 1.5 s, not "2 s". */
    @Test
    void accuracyTitleKeepsTheTime() {
        assertEquals("remember the first symbol: accuracy after 1.5 s of training per cell and lag", LongRangeDemo.accuracyTitle(1.5));
        assertEquals("0.25", LongRangeDemo.seconds(0.25));
        assertEquals("0.1", LongRangeDemo.seconds(2.0 / 20));
        assertEquals("12", LongRangeDemo.seconds(12));
        assertEquals("0.33", LongRangeDemo.seconds(1.0 / 3));
        assertEquals("0.00005", LongRangeDemo.seconds(0.001 / 20));
        assertEquals("0.0012", LongRangeDemo.seconds(0.00123));
    }
}
