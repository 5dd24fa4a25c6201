package dev.bptt4j.train;

import dev.bptt4j.cell.States;
import dev.bptt4j.io.SafeTensors;
import dev.bptt4j.io.SafeTensorsException;
import dev.bptt4j.io.SafeTensorsFile;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.tensor.Tensor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Everything a training loop needs to continue where it stopped, as one value and one file: the
 * RNN's and the head's weights, the optimiser's state and step count ({@link Optimizer#state()}),
 * the dropout masks' seed and stream ({@link Rnn#dropoutStream()}), the states truncated BPTT
 * carries into the next step, the step counter, and whatever else the loop keeps (its data
 * cursor, its RNG states, its configuration, a loss history) as named strings and tensors of its
 * own. Gradients are not part of it: a state is taken between steps, and a step starts with zeroGrad.
 *
 * <pre>{@code
 * TrainingState.capture(step, rnn, head, adam, carried).withValue("cursor", "1234").save(file);
 * ...
 * TrainingState s = TrainingState.load(file);      // CheckpointException when truncated or corrupt
 * s.restore(rnn, head, adam);                       // same shapes and optimiser kind as when captured
 * long step = s.step(); States carried = s.carriedStates(); long cursor = Long.parseLong(s.value("cursor"));
 * }</pre>
 *
 * <p><b>The file</b> is a safetensors file (so Python's {@code safetensors} reads it): tensors
 * {@code rnn.<PyTorch name>}, {@code head.weight}, {@code head.bias}, {@code optimizer.<kind>.<parameter>}
 * (e.g. {@code optimizer.exp_avg.rnn.weight_hh_l0}), {@code states.<name>} (absent: zeros) and the
 * caller's {@code run.<name>}; {@code __metadata__} holds the format and its version, the step, the
 * optimiser's kind, step count and learning rate, the dropout seed and stream, the caller's
 * {@code run.<key>} strings, and first of all {@code checksum_sha256}: the SHA-256 of every byte of
 * the file with those 64 hex digits read as '0'. A truncated or altered file fails that check (or
 * the safetensors reader's) and {@link #load} says so, naming the file.
 *
 * <p><b>Saving is atomic</b>: the bytes go to {@code <file>.tmp} in the same directory, are forced to
 * the disk ({@code fsync}), and the temporary file is renamed over {@code file} in one atomic step,
 * after which the directory itself is forced. A crash at any moment leaves either the old file or
 * the new one, whole, plus at worst a stray {@code .tmp}.
 */
public final class TrainingState {
    /** The {@code format} metadata value of every training state file. */
    public static final String FORMAT = "bptt4j-training-state";
    /** The format this version writes and reads. */
    public static final int VERSION = 1;
    static final String CHECKSUM_KEY = "checksum_sha256";
    /** How every training state file begins after the 8-byte header length: the checksum is the first metadata entry. */
    private static final byte[] HEADER_START = ("{\"__metadata__\":{\"" + CHECKSUM_KEY + "\":\"").getBytes(StandardCharsets.US_ASCII);
    private static final int CHECKSUM_AT = 8 + HEADER_START.length, CHECKSUM_DIGITS = 64;
    /**
     * Test hook: milliseconds to pause halfway through writing the temporary file, so that a test
     * can kill the process in the middle of a save. Never set outside tests.
     */
    static final String PAUSE_PROPERTY = "bptt4j.test.checkpointPauseMillis";

    private final long step;
    private final Map<String, Tensor> tensors;
    private final Map<String, String> metadata;

    private TrainingState(long step, Map<String, Tensor> tensors, Map<String, String> metadata) {
        this.step = step;
        this.tensors = Collections.unmodifiableMap(tensors);
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    /**
     * The state of a loop after {@code step} steps: host copies of the weights and the optimiser's
     * buffers, the RNN's dropout seed and stream, and the states carried into the next step (null or
     * {@link States#ZEROS} when it starts from zeros).
     *
     * @param head null for a loop without a {@link SoftmaxHead}
     */
    public static TrainingState capture(long step, Rnn rnn, SoftmaxHead head, Optimizer optimizer, States carried) {
        if (step < 0) throw new IllegalArgumentException("step: expected >= 0, got " + step);
        Map<String, Tensor> t = new LinkedHashMap<>();
        rnn.stateDict().forEach((name, value) -> t.put("rnn." + name, value));
        if (head != null) head.stateDict().forEach((name, value) -> t.put("head." + name, value));
        optimizer.state().forEach((name, value) -> t.put("optimizer." + name, value));
        States.orZeros(carried).asMap().forEach((name, value) -> t.put("states." + name, value));
        Map<String, String> m = new LinkedHashMap<>();
        m.put("format", FORMAT);
        m.put("format_version", Integer.toString(VERSION));
        m.put("step", Long.toString(step));
        m.put("optimizer", optimizer.getClass().getSimpleName());
        m.put("optimizer_steps", Long.toString(optimizer.steps()));
        m.put("learning_rate", Double.toString(optimizer.learningRate()));
        m.put("dropout_seed", Long.toString(rnn.dropoutSeed()));
        m.put("dropout_stream", Long.toString(rnn.dropoutStream()));
        return new TrainingState(step, t, m);
    }

    /** This state with a string of the caller's (stored as metadata {@code run.<key>}). */
    public TrainingState withValue(String key, String value) {
        if (key == null || value == null) throw new IllegalArgumentException("value " + key + ": key and value are required");
        Map<String, String> m = new LinkedHashMap<>(metadata);
        m.put("run." + key, value);
        return new TrainingState(step, tensors, m);
    }

    /** This state with a tensor of the caller's, F32, F64 or I64 (stored as {@code run.<name>}). */
    public TrainingState withTensor(String name, Tensor value) {
        if (name == null || value == null) throw new IllegalArgumentException("tensor " + name + ": name and value are required");
        Map<String, Tensor> t = new LinkedHashMap<>(tensors);
        t.put("run." + name, value);
        return new TrainingState(step, t, metadata);
    }

    /** Steps taken when the state was captured. */
    public long step() {
        return step;
    }

    /** The states carried into the next step ({@link States#ZEROS} when it starts from zeros). */
    public States carriedStates() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        tensors.forEach((name, value) -> {
            if (name.startsWith("states.")) m.put(name.substring("states.".length()), value);
        });
        return m.isEmpty() ? States.ZEROS : States.of(m);
    }

    /** The caller's string {@code key}, or null when absent. */
    public String value(String key) {
        return metadata.get("run." + key);
    }

    /** The caller's tensor {@code name}, or null when absent. */
    public Tensor tensor(String name) {
        return tensors.get("run." + name);
    }

    /** Every tensor under its name in the file. */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    /** Every metadata entry but the checksum. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * Puts the captured weights, optimiser state and step count, learning rate, and dropout seed
     * and stream back into a model and optimiser built as the captured ones were (the same
     * parameters and shapes, the same optimiser class); anything else is an
     * {@link IllegalArgumentException} naming the difference. Gradients are left as they are.
     *
     * @param head null when captured without one
     */
    public void restore(Rnn rnn, SoftmaxHead head, Optimizer optimizer) {
        String kind = metadata.get("optimizer");
        if (!optimizer.getClass().getSimpleName().equals(kind)) {
            throw new IllegalArgumentException("training state: holds the state of " + kind + ", not of " + optimizer.getClass().getSimpleName());
        }
        Map<String, Tensor> weights = new LinkedHashMap<>(), headWeights = new LinkedHashMap<>(), optimizerState = new LinkedHashMap<>();
        tensors.forEach((name, value) -> {
            if (name.startsWith("rnn.")) weights.put(name.substring(4), value);
            else if (name.startsWith("head.")) headWeights.put(name.substring(5), value);
            else if (name.startsWith("optimizer.")) optimizerState.put(name.substring(10), value);
        });
        if (!weights.keySet().equals(Set.copyOf(rnn.parameterNames()))) {
            throw new IllegalArgumentException("training state: holds RNN parameters " + weights.keySet() + ", the model has " + rnn.parameterNames());
        }
        if ((head == null) != headWeights.isEmpty()) {
            throw new IllegalArgumentException("training state: " + (head == null ? "holds a head, but none was given" : "holds no head"));
        }
        rnn.loadStateDict(weights, true);
        if (head != null) {
            for (String name : new String[]{"weight", "bias"}) {
                Tensor t = headWeights.get(name);
                if (t == null) throw new IllegalArgumentException("training state: no head." + name);
                head.setParameter(name, t);
            }
        }
        optimizer.loadState(optimizerState, longValue("optimizer_steps"));
        optimizer.setLearningRate(Double.parseDouble(metadata.get("learning_rate")));
        rnn.setDropoutSeed(longValue("dropout_seed"));
        rnn.setDropoutStream(longValue("dropout_stream"));
    }

    private long longValue(String key) {
        return Long.parseLong(metadata.get(key));
    }

    /** The file's bytes: safetensors with the checksum filled in. Deterministic. */
    public byte[] toBytes() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(CHECKSUM_KEY, "0".repeat(CHECKSUM_DIGITS));
        m.putAll(metadata);
        byte[] bytes = SafeTensors.toBytes(tensors, m);
        byte[] digits = HexFormat.of().formatHex(sha256(bytes)).getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(digits, 0, bytes, CHECKSUM_AT, CHECKSUM_DIGITS);
        return bytes;
    }

    /**
     * Decodes a training state, checking everything first: the format, the checksum over every
     * byte, the safetensors structure and the entries a state must have.
     *
     * @param source names the bytes in messages (a file name)
     * @throws CheckpointException naming {@code source} and what is wrong
     */
    public static TrainingState fromBytes(byte[] bytes, String source) throws CheckpointException {
        if (bytes.length == 0) throw new CheckpointException(source + ": empty file");
        int prefix = Math.min(bytes.length, CHECKSUM_AT) - 8;
        if (prefix > 0 && !Arrays.equals(bytes, 8, 8 + prefix, HEADER_START, 0, prefix)) {
            throw new CheckpointException(source + ": not a bptt4j training state (its header does not begin with the checksum)");
        }
        if (bytes.length < CHECKSUM_AT + CHECKSUM_DIGITS) {
            throw new CheckpointException(source + ": truncated to " + bytes.length + " bytes");
        }
        byte[] stored = Arrays.copyOfRange(bytes, CHECKSUM_AT, CHECKSUM_AT + CHECKSUM_DIGITS);
        byte[] zeroed = bytes.clone();
        Arrays.fill(zeroed, CHECKSUM_AT, CHECKSUM_AT + CHECKSUM_DIGITS, (byte) '0');
        String expected = new String(stored, StandardCharsets.US_ASCII);
        String actual = HexFormat.of().formatHex(sha256(zeroed));
        if (!actual.equals(expected)) {
            String why;
            try {
                SafeTensors.read(bytes, source);
                why = "checksum mismatch: the file was altered or damaged";
            } catch (SafeTensorsException e) {
                why = "truncated or damaged (" + e.getMessage().replace(source + ": ", "") + ")";
            }
            throw new CheckpointException(source + ": " + why);
        }
        SafeTensorsFile file;
        try {
            file = SafeTensors.read(bytes, source);
        } catch (SafeTensorsException e) {
            throw new CheckpointException(e.getMessage(), e);
        }
        Map<String, String> m = new LinkedHashMap<>(file.metadata());
        m.remove(CHECKSUM_KEY);
        if (!FORMAT.equals(m.get("format"))) throw new CheckpointException(source + ": format '" + m.get("format") + "', expected " + FORMAT);
        String version = m.get("format_version");
        if (!Integer.toString(VERSION).equals(version)) {
            throw new CheckpointException(source + ": format version " + version + "; this bptt4j reads version " + VERSION);
        }
        for (String key : new String[]{"step", "optimizer", "optimizer_steps", "learning_rate", "dropout_seed", "dropout_stream"}) {
            String v = m.get(key);
            if (v == null) throw new CheckpointException(source + ": no '" + key + "' in its metadata");
            try {
                if (!key.equals("optimizer")) Double.parseDouble(v);
                if (!key.equals("optimizer") && !key.equals("learning_rate")) Long.parseLong(v);
            } catch (NumberFormatException e) {
                throw new CheckpointException(source + ": metadata '" + key + "' is not a number: '" + v + "'");
            }
        }
        return new TrainingState(Long.parseLong(m.get("step")), new LinkedHashMap<>(file.tensors()), m);
    }

    /**
     * Writes the state to {@code file} atomically (see the class comment): the previous content of
     * {@code file}, if any, stays until the new one is complete on the disk.
     */
    public void save(Path file) throws IOException {
        byte[] bytes = toBytes();
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        long pause = Long.getLong(PAUSE_PROPERTY, 0L);
        try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            ByteBuffer buffer = ByteBuffer.wrap(bytes);
            if (pause > 0) {
                buffer.limit(bytes.length / 2);
                while (buffer.hasRemaining()) out.write(buffer);
                out.force(true);
                sleep(pause);
                buffer.limit(bytes.length);
            }
            while (buffer.hasRemaining()) out.write(buffer);
            out.force(true);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        try {
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.deleteIfExists(tmp);
            throw new IOException(file.getParent() + ": the file system cannot rename atomically, so a checkpoint could be lost in a crash", e);
        }
        forceDirectory(file.toAbsolutePath().getParent());
    }

    /** Reads and checks a state file (see {@link #fromBytes}). */
    public static TrainingState load(Path file) throws IOException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(file + ": no such file");
        }
        return fromBytes(bytes, file.toString());
    }

    /** Makes a rename in {@code dir} durable; where a directory cannot be opened (Windows) the rename stands as it is. */
    private static void forceDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // Not supported here; the rename itself is atomic.
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static byte[] sha256(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this Java runtime", e);
        }
    }
}
