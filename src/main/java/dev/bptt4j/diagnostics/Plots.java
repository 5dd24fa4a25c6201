package dev.bptt4j.diagnostics;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/** PNG figures (XChart and Java2D, drawn headless): loss curves, gradient-flow heat maps and decay lines. */
public final class Plots {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    /** Size of one heat-map panel of {@link #gradientFlow}. */
    static final int HEAT_WIDTH = 600, HEAT_HEIGHT = 500;
    /** The line panel of {@link #gradientFlow}: at least this wide, this high plus a legend line per series. */
    static final int LINE_MIN_WIDTH = 900, LINE_HEIGHT = 440, LEGEND_LINE = 20;

    private Plots() {
    }

    /** One line per series (x, y), e.g. loss against step or seconds; {@code logY} for a log axis. */
    public static void lines(Path png, String title, String xLabel, String yLabel, Map<String, double[][]> series, boolean logY)
            throws IOException {
        lines(png, title, xLabel, yLabel, series, false, logY);
    }

    /**
     * As {@link #lines(Path, String, String, String, Map, boolean)}, optionally with a logarithmic x
     * axis too. When the x values are evenly spaced on that log scale (5, 10, 20, 40, 80), each one
     * is a labelled tick; otherwise the axis has XChart's decade ticks.
     */
    public static void lines(Path png, String title, String xLabel, String yLabel, Map<String, double[][]> series, boolean logX,
                             boolean logY) throws IOException {
        BitmapEncoder.saveBitmap(linesChart(title, xLabel, yLabel, series, logX, logY), png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    static XYChart linesChart(String title, String xLabel, String yLabel, Map<String, double[][]> series, boolean logX, boolean logY) {
        // XChart refuses a series without points ("Y-Axis data cannot be empty"): a run too short to
        // have any draws the others, and with none at all an empty frame that says so.
        Map<String, double[][]> drawn = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, double[][]> e : series.entrySet()) if (e.getValue()[0].length > 0) drawn.put(e.getKey(), e.getValue());
        series = drawn;
        if (series.isEmpty()) title += " (no data)";
        XYChart chart = new XYChartBuilder().width(900).height(500).title(title).xAxisTitle(xLabel).yAxisTitle(yLabel).build();
        chart.getStyler().setYAxisLogarithmic(logY);
        chart.getStyler().setLegendVisible(series.size() > 1);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        double[] ticks = logX ? geometricTicks(series) : null;
        if (ticks != null) {
            // A linear axis over log2(x), labelled with the x values themselves: XChart's own log axis labels decades only.
            chart.getStyler().setxAxisTickLabelsFormattingFunction(p -> label(ticks, Math.pow(2, p)));
        } else {
            chart.getStyler().setXAxisLogarithmic(logX);
        }
        for (Map.Entry<String, double[][]> e : series.entrySet()) {
            double[] x = e.getValue()[0];
            if (ticks != null) {
                x = x.clone();
                for (int i = 0; i < x.length; i++) x[i] = Math.log(x[i]) / Math.log(2);
            }
            XYSeries s = chart.addSeries(e.getKey(), x, e.getValue()[1]);
            s.setMarker(e.getValue()[0].length > 40 ? SeriesMarkers.NONE : SeriesMarkers.CIRCLE);
        }
        return chart;
    }

    /** The distinct x values of every series when there are at least two, all positive and evenly spaced in log; else null. */
    private static double[] geometricTicks(Map<String, double[][]> series) {
        TreeSet<Double> xs = new TreeSet<>();
        for (double[][] s : series.values()) for (double v : s[0]) xs.add(v);
        if (xs.size() < 2 || xs.first() <= 0) return null;
        double[] v = xs.stream().mapToDouble(Double::doubleValue).toArray();
        double ratio = Math.log(v[1] / v[0]);
        for (int i = 2; i < v.length; i++) if (Math.abs(Math.log(v[i] / v[i - 1]) - ratio) > 1e-9 * ratio) return null;
        return v;
    }

    /** The tick value nearest x, as written (5, 10, 2.5). */
    private static String label(double[] ticks, double x) {
        double best = ticks[0];
        for (double t : ticks) if (Math.abs(Math.log(t / x)) < Math.abs(Math.log(best / x))) best = t;
        return best == Math.rint(best) ? String.valueOf((long) best) : String.valueOf(best);
    }

    /**
     * The gradient-flow figure: one heat map of log10 ‖∂L_t/∂h_k‖ over (k, t) per report and
     * layer-direction (a row per report when a report has more than one layer-direction, else two
     * panels a row), all on one colour scale so that they compare, and below them, across the
     * figure's width, the mean relative contribution ‖∂L_t/∂h_{t−ℓ}‖ / ‖∂L_t/∂h_t‖ (geometric mean
     * over t) against the lag ℓ, one line per report and layer-direction, its legend underneath.
     */
    public static void gradientFlow(Path png, Map<String, GradientFlow.Report> reports) throws IOException {
        ImageIO.write(gradientFlowImage(reports), "png", png.toFile());
    }

    /** A heat map's place in the figure. */
    record Placed(HeatMapPanel panel, int x, int y) {
    }

    /** The layout of {@link #gradientFlow}: the heat maps where they go, and the line panel's box. */
    record Layout(List<Placed> heatMaps, int width, int height, int lineY, int lineHeight) {
    }

    static Layout layout(Map<String, GradientFlow.Report> reports) {
        if (reports.isEmpty()) throw new IllegalArgumentException("reports: expected at least one");
        // One colour scale for all panels.
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        int perReport = 0;
        for (GradientFlow.Report r : reports.values()) {
            perReport = Math.max(perReport, r.flows().size());
            for (GradientFlow.Flow f : r.flows()) {
                double[][] n = f.norms();
                for (int t = 0; t < n.length; t++) {
                    for (int k = 0; k <= t; k++) {
                        if (!(n[t][k] > 0) || Double.isInfinite(n[t][k])) continue;
                        lo = Math.min(lo, Math.log10(n[t][k]));
                        hi = Math.max(hi, Math.log10(n[t][k]));
                    }
                }
            }
        }
        if (lo > hi) {
            lo = 0;
            hi = 1;
        } else if (hi - lo < 1e-9) {
            lo -= 0.5;
            hi += 0.5;
        }
        List<List<HeatMapPanel>> rows = new ArrayList<>();
        for (Map.Entry<String, GradientFlow.Report> e : reports.entrySet()) {
            List<GradientFlow.Flow> flows = e.getValue().flows();
            if (perReport == 1 && !rows.isEmpty() && rows.get(rows.size() - 1).size() < 2) {
                rows.get(rows.size() - 1).add(panel(e.getKey(), flows.get(0), lo, hi));
                continue;
            }
            List<HeatMapPanel> row = new ArrayList<>();
            for (GradientFlow.Flow f : flows) row.add(panel(flows.size() == 1 ? e.getKey() : e.getKey() + ": " + f.name(), f, lo, hi));
            rows.add(row);
        }
        int columns = 0;
        for (List<HeatMapPanel> row : rows) columns = Math.max(columns, row.size());
        int width = Math.max(columns * HEAT_WIDTH, LINE_MIN_WIDTH), left = (width - columns * HEAT_WIDTH) / 2;
        List<Placed> placed = new ArrayList<>();
        for (int r = 0; r < rows.size(); r++) {
            for (int c = 0; c < rows.get(r).size(); c++) placed.add(new Placed(rows.get(r).get(c), left + c * HEAT_WIDTH, r * HEAT_HEIGHT));
        }
        int series = 0;
        for (GradientFlow.Report r : reports.values()) series += r.flows().size();
        int lineY = rows.size() * HEAT_HEIGHT, lineHeight = LINE_HEIGHT + LEGEND_LINE * series;
        return new Layout(placed, width, lineY + lineHeight, lineY, lineHeight);
    }

    private static HeatMapPanel panel(String title, GradientFlow.Flow f, double lo, double hi) {
        boolean reverse = f.direction() == 1;
        return new HeatMapPanel(title, reverse ? "k (state step, counted from the end)" : "k (state step)",
                reverse ? "t (loss step, counted from the end)" : "t (loss step)", f.norms(), lo, hi);
    }

    static BufferedImage gradientFlowImage(Map<String, GradientFlow.Report> reports) {
        Layout layout = layout(reports);
        BufferedImage image = new BufferedImage(layout.width(), layout.height(), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, layout.width(), layout.height());
            for (Placed p : layout.heatMaps()) {
                Graphics2D pg = (Graphics2D) g.create(p.x(), p.y(), HEAT_WIDTH, HEAT_HEIGHT);
                try {
                    p.panel().paint(pg, HEAT_WIDTH, HEAT_HEIGHT);
                } finally {
                    pg.dispose();
                }
            }
            Graphics2D lg = (Graphics2D) g.create(0, layout.lineY(), layout.width(), layout.lineHeight());
            try {
                decayChart(reports, layout.width(), layout.lineHeight()).paint(lg, layout.width(), layout.lineHeight());
            } finally {
                lg.dispose();
            }
        } finally {
            g.dispose();
        }
        return image;
    }

