package dev.bptt4j.train;

import dev.bptt4j.BackendsUnderTest;
import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.cpu.CpuBackend;
import dev.bptt4j.cell.States;
import dev.bptt4j.io.SafeTensors;
import dev.bptt4j.io.SafeTensorsFile;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.model.RnnMode;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link TrainingState}: a loop stopped after some steps, saved, loaded into a fresh model and
 * optimiser and continued, ends bit for bit where the uninterrupted loop ends (2-layer LSTM with
 * dropout and carried states; Adam and SGD with momentum; every backend); damaged files are
 * refused with the file's name; {@link Checkpoints} keeps two and skips damaged ones.
 */
class TrainingStateTest {
    private static final BackendsUnderTest BACKENDS = new BackendsUnderTest();
    private static final int INPUT = 5, HIDDEN = 6, CLASSES = 4, BATCH = 3, CHUNK = 4, STEPS = 8;

    @AfterAll
    static void closeBackends() {
        BACKENDS.close();
    }

    static Stream<String> backends() {
        return BackendsUnderTest.names();
    }

    /** A model, its optimiser and a loop over data drawn from the step number (the loop's data cursor). */
    private static final class Loop implements AutoCloseable {
        final Rnn rnn;
        final SoftmaxHead head;
        final Optimizer optimizer;
        final GradientClipper clipper;
        final TruncatedBptt walk;
        States carried = States.ZEROS;
        long step;

        Loop(Backend backend, boolean adam, long seed) {
            rnn = new Rnn(RnnConfig.of(RnnMode.LSTM, INPUT, HIDDEN).withLayers(2).withDropout(0.3).withDType(DType.F32), backend);
            head = new SoftmaxHead(backend, HIDDEN, CLASSES, DType.F32);
            rnn.initialize(seed);
            head.initialize(seed + 1);
            var params = Parameters.of(rnn, head);
            optimizer = adam ? Adam.withDefaults(backend, params, 1e-2) : new Sgd(backend, params, 0.1, 0.9, 0, 1e-4, 0, true);
            clipper = new GradientClipper(backend, params);
            walk = new TruncatedBptt(rnn, head, CHUNK, Reduction.MEAN);
        }

        void run(long until) {
            while (step < until) {
                SplittableRandom data = new SplittableRandom(1000 + step);
                Tensor x = Tensor.zeros(DType.F32, CHUNK, BATCH, INPUT), y = Tensor.zeros(DType.I32, CHUNK, BATCH);
                for (int i = 0; i < x.size(); i++) x.setDouble(i, data.nextDouble() * 2 - 1);
                for (int i = 0; i < y.size(); i++) y.i32()[i] = data.nextInt(CLASSES);
                optimizer.setLearningRate(optimizer.learningRate() * 0.97);
                optimizer.zeroGrad();
                carried = walk.run(x, y, carried, null).finalStates();
                clipper.clipNorm(0.5);
                optimizer.step();
                step++;
            }
        }

        TrainingState capture() {
            return TrainingState.capture(step, rnn, head, optimizer, carried).withValue("cursor", Long.toString(step));
        }

        void restore(TrainingState s) {
            s.restore(rnn, head, optimizer);
            step = Long.parseLong(s.value("cursor"));
            carried = s.carriedStates();
        }

        Map<String, Tensor> weights() {
            Map<String, Tensor> w = new java.util.LinkedHashMap<>(rnn.stateDict());
            head.stateDict().forEach((k, v) -> w.put("head." + k, v));
            return w;
        }

