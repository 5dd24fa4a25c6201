package dev.bptt4j.train;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A directory of {@link TrainingState} files, one per checkpointed step, named
 * {@code checkpoint-<step, 12 digits>.safetensors}. {@link #write} saves a state atomically and only
 * then deletes older checkpoints, keeping the new one and the newest before it;
 * {@link #newest} finds the newest that loads and checks, reporting the ones it skips. Nothing
 * outside this naming scheme (and its {@code .tmp} files) is ever deleted or overwritten.
 */
public final class Checkpoints {
    private static final Pattern NAME = Pattern.compile("checkpoint-(\\d{12})\\.safetensors(\\.tmp)?");

    private Checkpoints() {
    }

    /** A checkpoint that loaded and checked. */
    public record Found(Path file, TrainingState state) {
    }

    /** The file of the checkpoint after {@code step} steps. */
    public static Path fileFor(Path dir, long step) {
        return dir.resolve(String.format(Locale.ROOT, "checkpoint-%012d.safetensors", step));
    }

    /**
     * Saves {@code state} as the checkpoint of its step (atomically: see {@link TrainingState#save}),
     * then removes the checkpoints other than it and the newest one before it, and any temporary
     * files a killed write left. Returns the file.
     */
    public static Path write(Path dir, TrainingState state) throws IOException {
        Files.createDirectories(dir);
        Path file = fileFor(dir, state.step());
        state.save(file);
        long previous = -1;
        for (Path p : list(dir)) {
            long s = step(p);
            if (s < state.step()) previous = Math.max(previous, s);
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path p : entries) {
                Matcher m = NAME.matcher(p.getFileName().toString());
                if (!m.matches()) continue;
                long s = Long.parseLong(m.group(1));
                boolean keep = m.group(2) == null && (s == state.step() || s == previous);
                if (!keep) Files.deleteIfExists(p);
            }
        }
        return file;
    }

    /** The checkpoint files in {@code dir}, newest (highest step) first; empty when the directory does not exist. */
    public static List<Path> list(Path dir) throws IOException {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) return out;
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path p : entries) {
                Matcher m = NAME.matcher(p.getFileName().toString());
                if (m.matches() && m.group(2) == null) out.add(p);
            }
        }
        out.sort(Comparator.comparingLong(Checkpoints::step).reversed());
        return out;
    }

    /**
     * The newest checkpoint in {@code dir} that loads and passes its checks, or null when none
     * does. Each newer one that fails is passed to {@code skipped} as one line naming the file and
     * the problem.
     */
    public static Found newest(Path dir, Consumer<String> skipped) throws IOException {
        for (Path p : list(dir)) {
            try {
                return new Found(p, TrainingState.load(p));
            } catch (CheckpointException e) {
                skipped.accept(e.getMessage());
            }
        }
        return null;
    }

    private static long step(Path checkpoint) {
        Matcher m = NAME.matcher(checkpoint.getFileName().toString());
        if (!m.matches()) throw new IllegalArgumentException(checkpoint + ": not a checkpoint file name");
        return Long.parseLong(m.group(1));
    }
}
