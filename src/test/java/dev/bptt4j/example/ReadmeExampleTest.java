package dev.bptt4j.example;

import dev.bptt4j.backend.Packing;
import dev.bptt4j.cell.States;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.Backends;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.model.RnnMode;
import dev.bptt4j.model.SequenceBatch;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import dev.bptt4j.train.Reduction;
import dev.bptt4j.train.SoftmaxHead;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The README's API example, compiled and run so that it never rots. Keep the two in sync. */
class ReadmeExampleTest {
    @Test
    void readmeExample(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path weights = dir.resolve("rnn.safetensors");
        Tensor x = Tensor.zeros(DType.F32, 20, 8, 16);   // (T, B, I), time-major
        Tensor dy = Tensor.zeros(DType.F32, 20, 8, 64);  // dL/dy from your loss: (T, B, D·H)
        int[] lengths = {20, 17, 20, 3, 9, 20, 1, 12};   // optional: one per sequence
        java.util.Arrays.fill(dy.f32(), 0.01f);

        // --- README example begins ---
        RnnConfig config = RnnConfig.of(RnnMode.LSTM, 16, 32)
                .withLayers(2).withBidirectional(true).withDType(DType.F32);
        try (Backend backend = Backends.create("cpu");        // or "auto": CUDA when usable
             Rnn rnn = new Rnn(config, backend)) {
            rnn.initialize(42);                               // or rnn.load(path) for PyTorch weights
            try (Rnn.Pass pass = rnn.forward(x, States.ZEROS, lengths)) {   // h0 = c0 = zeros
                Tensor y = pass.output();                     // (20, 8, 64), zero past each length
                States last = pass.finalStates();             // hn and cn: (4, 8, 32) each
                Rnn.InputGradients g = pass.backward(dy, States.ZEROS);     // dhn = dcn = zeros
                Tensor dx = g.input();                        // (20, 8, 16)
                Tensor dc0 = g.initialStates().cell();        // (4, 8, 32)
            }
            Tensor dWhh = rnn.gradient("weight_hh_l0");       // accumulated until rnn.zeroGrad()
            rnn.save(weights);                                // safetensors, PyTorch names
        }
        // --- README example ends ---

        try (Backend backend = Backends.create("cpu"); Rnn again = new Rnn(config, backend)) {
            again.load(weights);
            Tensor w = again.parameter("weight_hh_l1_reverse");
            assertEquals(4 * 32, w.dim(0));
            assertTrue(w.norm() > 0, "loaded weights are the saved, initialised ones");
        }
    }

    /** The README's inference example: a stream fed a step at a time gives infer's bits, and its final states. */
    @Test
    void readmeInferenceExample() {
        Tensor x = Tensor.zeros(DType.F32, 1000, 8, 16);
        java.util.SplittableRandom r = new java.util.SplittableRandom(4);
        for (int i = 0; i < x.size(); i++) x.f32()[i] = (float) (r.nextDouble() * 2 - 1);
        List<Tensor> streamed = new ArrayList<>();
        Rnn.Inference[] whole = new Rnn.Inference[1];
        States[] after = new States[1];
        // --- README inference example begins ---
        try (Backend backend = Backends.create("cpu");
             Rnn rnn = new Rnn(RnnConfig.of(RnnMode.LSTM, 16, 32).withLayers(2).withDType(DType.F32), backend)) {
            rnn.initialize(42);
            Rnn.Inference out = rnn.infer(x, States.ZEROS, null);   // y (1000, 8, 32), hn and cn; nothing kept
            try (Rnn.Stream stream = rnn.stream(8, States.ZEROS)) {  // 8 sequences, h0 = c0 = zeros
                for (int t = 0; t < 1000; t++) {
                    Tensor yt = stream.step(x.slice(t, t + 1).reshape(8, 16));  // x_t (8, 16) in, y_t (8, 32) out
                    streamed.add(yt);                                           // = out.output()'s step t, bit for bit
                }
                States now = stream.states();                        // hn, cn after the steps fed
                after[0] = now;
            }
            whole[0] = out;
        }
        // --- README inference example ends ---
        assertEquals(1000, streamed.size());
        for (int t = 0; t < 1000; t++) {
            assertTrue(java.util.Arrays.equals(whole[0].output().slice(t, t + 1).reshape(8, 32).f32(), streamed.get(t).f32()), "step " + t);
        }
        assertTrue(java.util.Arrays.equals(whole[0].finalStates().get("c").f32(), after[0].get("c").f32()), "cn");
        assertTrue(whole[0].output().norm() > 0);
    }

