package dev.bptt4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Holds every {@code .visible .entry} of the bundled PTX against every kernel spec ({@link KernelRegistry}): the same
 * kernels, the same parameter count, and PTX types the registry's types allow. PTX alone cannot
 * tell a pointer from a {@code long long} (both {@code .u64}); {@link KernelSourceSignatureTest}
 * settles that from the .cu signatures.
 */
class PtxSignatureTest {
    private static final Pattern ENTRY = Pattern.compile("\\.visible\\s+\\.entry\\s+(\\w+)\\s*\\(([^)]*)\\)");
    private static final Pattern PARAM = Pattern.compile("\\s*\\.param\\s+\\.(\\w+)\\s+(\\w+)\\s*");

    /** Entry name to its parameters as (ptx type, ptx name) pairs, in order. */
    static Map<String, List<String[]>> entries(String ptx) {
        Map<String, List<String[]>> out = new LinkedHashMap<>();
        Matcher m = ENTRY.matcher(ptx);
        while (m.find()) {
            List<String[]> params = new ArrayList<>();
            String list = m.group(2).trim();
            if (!list.isEmpty()) {
                for (String p : list.split(",")) {
                    Matcher pm = PARAM.matcher(p);
                    if (!pm.matches()) fail(m.group(1) + ": cannot read PTX parameter '" + p.trim() + "'");
                    params.add(new String[] {pm.group(1), pm.group(2)});
                }
            }
            out.put(m.group(1), params);
        }
        return out;
    }

    @Test
    void everyPtxEntryMatchesTheRegistryAndEveryKernelIsInItsPtx() {
        int checked = 0;
        for (KernelModule module : KernelModule.values()) {
            String ptx = module.ptx();
            assertTrue(ptx.contains("\n.target sm_75\n"), module.ptxResource() + " should target sm_75 (built for compute_75)");
            Map<String, List<String[]>> entries = entries(ptx);
            System.out.printf("%s: %d entries, %s%n", module.ptxResource(), entries.size(),
                    ptx.lines().filter(l -> l.startsWith(".version") || l.startsWith(".target")).toList());
            for (Map.Entry<String, List<String[]>> e : entries.entrySet()) {
                CudaKernel kernel = KernelRegistry.byFunctionName(e.getKey());
                assertEquals(module.baseName(), kernel.module(), kernel + " is registered in another module");
                List<CudaKernel.Parameter> expected = kernel.parameters();
                List<String[]> actual = e.getValue();
                StringBuilder ptxTypes = new StringBuilder();
                for (String[] p : actual) ptxTypes.append(ptxTypes.length() == 0 ? "" : ", ").append('.').append(p[0]);
                System.out.printf("  %-17s PTX (%s)%n  %-17s registry %s%n", kernel, ptxTypes, "", kernel.signature());
                assertEquals(expected.size(), actual.size(), kernel + ": parameter count, PTX vs registry");
                for (int i = 0; i < expected.size(); i++) {
                    CudaKernel.Parameter p = expected.get(i);
                    assertEquals(kernel + "_param_" + i, actual.get(i)[1], kernel + ": PTX parameter name " + i);
                    assertTrue(p.type().ptxTypes().contains(actual.get(i)[0]), kernel + ": parameter " + i + " (" + p
                            + ") is ." + actual.get(i)[0] + " in PTX; the registry's " + p.type() + " allows " + p.type().ptxTypes());
                }
                checked++;
            }
            for (CudaKernel kernel : KernelRegistry.inModule(module)) {
                assertTrue(entries.containsKey(kernel.functionName()), kernel + " is registered but not in " + module.ptxResource());
            }
        }
        assertEquals(KernelRegistry.kernels().size(), checked, "PTX entries checked vs kernels registered");
    }
}
