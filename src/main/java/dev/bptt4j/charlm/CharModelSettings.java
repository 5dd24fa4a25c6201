package dev.bptt4j.charlm;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.model.RnnMode;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.train.Adam;
import dev.bptt4j.train.Optimizer;
import dev.bptt4j.train.Parameter;
import dev.bptt4j.train.Sgd;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Everything that decides what a character-level language model run computes: the model, the
 * batches, the optimiser, the budget, the seed, the validation split and the sample. The defaults
 * are the demo's. A checkpoint stores these (as {@link #toMetadata()}), and a resumed run takes
 * them back ({@link #fromMetadata}) so that it continues the same computation.
 *
 * @param steps        the budget in steps, or 0 for a budget in {@code seconds}
 * @param minSteps     with a time budget, train at least this many steps (tests set it so that a
 *                     slow machine still trains enough)
 * @param microBatches P: each step's batch runs as P micro-batches of batch/P streams whose
 *                     gradients add up to the step's
 * @param clip         the gradient norm to clip to, or 0 for no clipping
 * @param momentum     SGD's momentum (0 for Adam)
 * @param prompt       the sample's prompt, or null for the text's first characters
 */
public record CharModelSettings(RnnMode mode, int layers, int hidden, int proj, double dropout, DType dtype,
                                int batch, int bptt, int microBatches, String optimizer, double momentum, double lr, double clip,
                                long steps, double seconds, long minSteps, long seed, double validFraction,
                                int sampleLength, String prompt) {
    public static final String ADAM = "adam", SGD = "sgd";

    public CharModelSettings {
        require(mode != null, "mode: required");
        require(layers >= 1, "layers: expected >= 1, got " + layers);
        require(hidden >= 1, "hidden: expected >= 1, got " + hidden);
        require(proj >= 0, "proj: expected >= 0, got " + proj);
        require(proj == 0 || mode == RnnMode.LSTM, "proj: only the LSTM has projections, not " + mode);
        require(proj < hidden, "proj: expected less than hidden (" + hidden + "), got " + proj);
        require(dropout >= 0 && dropout < 1, "dropout: expected 0 <= p < 1, got " + dropout);
        require(dtype != null && dtype.isFloatingPoint(), "dtype: expected F32 or F64, got " + dtype);
        require(batch >= 1, "batch: expected >= 1, got " + batch);
        require(bptt >= 1, "bptt: expected >= 1, got " + bptt);
        require(microBatches >= 1, "micro-batches: expected >= 1, got " + microBatches);
        require(batch % microBatches == 0, "micro-batches: " + microBatches + " does not divide the batch of " + batch);
        require(ADAM.equals(optimizer) || SGD.equals(optimizer), "optimizer: expected adam or sgd, got " + optimizer);
        require(momentum >= 0 && momentum < 1, "momentum: expected 0 <= m < 1, got " + momentum);
        require(momentum == 0 || SGD.equals(optimizer), "momentum: only SGD has a momentum setting");
        require(lr > 0 && Double.isFinite(lr), "lr: expected a positive number, got " + lr);
        require(clip >= 0 && Double.isFinite(clip), "clip: expected >= 0 (0: no clipping), got " + clip);
        require(steps >= 0 && seconds >= 0 && Double.isFinite(seconds), "budget: steps and seconds must be >= 0");
        require((steps > 0) != (seconds > 0), "budget: give steps or seconds, not " + (steps > 0 ? "both" : "neither"));
        require(minSteps >= 0, "minSteps: expected >= 0, got " + minSteps);
        require(validFraction > 0 && validFraction < 1, "valid-fraction: expected a number between 0 and 1, got " + validFraction);
        require(sampleLength >= 0, "sample length: expected >= 0, got " + sampleLength);
    }

    private static void require(boolean ok, String message) {
        if (!ok) throw new IllegalArgumentException(message);
    }

    /** The demo: one tanh layer of 128, float32, 32 streams, k = 32, Adam 1e-2, clip 1, 60 s, seed 1234. */
    public static CharModelSettings defaults() {
        return new CharModelSettings(RnnMode.RNN_TANH, 1, 128, 0, 0.0, DType.F32, 32, 32, 1, ADAM, 0.0, 1e-2, 1.0,
                0, 60, 0, 1234, 0.05, 400, null);
    }

    public CharModelSettings withSeconds(double s) {
        return new CharModelSettings(mode, layers, hidden, proj, dropout, dtype, batch, bptt, microBatches, optimizer, momentum, lr, clip,
                0, s, minSteps, seed, validFraction, sampleLength, prompt);
    }

    public CharModelSettings withSteps(long n) {
        return new CharModelSettings(mode, layers, hidden, proj, dropout, dtype, batch, bptt, microBatches, optimizer, momentum, lr, clip,
                n, 0, minSteps, seed, validFraction, sampleLength, prompt);
    }

    public CharModelSettings withHidden(int h) {
        return new CharModelSettings(mode, layers, h, proj, dropout, dtype, batch, bptt, microBatches, optimizer, momentum, lr, clip,
                steps, seconds, minSteps, seed, validFraction, sampleLength, prompt);
    }

    public CharModelSettings withMinSteps(long n) {
        return new CharModelSettings(mode, layers, hidden, proj, dropout, dtype, batch, bptt, microBatches, optimizer, momentum, lr, clip,
                steps, seconds, n, seed, validFraction, sampleLength, prompt);
    }

    public CharModelSettings withPrompt(String p) {
        return new CharModelSettings(mode, layers, hidden, proj, dropout, dtype, batch, bptt, microBatches, optimizer, momentum, lr, clip,
                steps, seconds, minSteps, seed, validFraction, sampleLength, p);
    }

    /** The recurrent stack for a vocabulary of {@code v} characters. */
    public RnnConfig rnnConfig(int v) {
        return RnnConfig.of(mode, v, hidden).withLayers(layers).withProjection(proj).withDropout(dropout).withDType(dtype);
    }

    /** A new optimiser of this kind over {@code parameters}: Adam with PyTorch's defaults, or SGD with the momentum. */
    Optimizer optimizer(Backend backend, List<Parameter> parameters) {
        return ADAM.equals(optimizer) ? Adam.withDefaults(backend, parameters, lr)
                : new Sgd(backend, parameters, lr, momentum, 0, 0, 0, false);
    }

    /** Every setting as a string, exactly (doubles in Java's shortest round-trip form). */
    public Map<String, String> toMetadata() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("mode", mode.name());
        m.put("layers", Integer.toString(layers));
        m.put("hidden", Integer.toString(hidden));
        m.put("proj", Integer.toString(proj));
        m.put("dropout", Double.toString(dropout));
        m.put("dtype", dtype.safetensorsName());
        m.put("batch", Integer.toString(batch));
        m.put("bptt", Integer.toString(bptt));
        m.put("micro_batches", Integer.toString(microBatches));
        m.put("optimizer", optimizer);
        m.put("momentum", Double.toString(momentum));
        m.put("lr", Double.toString(lr));
        m.put("clip", Double.toString(clip));
        m.put("steps", Long.toString(steps));
        m.put("seconds", Double.toString(seconds));
        m.put("min_steps", Long.toString(minSteps));
        m.put("seed", Long.toString(seed));
        m.put("valid_fraction", Double.toString(validFraction));
        m.put("sample_length", Integer.toString(sampleLength));
        if (prompt != null) m.put("prompt", prompt);
        return m;
    }

    /** The settings {@link #toMetadata()} wrote; a missing or malformed entry is an {@link IllegalArgumentException} naming it. */
    public static CharModelSettings fromMetadata(Map<String, String> m) {
        return new CharModelSettings(RnnMode.parse(get(m, "mode")), (int) number(m, "layers"), (int) number(m, "hidden"),
                (int) number(m, "proj"), real(m, "dropout"), DType.parseFloat(get(m, "dtype")), (int) number(m, "batch"),
                (int) number(m, "bptt"), (int) number(m, "micro_batches"), get(m, "optimizer"), real(m, "momentum"), real(m, "lr"),
                real(m, "clip"), number(m, "steps"), real(m, "seconds"), number(m, "min_steps"), number(m, "seed"),
                real(m, "valid_fraction"), (int) number(m, "sample_length"), m.get("prompt"));
    }

    private static String get(Map<String, String> m, String key) {
        String v = m.get(key);
        if (v == null) throw new IllegalArgumentException("setting '" + key + "' is missing");
        return v;
    }

    private static long number(Map<String, String> m, String key) {
        try {
            return Long.parseLong(get(m, key));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("setting '" + key + "': not an integer: '" + m.get(key) + "'");
        }
    }

    private static double real(Map<String, String> m, String key) {
        try {
            return Double.parseDouble(get(m, key));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("setting '" + key + "': not a number: '" + m.get(key) + "'");
        }
    }

    /** "Adam lr 1e-02" or "SGD lr 1e-01 momentum 0.9". */
    String optimizerLabel() {
        return ADAM.equals(optimizer) ? String.format(Locale.ROOT, "Adam lr %.0e", lr)
                : String.format(Locale.ROOT, "SGD lr %.0e", lr) + (momentum > 0 ? " momentum " + momentum : "");
    }
}