    /** The line panel: mean relative contribution by lag, one line per report and layer-direction, the legend below the plot. */
    static XYChart decayChart(Map<String, GradientFlow.Report> reports, int width, int height) {
        XYChart decay = new XYChartBuilder().width(width).height(height).title("mean contribution by lag (geometric mean over t)")
                .xAxisTitle("lag t - k (steps)").yAxisTitle(HeatMapPanel.text("‖∂L_t/∂h_k‖ / ‖∂L_t/∂h_t‖", "||dL_t/dh_k|| / ||dL_t/dh_t||"))
                .build();
        decay.getStyler().setYAxisLogarithmic(true);
        decay.getStyler().setChartBackgroundColor(Color.WHITE);
        decay.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        decay.getStyler().setLegendLayout(Styler.LegendLayout.Vertical);
        for (Map.Entry<String, GradientFlow.Report> e : reports.entrySet()) {
            List<GradientFlow.Flow> flows = e.getValue().flows();
            for (GradientFlow.Flow f : flows) {
                double[] m = f.meanLogByLag();
                double[] x = new double[m.length], y = new double[m.length];
                for (int i = 0; i < m.length; i++) {
                    x[i] = i;
                    y[i] = Math.max(Math.exp(m[i]), 1e-30);
                }
                String name = flows.size() == 1 ? e.getKey() : e.getKey() + ", " + f.name();
                decay.addSeries(name + String.format(Locale.ROOT, " (x%.2f/step, %s)", f.factorPerStep(),
                        f.verdict().name().toLowerCase(Locale.ROOT)), x, y).setMarker(SeriesMarkers.NONE);
            }
        }
        return decay;
    }
}