    /** The README's resident-tensor example; its loss is L = Σ y·y / 2 (dy = y), checked against the host API. */
    @Test
    void readmeResidentExample() {
        Tensor x = Tensor.zeros(DType.F32, 20, 8, 16);
        java.util.SplittableRandom r = new java.util.SplittableRandom(3);
        for (int i = 0; i < x.size(); i++) x.f32()[i] = (float) (r.nextDouble() * 2 - 1);
        RnnConfig config = RnnConfig.of(RnnMode.RNN_TANH, 16, 32).withDType(DType.F32);
        try (Backend backend = Backends.create("cpu"); Rnn rnn = new Rnn(config, backend); Rnn host = new Rnn(config, backend)) {
            rnn.initialize(42);
            host.initialize(42);
            Tensor[] dx = new Tensor[1];
            // --- README resident example begins ---
            try (DeviceBuffer xs = backend.allocate(DType.F32, 20L * 8 * 16);  // (T, B, I), filled once
                 DeviceBuffer dys = backend.allocate(DType.F32, 20L * 8 * 32); // dL/dy, written by your loss
                 DeviceBuffer dxs = backend.allocate(DType.F32, 20L * 8 * 16)) {
                backend.upload(x, DeviceSlice.of(xs));
                try (Rnn.Pass pass = rnn.forwardOnDevice(DeviceSlice.of(xs), 20, 8, States.ZEROS, null)) {
                    DeviceSlice y = pass.outputOnDevice();                   // read-only, until the next forward
                    lossOnDevice(backend, y, dys);                           // yours: reads y, writes dy
                    pass.backwardOnDevice(DeviceSlice.of(dys), States.ZEROS, DeviceSlice.of(dxs));
                }
                // --- README resident example ends ---
                dx[0] = backend.download(DeviceSlice.of(dxs), 20, 8, 16);
            }
            try (Rnn.Pass pass = host.forward(x, States.ZEROS, null)) {
                Tensor expected = pass.backward(pass.output(), States.ZEROS).input();
                assertTrue(dx[0].relativeError(expected) < 1e-6, "resident dL/dx against the host API: " + dx[0].relativeError(expected));
            }
            for (String n : rnn.parameterNames()) {
                double err = rnn.gradient(n).relativeError(host.gradient(n));
                assertTrue(err < 1e-6, n + ": " + err);
            }
        }
    }

    /**
     * The README's variable-length example: sentences of different lengths padded into one batch,
     * tagged through a bidirectional GRU and a softmax head. Its loss is checked against each
     * sentence run alone (padding contributes nothing), and its outputs against their shapes.
     */
    @Test
    void readmeSequencesExample() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(8);
        List<Tensor> sentences = new ArrayList<>();   // each (T_b, 16)
        List<int[]> tagLists = new ArrayList<>();     // each T_b tags in 0..4
        for (int length : new int[]{7, 3, 12, 1}) {
            Tensor s = Tensor.zeros(DType.F32, length, 16);
            for (int i = 0; i < s.size(); i++) s.f32()[i] = (float) (r.nextDouble() * 2 - 1);
            sentences.add(s);
            tagLists.add(r.ints(length, 0, 5).toArray());
        }
        try (Backend backend = Backends.create("cpu");
             Rnn rnn = new Rnn(RnnConfig.of(RnnMode.GRU, 16, 32).withBidirectional(true).withDType(DType.F32), backend);
             SoftmaxHead head = new SoftmaxHead(backend, 64, 5, DType.F32)) {
            rnn.initialize(42);
            head.initialize(43);
            // --- README sequences example begins ---
            SequenceBatch batch = SequenceBatch.of(sentences);       // x (T, B, 16), T = the longest, zeros past each length
            SequenceBatch tags = SequenceBatch.ofTargets(tagLists);  // (T, B) I32, -1 past each length: masked by the head
            List<Tensor> ys;                                         // one (T_b, 64) per sentence
            double loss;
            try (Rnn.Pass pass = rnn.forwardOnDevice(batch.padded(), States.ZEROS, batch.lengths())) {
                ys = batch.split(pass.output());
                loss = head.forward(pass.outputOnDevice(), batch.steps() * batch.batchSize(), tags.padded(), batch.batchSize(),
                        Reduction.MEAN);
                pass.backwardOnDevice(head.backward(), States.ZEROS, false);
            }
            // --- README sequences example ends ---
            List<Tensor> outputs = ys;
            double batchLoss = loss;
            double sum = 0;
            for (int b = 0; b < sentences.size(); b++) {
                Tensor s = sentences.get(b);
                int len = s.dim(0);
                assertEquals(List.of(len, 64), List.of(outputs.get(b).dim(0), outputs.get(b).dim(1)));
                try (Rnn.Pass alone = rnn.forwardOnDevice(s.reshape(len, 1, 16), States.ZEROS, null)) {
                    sum += head.forward(alone.outputOnDevice(), len, Tensor.ofInts(tagLists.get(b), len, 1), 1, Reduction.SUM);
                    assertTrue(outputs.get(b).relativeError(alone.output().reshape(len, 64)) < 1e-6, "sentence " + b + "'s outputs");
                }
            }
            assertEquals(sum / sentences.size(), batchLoss, 1e-5 * sum, "the batch's mean loss is the sentences' losses over B");
        }
    }

    /** The example's loss on the device: dy = y (L = Σ y² / 2), a device-to-device copy through the backend's gather. */
    private static void lossOnDevice(Backend backend, DeviceSlice y, DeviceBuffer dy) {
        int rows = 20 * 8, width = 32;
        int[] identity = new int[rows];
        for (int i = 0; i < rows; i++) identity[i] = i;
        try (DeviceBuffer index = backend.allocate(DType.I32, rows)) {
            backend.upload(Tensor.ofInts(identity, rows), DeviceSlice.of(index));
            Packing.gatherRows(backend, DeviceSlice.of(dy), width, 0, new DeviceSlice(y.buffer(), y.offset()), width, 0, DeviceSlice.of(index), rows, width, false);
        }
    }
}
