package dev.bptt4j;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.Backends;
import dev.bptt4j.backend.cuda.CudaProbe;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The backends the conformance tests run against: {@code cpu}, {@code cuda-emulated}, and
 * {@code gpu} when this machine has a usable one; or exactly the comma-separated list in
 * {@code -Dbptt4j.conformance.backends} (the JVMs that test other CPU settings run {@code cpu}
 * alone, the GPU bundle runs {@code gpu}). One instance keeps each backend open for a test class.
 */
public final class BackendsUnderTest implements AutoCloseable {
    private final Map<String, Backend> open = new LinkedHashMap<>();

    /** The backend names to test, in order. */
    public static List<String> list() {
        String given = System.getProperty("bptt4j.conformance.backends");
        List<String> out = new ArrayList<>();
        if (given != null && !given.isBlank()) {
            for (String s : given.split(",")) if (!s.isBlank()) out.add(s.trim());
            return out;
        }
        out.add("cpu");
        out.add("cuda-emulated");
        if (CudaProbe.verdict().usable()) out.add("gpu");
        return out;
    }

    public static Stream<String> names() {
        return list().stream();
    }

    /** The backend of this name, opened on first use and kept until {@link #close()}. */
    public Backend get(String name) {
        return open.computeIfAbsent(name, Backends::create);
    }

    @Override
    public void close() {
        for (Backend b : open.values()) b.close();
        open.clear();
    }
}
