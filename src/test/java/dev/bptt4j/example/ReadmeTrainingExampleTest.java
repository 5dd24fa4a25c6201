package dev.bptt4j.example;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.Backends;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.model.RnnMode;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import dev.bptt4j.train.Adam;
import dev.bptt4j.train.GradientClipper;
import dev.bptt4j.train.Parameters;
import dev.bptt4j.train.Reduction;
import dev.bptt4j.train.SoftmaxHead;
import dev.bptt4j.train.TruncatedBptt;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The README's training-loop example, compiled and run so that it never rots. Keep the two in sync. */
class ReadmeTrainingExampleTest {
    /** A toy batch: (T, B, I) inputs and (T, B) targets, the target at t being the input's class at t − 1. */
    static Tensor[] nextBatch(SplittableRandom r) {
        Tensor x = Tensor.zeros(DType.F32, 200, 16, 10), y = Tensor.zeros(DType.I32, 200, 16);
        int[] prev = new int[16];
        for (int t = 0; t < 200; t++) {
            for (int b = 0; b < 16; b++) {
                int c = r.nextInt(10);
                x.f32()[(t * 16 + b) * 10 + c] = 1f;
                y.i32()[t * 16 + b] = t == 0 ? -1 : prev[b];   // −1: no target at this step
                prev[b] = c;
            }
        }
        return new Tensor[]{x, y};
    }

    @Test
    void readmeTrainingExample() {
        SplittableRandom random = new SplittableRandom(1);
        java.util.List<Double> history = new java.util.ArrayList<>();

        // --- README training example begins ---
        try (Backend backend = Backends.create("cpu");
             Rnn rnn = new Rnn(RnnConfig.of(RnnMode.RNN_TANH, 10, 64).withDType(DType.F32), backend);
             SoftmaxHead head = new SoftmaxHead(backend, 64, 10, DType.F32)) {   // logits = V·h + c
            rnn.initialize(42);
            head.initialize(43);
            var params = Parameters.of(rnn, head);
            var tbptt = new TruncatedBptt(rnn, head, 50, Reduction.MEAN);      // chunks of k = 50 steps
            try (Adam adam = Adam.withDefaults(backend, params, 1e-2);
                 GradientClipper clipper = new GradientClipper(backend, params)) {
                for (int step = 0; step < 10; step++) {
                    Tensor[] batch = nextBatch(random);                        // x (T, B, I), targets (T, B)
                    TruncatedBptt.Result r = tbptt.run(batch[0], batch[1], null, (chunk, loss) -> {
                        clipper.clipNorm(1.0);                                 // clip_grad_norm_
                        adam.step();
                        adam.zeroGrad();
                    });
                    history.add(r.loss() * 16 / r.tokens());                   // mean over B, per token
                }
            }
        }
        // --- README training example ends ---
        System.out.println("loss per token by step: " + history);
        assertTrue(history.get(9) < history.get(0) - 0.5, "loss falls: " + history);
    }
}
