package dev.bptt4j.cli;

import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.util.concurrent.Callable;

/**
 * One sub-command of the {@code bptt4j} command line: a picocli command whose annotated fields are
 * its arguments. {@link Main} sets {@link #out} and maps what {@link #run} throws to exit codes:
 * {@link UsageException} 2 (with the usage), any other exception or error 1 (one line).
 */
abstract class CliCommand implements Callable<Integer> {
    @Option(names = {"-h", "--help"}, usageHelp = true, order = 1000, description = "Show this help and exit.")
    boolean help;

    /** Where the command prints its results (Main.run's {@code out}). */
    PrintStream out = System.out;

    @Override
    public final Integer call() throws Exception {
        try {
            return run(out);
        } catch (Error e) {
            throw new Failure(e); // picocli lets an Error through; Main reports it in one line, like an exception
        }
    }

    /** An {@link Error} from a command (a missing native library, out of memory), carried as its cause. */
    static final class Failure extends Exception {
        Failure(Error cause) {
            super(cause);
        }
    }

    /** Runs the command on the parsed fields; returns the process exit code. */
    abstract int run(PrintStream out) throws Exception;
}
