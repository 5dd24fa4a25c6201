package dev.bptt4j.cli;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The demo command's argument handling (the demos themselves run in dev.bptt4j.demo.DemoTest). */
class DemoCommandTest {
    @Test
    void badArgumentsAreUsageErrors() {
        for (String[] argv : new String[][]{{"demo", "nonsense", "--seconds", "1"}, {"demo", "--seconds", "soon"},
                {"demo", "--seconds", "-3"}, {"demo", "--bogus", "1"}}) {
            CommandLineTest.Result r = CommandLineTest.run(argv);
            System.out.printf("%s -> exit %d: %s", String.join(" ", argv), r.code(), r.err());
            assertEquals(2, r.code(), String.join(" ", argv));
            assertTrue(r.err().contains("usage: bptt4j demo"), r.err());
        }
        assertTrue(CommandLineTest.run("--help").out().contains("demo [long-range]"), "listed in the usage");
    }
}
