package dev.bptt4j.cli;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** {@code bptt4j COMMAND ...}: the command-line entry point. */
public final class Main {
    private static final Set<String> FLAGS = Set.of("help", "quiet", "no-input-grad", "reuse-results", "resident");

    private Main() {
    }

    static Map<String, Command> commands() {
        Map<String, Command> m = new LinkedHashMap<>();
        for (Command c : List.of(new DemoCommand(), new CheckCommand(), new GradCommand(), new CompareCommand(), new BenchCommand(),
                new InfoCommand())) {
            m.put(c.name(), c);
        }
        return m;
    }

    public static void main(String[] argv) {
        System.exit(run(argv, System.out, System.err));
    }

    /** Runs a command line; never throws, returns the exit code. */
    public static int run(String[] argv, PrintStream out, PrintStream err) {
        Map<String, Command> commands = commands();
        if (argv.length == 0 || argv[0].equals("--help") || argv[0].equals("help")) {
            usage(commands, out);
            return argv.length == 0 ? 2 : 0;
        }
        Command c = commands.get(argv[0]);
        if (c == null) {
            err.println("bptt4j: unknown command '" + argv[0] + "'");
            usage(commands, err);
            return 2;
        }
        try {
            return c.run(new Args(Arrays.asList(argv).subList(1, argv.length), FLAGS), out);
        } catch (UsageException e) {
            err.println("bptt4j " + c.name() + ": " + e.getMessage());
            err.println("usage: bptt4j " + c.usage());
            return 2;
        } catch (Exception | LinkageError e) {
            err.println("bptt4j " + c.name() + ": " + oneLine(e));
            return 1;
        }
    }

    static String oneLine(Throwable e) {
        String m = e.getMessage();
        String s = (m == null || m.isBlank()) ? e.getClass().getSimpleName() : m;
        if (e instanceof java.io.IOException && !(e instanceof dev.bptt4j.io.SafeTensorsException)) {
            s = e.getClass().getSimpleName() + ": " + s;
        }
        return s.replace('\n', ' ');
    }

    private static void usage(Map<String, Command> commands, PrintStream out) {
        out.println("usage: bptt4j COMMAND [ARGS]");
        for (Command c : commands.values()) out.println("  " + c.usage());
    }
}
