package dev.bptt4j.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Help;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine.Model.UsageMessageSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.Writer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/**
 * {@code bptt4j COMMAND ...}: the command-line entry point. The commands are picocli commands
 * (typed options, generated help); exit codes: 0 success, 1 a failure (one line on stderr),
 * 2 a command line that cannot be understood (one line naming the problem, then the usage).
 */
public final class Main {
    private Main() {
    }

    /** The top level: {@code bptt4j} alone prints the usage and exits 2. */
    @Command(name = "bptt4j",
            description = "Backpropagation through time for recurrent networks (Elman RNN, LSTM, GRU) on the CPU or a GPU.",
            footer = "%n'bptt4j COMMAND --help' lists a command's options.",
            exitCodeListHeading = "%nExit status:%n",
            exitCodeList = {"0:success", "1:failure: a case failed or an error (one line on stderr)",
                    "2:usage error: a command line that cannot be understood"})
    static final class Top implements Callable<Integer> {
        @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
        boolean help;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            spec.commandLine().usage(spec.commandLine().getOut());
            return 2;
        }
    }

    /** The command line, its commands printing to {@code out}. */
    static CommandLine commandLine(PrintStream out) {
        CommandLine cl = new CommandLine(new Top());
        for (CliCommand c : List.of(new DemoCommand(), new TrainCommand(), new CheckCommand(), new GradCommand(), new CompareCommand(), new BenchCommand(),
                new InfoCommand())) {
            c.out = out;
            cl.addSubcommand(c);
        }
        CommandLine help = new CommandLine(new CommandLine.HelpCommand());
        help.getCommandSpec().usageMessage().header(new String[0]).description("Show the help of COMMAND, or of bptt4j when none is given.");
        cl.addSubcommand(help);
        cl.setColorScheme(Help.defaultColorScheme(Help.Ansi.OFF));
        configure(cl);
        return cl;
    }

    /** Usage layout for a command and its sub-commands: "usage: bptt4j grad CASE OUT [OPTIONS]", then sections. */
    private static void configure(CommandLine cl) {
        UsageMessageSpec u = cl.getCommandSpec().usageMessage();
        u.synopsisHeading("usage: ").sortOptions(false).parameterListHeading("%nArguments:%n").optionListHeading("%nOptions:%n")
                .descriptionHeading("%n").commandListHeading("%nCommands:%n");
        u.sectionMap().put(UsageMessageSpec.SECTION_KEY_SYNOPSIS, help -> synopsis(help.commandSpec(), true) + System.lineSeparator());
        u.sectionMap().put(UsageMessageSpec.SECTION_KEY_COMMAND_LIST, Main::commandList);
        if (cl.getCommandSpec().parent() == null) { // the top level: the commands before the options
            List<String> keys = new ArrayList<>(u.sectionKeys());
            List<String> commands = List.of(UsageMessageSpec.SECTION_KEY_COMMAND_LIST_HEADING, UsageMessageSpec.SECTION_KEY_COMMAND_LIST);
            keys.removeAll(commands);
            keys.addAll(keys.indexOf(UsageMessageSpec.SECTION_KEY_OPTION_LIST_HEADING), commands);
            u.sectionKeys(keys);
        }
        for (CommandLine sub : cl.getSubcommands().values()) configure(sub);
    }

    /**
     * "bptt4j grad CASE OUT [OPTIONS]": the qualified name (or, unqualified, the name alone), the
     * positionals ([X] when optional) and [OPTIONS] when there are any besides --help.
     */
    static String synopsis(CommandSpec spec, boolean qualified) {
        StringBuilder s = new StringBuilder(qualified ? spec.qualifiedName() : spec.name());
        if (spec.parent() == null) return s.append(" COMMAND [ARGS]").toString();
        for (PositionalParamSpec p : spec.positionalParameters()) {
            s.append(' ').append(p.arity().min() == 0 ? "[" + p.paramLabel() + "]" : p.paramLabel());
        }
        if (spec.options().stream().anyMatch(o -> !o.usageHelp() && !o.versionHelp())) s.append(" [OPTIONS]");
        return s.toString();
    }

    /** Each command's name and arguments, and its header or else the first line of its description. */
    private static String commandList(Help help) {
        if (help.subcommands().isEmpty()) return "";
        Help.TextTable table = Help.TextTable.forColumns(help.colorScheme(),
                new Help.Column(22, 2, Help.Column.Overflow.SPAN),
                new Help.Column(help.commandSpec().usageMessage().width() - 22, 1, Help.Column.Overflow.WRAP));
        for (Help sub : help.subcommands().values()) {
            CommandSpec spec = sub.commandSpec();
            String[] description = spec.usageMessage().header().length > 0 ? spec.usageMessage().header() : spec.usageMessage().description();
            String name = synopsis(spec, false).replace(" [OPTIONS]", "");
            table.addRowValues(name, description.length == 0 ? "" : description[0]);
        }
        return table.toString();
    }

    public static void main(String[] argv) {
        System.exit(run(argv, System.out, System.err));
    }

    /** Runs a command line; never throws, returns the exit code. */
    public static int run(String[] argv, PrintStream out, PrintStream err) {
        try {
            CommandLine cl = commandLine(out);
            cl.setOut(writer(out));
            cl.setErr(writer(err));
            cl.setParameterExceptionHandler((e, args) -> usageError(e.getCommandLine(), message(e), err));
            cl.setExecutionExceptionHandler((e, command, parsed) -> {
                if (e instanceof UsageException) return usageError(command, e.getMessage(), err);
                Throwable t = (e instanceof CliCommand.Failure || e instanceof CommandLine.ExecutionException) && e.getCause() != null
                        ? e.getCause() : e;
                err.println(command.getCommandSpec().qualifiedName() + ": " + oneLine(t));
                return 1;
            });
            return cl.execute(argv);
        } catch (Throwable e) { // not expected: picocli's own errors reach the handlers above
            err.println("bptt4j: " + oneLine(e));
            return 1;
        } finally {
            out.flush();
            err.flush();
        }
    }

    /** One line naming the problem, then the command's usage; returns 2. */
    private static int usageError(CommandLine command, String message, PrintStream err) {
        err.println(command.getCommandSpec().qualifiedName() + ": " + message);
        err.print(command.getUsageMessage());
        return 2;
    }

    /**
     * The problem in one line: "unknown command 'X'" at the top level; "unknown option '--X'" (with
     * picocli's suggestions) or "unexpected argument 'X'" in a command; else picocli's message, such as
     * "invalid value for option '--T': expected an integer >= 1, got 0".
     */
    private static String message(ParameterException e) {
        if (e instanceof UnmatchedArgumentException u && e.getCommandLine().getCommandSpec().parent() == null && !u.getUnmatched().isEmpty()) {
            String first = u.getUnmatched().get(0);
            return (first.startsWith("-") ? "unknown option '" : "unknown command '") + first + "'";
        }
        if (e instanceof UnmatchedArgumentException u && !u.getUnmatched().isEmpty()) {
            List<String> options = u.getUnmatched().stream().filter(a -> a.startsWith("-")).collect(Collectors.toList());
            if (!options.isEmpty()) {
                List<String> close = u.getSuggestions();
                return "unknown option" + (options.size() > 1 ? "s " : " ") + quoted(options)
                        + (close.isEmpty() ? "" : " (did you mean " + String.join(" or ", close) + "?)");
            }
            return "unexpected argument" + (u.getUnmatched().size() > 1 ? "s " : " ") + quoted(u.getUnmatched());
        }
        String m = oneLine(e);
        return m.isEmpty() ? m : Character.toLowerCase(m.charAt(0)) + m.substring(1);
    }

    private static String quoted(List<String> args) {
        return args.stream().map(a -> "'" + a + "'").collect(Collectors.joining(", "));
    }

    static String oneLine(Throwable e) {
        // A failed static initialiser says nothing itself (getMessage() is null); its cause names the problem.
        if (e instanceof ExceptionInInitializerError && e.getCause() != null) e = e.getCause();
        if (e instanceof OutOfMemoryError) {
            return "out of memory (" + (e.getMessage() == null ? "no detail" : e.getMessage().replace('\n', ' '))
                    + "): use smaller sizes, or give Java more memory (-Xmx, e.g. BPTT4J_JAVA_OPTS=-Xmx8g)";
        }
        String m = e.getMessage();
        String s = (m == null || m.isBlank()) ? e.getClass().getSimpleName() : m;
        // A plain IOException's or a checkpoint's message is written to be read; a subclass's (NoSuchFileException: the path) needs its name.
        if (e instanceof java.io.IOException && e.getClass() != java.io.IOException.class && !(e instanceof dev.bptt4j.io.SafeTensorsException)
                && !(e instanceof dev.bptt4j.train.CheckpointException)) {
            s = e.getClass().getSimpleName() + ": " + s;
        }
        return s.replace('\n', ' ');
    }

    /** A writer onto a stream in the stream's own encoding (picocli prints help and errors to writers). */
    private static PrintWriter writer(PrintStream stream) {
        return new PrintWriter(new Writer() {
            @Override
            public void write(char[] chars, int offset, int length) {
                stream.print(new String(chars, offset, length));
            }

            @Override
            public void flush() {
                stream.flush();
            }

            @Override
            public void close() {
                stream.flush();
            }
        }, true);
    }
}