        @Override
        public void close() {
            optimizer.close();
            clipper.close();
            head.close();
            rnn.close();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void aLoopContinuedFromItsSavedStateEndsAsTheUninterruptedOne(String backendName, @TempDir Path dir) throws Exception {
        Backend backend = BACKENDS.get(backendName);
        for (boolean adam : new boolean[]{true, false}) {
            Map<String, Tensor> expected;
            try (Loop whole = new Loop(backend, adam, 11)) {
                whole.run(STEPS);
                expected = whole.weights();
            }
            Path file = dir.resolve((adam ? "adam" : "sgd") + ".safetensors");
            try (Loop first = new Loop(backend, adam, 11)) {
                first.run(STEPS / 2);
                first.capture().save(file);
            }
            Map<String, Tensor> actual;
            try (Loop second = new Loop(backend, adam, 99)) { // other initial weights and dropout seed: all replaced by the restore
                second.restore(TrainingState.load(file));
                assertEquals(STEPS / 2, second.step);
                assertFalse(second.carried.isEmpty(), "carried states h and c");
                assertEquals(adam ? "Adam" : "Sgd", TrainingState.load(file).metadata().get("optimizer"));
                second.run(STEPS);
                actual = second.weights();
            }
            for (String name : expected.keySet()) {
                assertArrayEquals(expected.get(name).f32(), actual.get(name).f32(),
                        backendName + (adam ? " Adam " : " SGD ") + name + ": continued run differs from the uninterrupted one");
            }
            System.out.printf("%s, %s: %d steps, stopped and continued after %d: %d tensors bit for bit equal%n", backendName,
                    adam ? "Adam" : "SGD momentum", STEPS, STEPS / 2, expected.size());
        }
    }

    @Test
    void theFileIsSafetensorsWithEveryPartNamed(@TempDir Path dir) throws Exception {
        try (CpuBackend backend = new CpuBackend(1); Loop loop = new Loop(backend, true, 3)) {
            loop.run(2);
            TrainingState s = loop.capture().withTensor("history", Tensor.of(new double[]{1.5, 2.5}, 2));
            byte[] bytes = s.toBytes();
            assertArrayEquals(bytes, s.toBytes(), "deterministic");
            SafeTensorsFile f = SafeTensors.read(bytes, "state");
            assertTrue(f.metadata().keySet().iterator().next().equals("checksum_sha256"), "checksum first: " + f.metadata().keySet());
            for (String name : new String[]{"rnn.weight_hh_l1", "head.weight", "optimizer.exp_avg.rnn.weight_ih_l0",
                    "optimizer.exp_avg_sq.head.bias", "states.h", "states.c", "run.history"}) {
                assertTrue(f.contains(name), name + " in " + f.tensors().keySet());
            }
            assertEquals("2", f.metadata().get("step"));
            assertEquals("2", f.metadata().get("optimizer_steps"));
            assertEquals("2", f.metadata().get("dropout_stream"), "one dropping forward per step");
            assertEquals("2", f.metadata().get("run.cursor"));
            TrainingState back = TrainingState.fromBytes(bytes, "state");
            assertEquals(s.metadata(), back.metadata());
            assertArrayEquals(new double[]{1.5, 2.5}, back.tensor("history").f64());
        }
    }

    @Test
    void damagedOrTruncatedFilesAreRefusedNamingTheFile(@TempDir Path dir) throws Exception {
        byte[] bytes;
        try (CpuBackend backend = new CpuBackend(1); Loop loop = new Loop(backend, true, 3)) {
            loop.run(1);
            bytes = loop.capture().toBytes();
        }
        Random random = new Random(1);
        List<Integer> positions = new ArrayList<>();
        for (int i = 0; i < 200; i++) positions.add(i); // the header's start, the checksum, the format
        for (int i = 0; i < 300; i++) positions.add(random.nextInt(bytes.length));
        positions.add(bytes.length - 1);
        for (int at : positions) {
            byte[] damaged = bytes.clone();
            damaged[at] ^= (byte) (1 << random.nextInt(8));
            CheckpointException e = assertThrows(CheckpointException.class, () -> TrainingState.fromBytes(damaged, "ckpt.safetensors"),
                    "a bit flipped at byte " + at);
            assertTrue(e.getMessage().startsWith("ckpt.safetensors: "), e.getMessage());
        }
        for (int length : new int[]{0, 5, 8, 60, 200, bytes.length / 2, bytes.length - 1}) {
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> TrainingState.fromBytes(Arrays.copyOf(bytes, length), "ckpt.safetensors"), "truncated to " + length);
            assertTrue(e.getMessage().startsWith("ckpt.safetensors: "), e.getMessage());
            System.out.printf("truncated to %d bytes: %s%n", length, e.getMessage());
        }
        byte[] flipped = bytes.clone();
        flipped[bytes.length - 3] ^= 1;
        System.out.println("a bit flipped in the data: " + assertThrows(CheckpointException.class, () -> TrainingState.fromBytes(flipped, "ckpt")).getMessage());
        Path missing = dir.resolve("missing.safetensors");
        assertEquals(missing + ": no such file", assertThrows(CheckpointException.class, () -> TrainingState.load(missing)).getMessage());
    }

    @Test
    void restoringIntoAnotherModelOrOptimiserIsRefused() throws Exception {
        try (CpuBackend backend = new CpuBackend(1); Loop adam = new Loop(backend, true, 3); Loop sgd = new Loop(backend, false, 3);
             Rnn gru = new Rnn(RnnConfig.of(RnnMode.GRU, INPUT, HIDDEN).withDType(DType.F32), backend)) {
            adam.run(1);
            TrainingState s = TrainingState.fromBytes(adam.capture().toBytes(), "s");
            assertEquals("training state: holds the state of Adam, not of Sgd",
                    assertThrows(IllegalArgumentException.class, () -> s.restore(sgd.rnn, sgd.head, sgd.optimizer)).getMessage());
            String m = assertThrows(IllegalArgumentException.class, () -> s.restore(gru, adam.head, adam.optimizer)).getMessage();
            assertTrue(m.startsWith("training state: holds RNN parameters"), m);
        }
    }

    @Test
    void checkpointsKeepTwoSkipDamagedOnesAndTouchNothingElse(@TempDir Path dir) throws Exception {
        Path mine = dir.resolve("notes.txt"), lookalike = dir.resolve("checkpoint-7.safetensors");
        Files.writeString(mine, "mine");
        Files.writeString(lookalike, "also mine");
        Files.writeString(dir.resolve("checkpoint-000000000009.safetensors.tmp"), "left by a killed write");
        try (CpuBackend backend = new CpuBackend(1); Loop loop = new Loop(backend, true, 3)) {
            for (int s = 1; s <= 5; s++) {
                loop.run(s);
                Path written = Checkpoints.write(dir, loop.capture());
                assertEquals(Checkpoints.fileFor(dir, s), written);
            }
        }
        List<String> names = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            files.forEach(p -> names.add(p.getFileName().toString()));
        }
        names.sort(null);
        assertEquals(List.of("checkpoint-000000000004.safetensors", "checkpoint-000000000005.safetensors", "checkpoint-7.safetensors",
                "notes.txt"), names, "the last two, and the files that are not checkpoints");
        assertEquals("mine", Files.readString(mine));

        Path newest = Checkpoints.fileFor(dir, 5);
        byte[] b = Files.readAllBytes(newest);
        Files.write(newest, Arrays.copyOf(b, b.length - 100));
        List<String> skipped = new ArrayList<>();
        Checkpoints.Found found = Checkpoints.newest(dir, skipped::add);
        assertNotNull(found);
        assertEquals(Checkpoints.fileFor(dir, 4), found.file());
        assertEquals(4, found.state().step());
        assertEquals(1, skipped.size());
        System.out.println("skipped: " + skipped.get(0));
        assertTrue(skipped.get(0).startsWith(newest + ": truncated"), skipped.get(0));
    }
}
