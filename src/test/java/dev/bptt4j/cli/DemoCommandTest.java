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

    @Test
    void aHiddenSizeBelowOneIsRefusedNotReplacedByTheDefault() {
        // These used to run the demo silently with the default hidden size (128).
        CommandLineTest.assertUsageError("bptt4j demo", "invalid value for option '--hidden': expected an integer >= 1, got 0", "demo", "--hidden", "0");
        CommandLineTest.assertUsageError("bptt4j demo", "invalid value for option '--hidden': expected an integer >= 1, got -5",
                "demo", "long-range", "--hidden", "-5");
        CommandLineTest.assertUsageError("bptt4j demo", "invalid value for option '--seconds': expected a number, got 'soon'", "demo", "--seconds", "soon");
        CommandLineTest.assertUsageError("bptt4j demo", "invalid value for option '--seconds': expected a positive number, got 0", "demo", "--seconds", "0");
    }
}
