package dev.bptt4j.io;

import dev.bptt4j.model.ReferenceCase;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.bptt4j.tensor.Tensor;

/**
 * Fuzz targets for everything that reads files a pipeline did not write: the safetensors reader
 * and the reference-case loader on top of it. Any input must give a parsed file or the library's
 * own {@link SafeTensorsException}; anything else (an index exception, OutOfMemoryError, a hang)
 * is a finding.
 *
 * <p>{@code mvn verify} replays the seed corpus in {@code src/test/resources/dev/bptt4j/io/
 * SafeTensorsFuzzTestInputs/} (regression mode), then fuzzes each target for 30 s with
 * coverage guidance (two more surefire executions with JAZZER_FUZZ=1, see pom.xml);
 * {@code ./fuzz.sh reader|case SECONDS} runs a long campaign with Jazzer's standalone driver.
 */
public class SafeTensorsFuzzTest {

    @FuzzTest(maxDuration = "30s")
    void safeTensorsReader(byte[] data) {
        readFile(data);
    }

    @FuzzTest(maxDuration = "30s")
    void referenceCaseLoader(byte[] data) {
        loadCase(data);
    }

    /** Jazzer's standalone entry point (fuzz.sh); the target is picked by the bptt4j.fuzz.target property. */
    public static void fuzzerTestOneInput(byte[] data) {
        if ("case".equals(System.getProperty("bptt4j.fuzz.target"))) loadCase(data);
        else readFile(data);
    }

    static void readFile(byte[] data) {
        try {
            SafeTensorsFile f = SafeTensors.read(data, "fuzz");
            // Touch every tensor so that a header that promised more than the data holds would show.
            for (Tensor t : f.tensors().values()) {
                if (t.size() > 0) t.getDouble(t.size() - 1);
            }
        } catch (SafeTensorsException expected) {
            // the library's own, clean rejection
        }
    }

    static void loadCase(byte[] data) {
        try {
            ReferenceCase c = ReferenceCase.load(data, "fuzz.safetensors");
            c.expected();
            try {
                c.weights();
                c.tensor("x");
            } catch (SafeTensorsException missing) {
                // a valid file that is not a complete case
            }
        } catch (SafeTensorsException expected) {
            // clean rejection
        } catch (java.io.IOException e) {
            throw new AssertionError("unexpected I/O exception type " + e.getClass(), e);
        }
    }
}
