package dev.bptt4j.cli;

import java.io.PrintStream;
import java.util.List;

/** One sub-command of the {@code bptt4j} command line. */
interface Command {
    String name();

    /** One usage line, e.g. {@code grad CASE OUT [--device cpu|gpu|auto]}. */
    String usage();

    /** Runs the command; returns the process exit code. Throwing {@link UsageException} prints usage. */
    int run(Args args, PrintStream out) throws Exception;
}
