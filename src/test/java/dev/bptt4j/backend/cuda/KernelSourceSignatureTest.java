package dev.bptt4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.bptt4j.tensor.DType;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Holds the {@code extern "C" __global__} signatures of the bundled .cu sources (what NVRTC would
 * compile) against every kernel spec ({@link KernelRegistry}): names, parameter names, C types (which tell a pointer from
 * a {@code long long}, as PTX cannot) and pointee types. Also checks each module's include list.
 */
class KernelSourceSignatureTest {
    private static final Pattern KERNEL = Pattern.compile("extern\\s+\"C\"\\s+__global__\\s+void\\s+(\\w+)\\s*\\(([^)]*)\\)");
    private static final Pattern POINTER = Pattern.compile("(?:const\\s+)?(float|double|int|unsigned long long)\\s*\\*\\s*(\\w+)");
    private static final Pattern SCALAR = Pattern.compile("(float|double|int|long long)\\s+(\\w+)");
    private static final Pattern INCLUDE = Pattern.compile("^#include\\s+\"([^\"]+)\"", Pattern.MULTILINE);

    /** "F32* hiddenOut" / "INT32 rows" for one C parameter. */
    static String describe(String cParameter) {
        String p = cParameter.trim().replaceAll("\\s+", " ");
        Matcher m = POINTER.matcher(p);
        if (m.matches()) {
            DType pointee;
            switch (m.group(1)) {
                case "float": pointee = DType.F32; break;
                case "double": pointee = DType.F64; break;
                case "int": pointee = DType.I32; break;
                default: pointee = DType.I64; break; // unsigned long long: a 64-bit counter
            }
            return pointee + "* " + m.group(2);
        }
        m = SCALAR.matcher(p);
        if (m.matches()) {
            String type;
            switch (m.group(1)) {
                case "float": type = "FLOAT32"; break;
                case "double": type = "FLOAT64"; break;
                case "int": type = "INT32"; break;
                default: type = "INT64"; break;
            }
            return type + " " + m.group(2);
        }
        fail("cannot read C parameter '" + p + "'");
        return null;
    }

    static String describe(CudaKernel.Parameter p) {
        return (p.type() == CudaKernel.ParamType.POINTER ? p.pointee() + "*" : p.type().toString()) + " " + p.name();
    }

    @Test
    void everyCudaSignatureMatchesTheRegistry() {
        int checked = 0;
        for (KernelModule module : KernelModule.values()) {
            String source = module.source();
            Map<String, List<String>> kernels = new LinkedHashMap<>();
            Matcher m = KERNEL.matcher(source);
            while (m.find()) {
                List<String> params = new ArrayList<>();
                for (String p : m.group(2).split(",")) params.add(describe(p));
                kernels.put(m.group(1), params);
            }
            System.out.printf("%s: %d kernels%n", module.sourceResource(), kernels.size());
            for (Map.Entry<String, List<String>> e : kernels.entrySet()) {
                CudaKernel kernel = KernelRegistry.byFunctionName(e.getKey());
                assertEquals(module.baseName(), kernel.module(), kernel + " is registered in another module");
                List<String> expected = new ArrayList<>();
                for (CudaKernel.Parameter p : kernel.parameters()) expected.add(describe(p));
                System.out.printf("  %-17s .cu      %s%n  %-17s registry %s%n", kernel, e.getValue(), "", expected);
                assertEquals(expected, e.getValue(), kernel + ": .cu signature vs registry");
                assertTrue(kernel.functionName().endsWith("_" + kernel.dtype().name().toLowerCase(java.util.Locale.ROOT)), kernel + ": name vs dtype");
                checked++;
            }
            for (CudaKernel kernel : KernelRegistry.inModule(module)) {
                assertTrue(kernels.containsKey(kernel.functionName()), kernel + " is registered but not in " + module.sourceResource());
            }

            List<String> includes = new ArrayList<>();
            Matcher inc = INCLUDE.matcher(source);
            while (inc.find()) includes.add(inc.group(1));
            assertEquals(module.headers(), includes, module.sourceResource() + ": #include list vs KernelModule.headers()");
            for (String header : includes) {
                assertTrue(KernelModule.header(header).contains("#ifndef"), header + " should be bundled");
            }
            assertTrue(!source.contains("#include <"), module.sourceResource() + " must not include system headers (NVRTC has none)");
        }
        assertEquals(KernelRegistry.kernels().size(), checked, ".cu kernels checked vs kernels registered");
    }

    /** The classpath's sources are cuda/ itself (pom.xml maps it), not a copy that could drift. */
    @Test
    void classpathSourcesAreTheFilesInCudaDirectory() throws java.io.IOException {
        java.nio.file.Path cuda = java.nio.file.Path.of(System.getProperty("basedir", ".")).toAbsolutePath().resolve("cuda");
        java.util.Set<String> headers = new java.util.TreeSet<>();
        for (KernelModule module : KernelModule.values()) {
            assertEquals(java.nio.file.Files.readString(cuda.resolve(module.baseName() + ".cu")), module.source(), module.sourceResource());
            headers.addAll(module.headers());
        }
        for (String header : headers) assertEquals(java.nio.file.Files.readString(cuda.resolve(header)), KernelModule.header(header), header);
        try (java.util.stream.Stream<java.nio.file.Path> files = java.nio.file.Files.list(cuda)) {
            List<String> kernelFiles = files.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(".cu")).sorted().toList();
            List<String> modules = new ArrayList<>();
            for (KernelModule module : KernelModule.values()) modules.add(module.baseName() + ".cu");
            java.util.Collections.sort(modules);
            System.out.println("cuda/*.cu " + kernelFiles + ", KernelModule " + modules + ", headers " + headers);
            assertEquals(kernelFiles, modules, "every cuda/*.cu is a KernelModule");
        }
    }
}
