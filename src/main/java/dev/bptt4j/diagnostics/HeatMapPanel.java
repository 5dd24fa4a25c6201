package dev.bptt4j.diagnostics;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.geom.Line2D;
import java.awt.geom.Rectangle2D;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One gradient-flow heat map drawn with Java2D: log10 ‖∂L_t/∂h_k‖ over (k, t) for k ≤ t, t = 0 at
 * the bottom, with tick labels on a subset of the steps chosen so that they never run together, and
 * a colour bar with ticks and its label. Every text it draws is recorded ({@link #drawn()}) so that
 * tests can check the layout.
 */
final class HeatMapPanel {
    /** Where a drawn text belongs. */
    enum Part { TITLE, X_TITLE, Y_TITLE, X_TICK, Y_TICK, BAR_TICK, BAR_LABEL }

    /** A text as drawn, with its bounds in the panel's coordinates (for a rotated text, the rotated box). */
    record Text(Part part, String text, Rectangle2D bounds) {
    }

    /** The colour map (dark blue, blue, green, orange, dark red), low to high. */
    private static final Color[] STOPS = {new Color(0x30, 0x12, 0x3b), new Color(0x28, 0x9b, 0xe8), new Color(0xa4, 0xfc, 0x3c),
            new Color(0xfb, 0x80, 0x22), new Color(0x7a, 0x04, 0x03)};
    static final Font TITLE_FONT = new Font(Font.SANS_SERIF, Font.BOLD, 14);
    static final Font AXIS_FONT = new Font(Font.SANS_SERIF, Font.BOLD, 12);
    static final Font TICK_FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 11);
    private static final int TICK = 4, BAR = 16;

    private final String title, xTitle, yTitle;
    private final double[][] norms;
    private final double lo, hi;
    private final List<Text> drawn = new ArrayList<>();

    /**
     * @param norms [t][k], drawn where k ≤ t and the value is not NaN
     * @param lo    log10 at the bottom of the colour scale (shared between panels so that they compare)
     * @param hi    log10 at the top, above lo
     */
    HeatMapPanel(String title, String xTitle, String yTitle, double[][] norms, double lo, double hi) {
        this.title = title;
        this.xTitle = xTitle;
        this.yTitle = yTitle;
        this.norms = norms;
        this.lo = lo;
        this.hi = hi;
    }

    /** The colour bar's label: log10 ‖∂L_t/∂h_k‖, in ASCII where the font lacks ‖ or ∂. */
    static String barLabel() {
        return text("log10 ‖∂L_t/∂h_k‖", "log10 ||dL_t/dh_k||");
    }

    /** {@code unicode} when the tick and axis fonts can draw it, else {@code ascii}. */
    static String text(String unicode, String ascii) {
        return AXIS_FONT.canDisplayUpTo(unicode) < 0 && TICK_FONT.canDisplayUpTo(unicode) < 0 ? unicode : ascii;
    }

    List<Text> drawn() {
        return List.copyOf(drawn);
    }

    /**
     * The smallest step of 1, 2, 5, 10, 20, 25, 50, 100, … cells between labelled ticks that leaves
     * at least {@code minPixels} between neighbouring labels' centres.
     */
    static int tickStep(int cells, double pixelsPerCell, double minPixels) {
        int[] mantissas = {1, 2, 5, 10, 20, 25, 50};
        for (long scale = 1; ; scale *= 100) {
            for (int m : mantissas) {
                long step = m * scale;
                if (step * pixelsPerCell >= minPixels || step >= cells) return (int) Math.min(Math.max(step, 1), Integer.MAX_VALUE);
            }
        }
    }

    /** Tick values for the colour bar over [lo, hi]: the multiples of the finest step of 1, 2 or 5 × 10^e that gives at most {@code max}. */
    static double[] colourTicks(double lo, double hi, int max) {
        double base = Math.pow(10, Math.floor(Math.log10((hi - lo) / max)));
        for (double m : new double[]{1, 2, 5, 10, 20, 50}) {
            double step = m * base;
            long first = (long) Math.ceil(lo / step - 1e-9), last = (long) Math.floor(hi / step + 1e-9);
            if (last - first + 1 <= max) {
                double[] out = new double[(int) Math.max(0, last - first + 1)];
                for (int i = 0; i < out.length; i++) out[i] = (first + i) * step;
                return out;
            }
        }
        throw new AssertionError("no colour ticks for " + lo + ".." + hi);
    }

    private static String tickLabel(double v, double step) {
        int decimals = step >= 1 - 1e-9 ? 0 : step >= 0.1 - 1e-9 ? 1 : 2;
        String s = String.format(Locale.ROOT, "%." + decimals + "f", v);
        return s.matches("-0(\\.0*)?") ? s.substring(1) : s;
    }

    /** The colour of a fraction 0..1 of the scale. */
    static Color colour(double f) {
        f = Math.max(0, Math.min(1, f)) * (STOPS.length - 1);
        int i = Math.min((int) f, STOPS.length - 2);
        double w = f - i;
        Color a = STOPS[i], b = STOPS[i + 1];
        return new Color((int) Math.round(a.getRed() + w * (b.getRed() - a.getRed())), (int) Math.round(a.getGreen() + w * (b.getGreen() - a.getGreen())),
                (int) Math.round(a.getBlue() + w * (b.getBlue() - a.getBlue())));
    }

    /** Draws the panel into [0, width) × [0, height) of {@code g}. */
    void paint(Graphics2D g, int width, int height) {
        drawn.clear();
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        int steps = norms.length;
        FontMetrics tf = g.getFontMetrics(TITLE_FONT), af = g.getFontMetrics(AXIS_FONT), kf = g.getFontMetrics(TICK_FONT);
        double[] barTicks = colourTicks(lo, hi, 7);
        double barStep = barTicks.length > 1 ? barTicks[1] - barTicks[0] : 1;
        int barLabelWidth = 0;
        for (double v : barTicks) barLabelWidth = Math.max(barLabelWidth, kf.stringWidth(tickLabel(v, barStep)));
        int yLabelWidth = kf.stringWidth(String.valueOf(Math.max(steps - 1, 0)));

        int top = 10 + tf.getHeight() + 10;
        int left = 10 + af.getHeight() + 6 + yLabelWidth + 4 + TICK;
        int bottom = TICK + 3 + kf.getHeight() + 6 + af.getHeight() + 8;
        int right = 14 + BAR + TICK + 3 + barLabelWidth + 8 + af.getHeight() + 10;
        double x0 = left, y0 = top, pw = Math.max(1, width - left - right), ph = Math.max(1, height - top - bottom);
        double cw = pw / Math.max(steps, 1), ch = ph / Math.max(steps, 1);

        // Cells, t = 0 at the bottom.
        for (int t = 0; t < steps; t++) {
            for (int k = 0; k <= t && k < norms[t].length; k++) {
                double v = norms[t][k];
                if (Double.isNaN(v)) continue;
                g.setColor(colour((Math.log10(v) - lo) / (hi - lo)));
                g.fill(new Rectangle2D.Double(x0 + k * cw, y0 + ph - (t + 1) * ch, cw + 0.5, ch + 0.5)); // overlap: no seams
            }
        }
        g.setColor(Color.GRAY);
        g.setStroke(new BasicStroke(1f));
        g.draw(new Rectangle2D.Double(x0, y0, pw, ph));

        // Ticks on a subset of the steps, labels centred on their cells, never closer than a label's width plus a gap.
        g.setFont(TICK_FONT);
        int xStep = tickStep(steps, cw, kf.stringWidth(String.valueOf(Math.max(steps - 1, 0))) + 10);
        for (int k = 0; k < steps; k += xStep) {
            double cx = x0 + (k + 0.5) * cw;
            g.setColor(Color.GRAY);
            g.draw(new Line2D.Double(cx, y0 + ph, cx, y0 + ph + TICK));
            String s = String.valueOf(k);
            text(g, Part.X_TICK, s, cx - kf.stringWidth(s) / 2.0, y0 + ph + TICK + 3 + kf.getAscent(), kf);
        }
        int yStep = tickStep(steps, ch, kf.getHeight() + 4);
        for (int t = 0; t < steps; t += yStep) {
            double cy = y0 + ph - (t + 0.5) * ch;
            g.setColor(Color.GRAY);
            g.draw(new Line2D.Double(x0 - TICK, cy, x0, cy));
            String s = String.valueOf(t);
            text(g, Part.Y_TICK, s, x0 - TICK - 4 - kf.stringWidth(s), cy - kf.getHeight() / 2.0 + kf.getAscent(), kf);
        }

        // Colour bar, with ticks and its label.
        double bx = x0 + pw + 14;
        for (int i = 0; i < (int) Math.ceil(ph); i++) {
            g.setColor(colour(1 - (i + 0.5) / ph));
            g.fill(new Rectangle2D.Double(bx, y0 + i, BAR, 1));
        }
        g.setColor(Color.GRAY);
        g.draw(new Rectangle2D.Double(bx, y0, BAR, ph));
        for (double v : barTicks) {
            double y = y0 + ph - (v - lo) / (hi - lo) * ph;
            g.setColor(Color.GRAY);
            g.draw(new Line2D.Double(bx + BAR, y, bx + BAR + TICK, y));
            String s = tickLabel(v, barStep);
            text(g, Part.BAR_TICK, s, bx + BAR + TICK + 3, y - kf.getHeight() / 2.0 + kf.getAscent(), kf);
        }
        g.setFont(AXIS_FONT);
        double labelX = bx + BAR + TICK + 3 + barLabelWidth + 8;
        rotated(g, Part.BAR_LABEL, barLabel(), labelX, y0 + ph / 2, af);

        // Titles.
        text(g, Part.X_TITLE, xTitle, x0 + pw / 2 - af.stringWidth(xTitle) / 2.0, height - 8 - af.getDescent(), af);
        rotated(g, Part.Y_TITLE, yTitle, 10, y0 + ph / 2, af);
        g.setFont(TITLE_FONT);
        text(g, Part.TITLE, title, width / 2.0 - tf.stringWidth(title) / 2.0, 10 + tf.getAscent(), tf);
    }

    private void text(Graphics2D g, Part part, String s, double x, double baseline, FontMetrics fm) {
        g.setColor(Color.BLACK);
        g.setFont(fm.getFont());
        g.drawString(s, (float) x, (float) baseline);
        drawn.add(new Text(part, s, new Rectangle2D.Double(x, baseline - fm.getAscent(), fm.stringWidth(s), fm.getHeight())));
    }

    /** A text turned a quarter anticlockwise (read bottom to top), its box's left edge at x, centred on cy. */
    private void rotated(Graphics2D g, Part part, String s, double x, double cy, FontMetrics fm) {
        AffineTransform saved = g.getTransform();
        g.setColor(Color.BLACK);
        g.setFont(fm.getFont());
        int w = fm.stringWidth(s);
        g.translate(x + fm.getAscent(), cy + w / 2.0);
        g.rotate(-Math.PI / 2);
        g.drawString(s, 0f, 0f);
        g.setTransform(saved);
        drawn.add(new Text(part, s, new Rectangle2D.Double(x, cy - w / 2.0, fm.getHeight(), w)));
    }
}
