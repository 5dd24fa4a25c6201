package dev.bptt4j.backend.cuda;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The native surface stays where a reviewer looks for it: only JCudaApi names JCuda's driver,
 * cuBLAS or NVRTC; elsewhere only JCuda's plain pointer value classes appear (the kernel
 * registry packs arguments into them, DevicePointer is one). Also the NVRTC cache's naming.
 */
class NativeSurfaceTest {
    private static final Pattern JCUDA = Pattern.compile("\\bjcuda\\.[A-Za-z0-9_.]+");
    private static final List<String> VALUE_CLASSES = List.of("jcuda.Pointer", "jcuda.NativePointerObject", "jcuda.driver.CUdeviceptr");

    @Test
    void onlyJCudaApiCallsJCuda() throws IOException {
        Map<String, List<String>> uses = new TreeMap<>();
        try (Stream<Path> files = Files.walk(Path.of("src/main/java"))) {
            for (Path p : files.filter(f -> f.toString().endsWith(".java")).toList()) {
                Matcher m = JCUDA.matcher(Files.readString(p));
                List<String> found = m.results().map(r -> r.group().replaceAll("\\.+$", "")).distinct().sorted().toList();
                if (!found.isEmpty()) uses.put(p.getFileName().toString(), found);
            }
        }
        System.out.println("jcuda references per file: " + uses);
        for (Map.Entry<String, List<String>> e : uses.entrySet()) {
            if (e.getKey().equals("JCudaApi.java")) continue;
            for (String ref : e.getValue()) {
                assertTrue(VALUE_CLASSES.contains(ref), e.getKey() + " references " + ref + "; calls into JCuda belong in JCudaApi");
            }
        }
        assertTrue(uses.get("JCudaApi.java").containsAll(List.of("jcuda.driver.JCudaDriver", "jcuda.jcublas.JCublas2", "jcuda.nvrtc.JNvrtc")));
    }

    @Test
    void theNvrtcCacheNamesFilesByContentAndArchitecture(@TempDir Path dir) {
        String saved = System.getProperty("bptt4j.cache.dir");
        System.setProperty("bptt4j.cache.dir", dir.toString());
        try {
            Path a = KernelCache.file(KernelModule.RNN_CELL, List.of("--gpu-architecture=sm_86"), "12.6", "sm_86", true);
            Path again = KernelCache.file(KernelModule.RNN_CELL, List.of("--gpu-architecture=sm_86"), "12.6", "sm_86", true);
            Path otherNvrtc = KernelCache.file(KernelModule.RNN_CELL, List.of("--gpu-architecture=sm_86"), "12.4", "sm_86", true);
            Path ptx = KernelCache.file(KernelModule.PACKING, List.of("--gpu-architecture=compute_90"), "12.6", "compute_90", false);
            System.out.println("cache files: " + a + ", " + ptx);
            assertEquals(a, again);
            assertNotEquals(a, otherNvrtc);
            assertEquals(dir, a.getParent());
            assertTrue(a.getFileName().toString().matches("rnn_cell-[0-9a-f]{20}-sm_86\\.cubin"), a.toString());
            assertTrue(ptx.getFileName().toString().matches("packing-[0-9a-f]{20}-compute_90\\.ptx"), ptx.toString());
            assertNull(KernelCache.read(a));
            byte[] image = {1, 2, 3};
            KernelCache.write(a, image);
            assertArrayEquals(image, KernelCache.read(a));
        } finally {
            if (saved == null) System.clearProperty("bptt4j.cache.dir");
            else System.setProperty("bptt4j.cache.dir", saved);
        }
    }
}
