package dev.bptt4j.example;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.Backends;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.model.RnnMode;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

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
        RnnConfig config = RnnConfig.of(RnnMode.RNN_TANH, 16, 32)
                .withLayers(2).withBidirectional(true).withDType(DType.F32);
        try (Backend backend = Backends.create("cpu");        // or "auto": CUDA when usable
             Rnn rnn = new Rnn(config, backend)) {
            rnn.initialize(42);                               // or rnn.load(path) for PyTorch weights
            try (Rnn.Pass pass = rnn.forward(x, null, lengths)) {  // h0 = zeros
                Tensor y = pass.output();                     // (20, 8, 64), zero past each length
                Tensor hn = pass.finalHidden();               // (4, 8, 32)
                Rnn.InputGradients g = pass.backward(dy, null);     // dhn = zeros
                Tensor dx = g.input();                        // (20, 8, 16)
            }
            Tensor dWhh = rnn.gradient("weight_hh_l0");       // accumulated until rnn.zeroGrad()
            rnn.save(weights);                                // safetensors, PyTorch names
        }
        // --- README example ends ---

        try (Backend backend = Backends.create("cpu"); Rnn again = new Rnn(config, backend)) {
            again.load(weights);
            Tensor w = again.parameter("weight_hh_l1_reverse");
            assertEquals(32, w.dim(0));
            assertTrue(w.norm() > 0, "loaded weights are the saved, initialised ones");
        }
    }
}
