package dev.bptt4j.bench;

import dev.bptt4j.backend.cpu.CpuBackend;
import dev.bptt4j.cell.States;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.model.RnnMode;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Checks that the oneDNN peer computes what bptt4j computes (and so what PyTorch computes: bptt4j's
 * cases hold it to PyTorch's tensors within 1e-5 in float32) before its time means anything: the same
 * parameters, x and dy into both, one training step each from zero states, then y, dL/dx, dL/dh0
 * (and dL/dc0), and the four parameter gradients compared in PyTorch's layout and gate order. This
 * is where a wrong weight layout, gate order or GRU form would show.
 *
 * <p>Shapes: a small odd one (no dimension a multiple of a vector), and each benchmark
 * configuration's B, I, H with a short T, because oneDNN picks its kernels by shape and the kernels
 * checked must be the ones timed; every line names the kernels. float32 is held to a relative error
 * (‖a − b‖ / ‖b‖) of 1e-5; bf16, whose 8-bit mantissa rounds x, h and the weights, to 3e-2, which a
 * wrong layout or gate would exceed by far (it gives errors of order 1).
 *
 * <pre>java -cp ... dev.bptt4j.bench.OneDnnAgreement [--small]</pre>
 * Exits 1 if any tensor is outside its tolerance.
 */
public final class OneDnnAgreement {
    static final double F32_TOLERANCE = 1e-5, BF16_TOLERANCE = 3e-2;

    private OneDnnAgreement() {
    }

    public static void main(String[] args) {
        boolean small = args.length > 0 && args[0].equals("--small");
        List<String> shapes = new ArrayList<>(List.of("9x5x7x11"));
        if (!small) shapes.addAll(List.of("3x64x256x256", "3x256x512x512", "3x32x128x128", "2x1024x1024x1024"));
        boolean ok = true;
        for (String mode : new String[]{"RNN_TANH", "LSTM", "GRU"}) {
            for (String shape : shapes) {
                for (boolean bf16 : new boolean[]{false, true}) {
                    ok &= check(mode, Shapes.parse(shape), bf16);
                }
            }
        }
        System.out.println(ok ? "oneDNN agrees with bptt4j on every tensor" : "oneDNN DISAGREES with bptt4j (above)");
        if (!ok) System.exit(1);
    }

    static boolean check(String mode, Shapes s, boolean bf16) {
        SplittableRandom r = new SplittableRandom(7);
        float[] x = Shapes.random(r, s.steps * s.batch * s.input);
        float[] dy = Shapes.random(r, s.steps * s.batch * s.hidden);
        try (CpuBackend backend = new CpuBackend(2);
             Rnn rnn = new Rnn(RnnConfig.of(RnnMode.parse(mode), s.input, s.hidden).withDType(DType.F32), backend)) {
            rnn.initialize(42);
            rnn.zeroGrad();
            Tensor y, dx, dh0, dc0 = null;
            try (Rnn.Pass pass = rnn.forward(Tensor.of(x, s.steps, s.batch, s.input), States.ZEROS, null)) {
                y = pass.output();
                Rnn.InputGradients g = pass.backward(Tensor.of(dy, s.steps, s.batch, s.hidden), States.ZEROS, true);
                dx = g.input();
                dh0 = g.initialHidden();
                if (mode.equals("LSTM")) dc0 = g.initialStates().cell();
            }
            OneDnnRnn peer;
            try {
                peer = new OneDnnRnn(mode, s, bf16);
            } catch (RuntimeException e) {
                // bf16 needs a CPU oneDNN has bf16 RNN kernels for; say so rather than fail the float32 check
                System.out.printf("%-8s %-18s %s  not available here: %s%n", mode, shapeName(s), bf16 ? "bf16" : "f32 ", e.getMessage());
                return bf16;
            }
            try (peer) {
                peer.setParameters(rnn.parameter("weight_ih_l0").f32(), rnn.parameter("weight_hh_l0").f32(),
                        rnn.parameter("bias_ih_l0").f32(), rnn.parameter("bias_hh_l0").f32());
                peer.zeroGrad();
                peer.upload(x, dy);
                peer.trainingStep();
                double tolerance = bf16 ? BF16_TOLERANCE : F32_TOLERANCE;
                StringBuilder line = new StringBuilder();
                boolean ok = true;
                ok &= compare(line, "y", peer.output(), y, tolerance);
                ok &= compare(line, "dx", peer.inputGradient(), dx, tolerance);
                ok &= compare(line, "dh0", peer.initialHiddenGradient(), dh0, tolerance);
                if (dc0 != null) ok &= compare(line, "dc0", peer.initialCellGradient(), dc0, tolerance);
                ok &= compare(line, "dW_ih", peer.weightIhGradient(), rnn.gradient("weight_ih_l0"), tolerance);
                ok &= compare(line, "dW_hh", peer.weightHhGradient(), rnn.gradient("weight_hh_l0"), tolerance);
                ok &= compare(line, "db_ih", peer.biasIhGradient(), rnn.gradient("bias_ih_l0"), tolerance);
                ok &= compare(line, "db_hh", peer.biasHhGradient(), rnn.gradient("bias_hh_l0"), tolerance);
                System.out.printf("%-8s %-18s %s  %s  tolerance %.0e: %s  [%s]%n", mode, shapeName(s), bf16 ? "bf16" : "f32 ",
                        line, tolerance, ok ? "ok" : "FAILED", peer.implementation());
                return ok;
            }
        }
    }

    private static String shapeName(Shapes s) {
        return s.steps + "x" + s.batch + "x" + s.input + "x" + s.hidden;
    }

    /** Appends "name rel=… max|Δ|=…" and says whether the relative error is within the tolerance. */
    private static boolean compare(StringBuilder line, String name, float[] actual, Tensor expected, double tolerance) {
        float[] e = expected.f32();
        if (actual.length != e.length) throw new IllegalStateException(name + ": " + actual.length + " values, expected " + e.length);
        double diff = 0, ref = 0, max = 0;
        for (int i = 0; i < e.length; i++) {
            double d = actual[i] - e[i];
            diff += d * d;
            ref += (double) e[i] * e[i];
            max = Math.max(max, Math.abs(d));
        }
        double rel = ref == 0 ? Math.sqrt(diff) : Math.sqrt(diff / ref);
        line.append(String.format("%s %.1e (max %.1e)  ", name, rel, max));
        return rel <= tolerance;
    }
}
