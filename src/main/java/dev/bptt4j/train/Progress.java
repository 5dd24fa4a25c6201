package dev.bptt4j.train;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A progress line for long runs: step, loss, tokens per second, elapsed time and ETA. On a
 * terminal it redraws one line with a bar; otherwise (a pipe, a CI log) it prints a plain line
 * at most every {@code plainEverySeconds}, so logs stay short.
 */
public final class Progress {
    private final PrintStream out;
    private final boolean terminal;
    private final String label;
    private final double budgetSeconds;
    private final long budgetSteps;
    private final double plainEverySeconds;
    private long start = System.nanoTime();
    private long lastPrint = Long.MIN_VALUE;
    private int lastWidth;

    /**
     * @param budgetSeconds the run's time budget (for the bar and ETA), or 0 when bounded by steps
     * @param budgetSteps   the run's step budget, or 0 when bounded by time
     */
    public Progress(PrintStream out, String label, double budgetSeconds, long budgetSteps, boolean terminal, double plainEverySeconds) {
        this.out = out;
        this.label = label;
        this.budgetSeconds = budgetSeconds;
        this.budgetSteps = budgetSteps;
        this.terminal = terminal;
        this.plainEverySeconds = plainEverySeconds;
    }

    /** Whether stdout is an interactive terminal (no console when piped or redirected). */
    public static boolean stdoutIsTerminal() {
        return System.console() != null && !"true".equals(System.getenv("CI"));
    }

    /** Counts {@code seconds} already spent before this run (a resumed run's earlier part) as elapsed. */
    public void continueFrom(double seconds) {
        start -= (long) (seconds * 1e9);
    }

    public double elapsedSeconds() {
        return (System.nanoTime() - start) / 1e9;
    }

    /** Fraction done in [0, 1]. */
    public double fraction(long step) {
        double f = budgetSeconds > 0 ? elapsedSeconds() / budgetSeconds : (double) step / Math.max(1, budgetSteps);
        return Math.max(0, Math.min(1, f));
    }

    public void update(long step, double loss, long tokens) {
        long now = System.nanoTime();
        long every = (long) ((terminal ? 0.1 : plainEverySeconds) * 1e9);
        if (lastPrint != Long.MIN_VALUE && now - lastPrint < every) return;
        lastPrint = now;
        print(step, loss, tokens, false);
    }

    /** A line of its own between progress lines (on a terminal the bar is cleared first and redrawn at the next update). */
    public void note(String line) {
        if (terminal && lastWidth > 0) {
            out.print("\r" + " ".repeat(lastWidth) + "\r");
            lastWidth = 0;
            lastPrint = Long.MIN_VALUE;
        }
        out.println(line);
        out.flush();
    }

    /** Prints the final state and ends the line. */
    public void finish(long step, double loss, long tokens) {
        print(step, loss, tokens, true);
    }

    private void print(long step, double loss, long tokens, boolean last) {
        double elapsed = elapsedSeconds(), f = last ? 1 : fraction(step);
        double eta = f > 0 ? elapsed / f - elapsed : Double.NaN;
        String stats = String.format(Locale.ROOT, "%s step %d  loss %.4f  %,.0f tok/s  %s elapsed  ETA %s", label, step, loss,
                tokens / Math.max(elapsed, 1e-9), clock(elapsed), last ? "0:00" : clock(eta));
        if (terminal) {
            int width = 24, filled = (int) Math.round(f * width);
            String line = "[" + "#".repeat(filled) + "-".repeat(width - filled) + "] " + stats;
            out.print("\r" + line + " ".repeat(Math.max(0, lastWidth - line.length())));
            lastWidth = line.length();
            if (last) out.println();
        } else {
            out.println(String.format(Locale.ROOT, "%3.0f%% ", f * 100) + stats);
        }
        out.flush();
    }

    static String clock(double seconds) {
        if (!Double.isFinite(seconds)) return "?";
        long s = Math.round(seconds);
        return s / 60 + ":" + String.format(Locale.ROOT, "%02d", s % 60);
    }
}
