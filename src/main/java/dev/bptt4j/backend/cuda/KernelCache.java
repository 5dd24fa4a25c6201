package dev.bptt4j.backend.cuda;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * On-disk cache of kernel images that NVRTC compiled for one device, so the compile happens once
 * per machine, source and NVRTC version: {@code <dir>/<hash>-<arch>.<cubin|ptx>}. The hash covers
 * the source, its headers, the NVRTC options and NVRTC's version, so any change misses the cache.
 * The directory is {@code -Dbptt4j.cache.dir}, else {@code $XDG_CACHE_HOME/bptt4j}, else
 * {@code ~/.cache/bptt4j}. A cache that cannot be read or written is skipped, never fatal.
 */
final class KernelCache {
    private KernelCache() {
    }

    static Path directory() {
        String configured = System.getProperty("bptt4j.cache.dir");
        if (configured != null && !configured.isBlank()) return Path.of(configured);
        String xdg = System.getenv("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) return Path.of(xdg, "bptt4j");
        return Path.of(System.getProperty("user.home"), ".cache", "bptt4j");
    }

    /** The file for a module compiled with these options; {@code arch} is e.g. {@code sm_86} or {@code compute_90}. */
    static Path file(KernelModule module, List<String> options, String nvrtcVersion, String arch, boolean cubin) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            update(sha, module.baseName());
            update(sha, module.source());
            for (String h : module.headers()) {
                update(sha, h);
                update(sha, KernelModule.header(h));
            }
            for (String o : options) update(sha, o);
            update(sha, nvrtcVersion);
            String hash = HexFormat.of().formatHex(sha.digest()).substring(0, 20);
            return directory().resolve(module.baseName() + "-" + hash + "-" + arch + (cubin ? ".cubin" : ".ptx"));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("SHA-256 is part of every JDK", e);
        }
    }

    private static void update(MessageDigest sha, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        sha.update(Integer.toString(b.length).getBytes(StandardCharsets.US_ASCII));
        sha.update((byte) ':');
        sha.update(b);
    }

    /** The cached image, or null. */
    static byte[] read(Path file) {
        try {
            return Files.isRegularFile(file) ? Files.readAllBytes(file) : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** Stores an image (write to a temporary file, then rename, so readers never see half a file). */
    static void write(Path file, byte[] image) {
        try {
            Files.createDirectories(file.getParent());
            Path tmp = Files.createTempFile(file.getParent(), file.getFileName().toString(), ".tmp");
            Files.write(tmp, image);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            System.err.println("bptt4j: could not cache the compiled kernels at " + file + ": " + e.getMessage());
        }
    }
}
