package dev.bptt4j.diagnostics;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.HeatMapChart;
import org.knowm.xchart.HeatMapChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** PNG figures (XChart, drawn headless): loss curves, gradient-flow heat maps and decay lines. */
public final class Plots {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    private Plots() {
    }

    /** One line per series (x, y), e.g. loss against step or seconds; {@code logY} for a log axis. */
    public static void lines(Path png, String title, String xLabel, String yLabel, Map<String, double[][]> series, boolean logY)
            throws IOException {
        lines(png, title, xLabel, yLabel, series, false, logY);
    }

    /** As {@link #lines(Path, String, String, String, Map, boolean)}, optionally with a logarithmic x axis too. */
    public static void lines(Path png, String title, String xLabel, String yLabel, Map<String, double[][]> series, boolean logX,
                             boolean logY) throws IOException {
        XYChart chart = new XYChartBuilder().width(900).height(500).title(title).xAxisTitle(xLabel).yAxisTitle(yLabel).build();
        chart.getStyler().setXAxisLogarithmic(logX);
        chart.getStyler().setYAxisLogarithmic(logY);
        chart.getStyler().setLegendVisible(series.size() > 1);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        for (Map.Entry<String, double[][]> e : series.entrySet()) {
            XYSeries s = chart.addSeries(e.getKey(), e.getValue()[0], e.getValue()[1]);
            s.setMarker(e.getValue()[0].length > 40 ? SeriesMarkers.NONE : SeriesMarkers.CIRCLE);
        }
        BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    /**
     * Two panels side by side: the heat map of log10 ‖∂L_t/∂h_k‖ over (k, t), and the mean
     * relative contribution ‖∂L_t/∂h_{t−ℓ}‖ / ‖∂L_t/∂h_t‖ (geometric mean over t) against the lag ℓ,
     * one line per report.
     */
    public static void gradientFlow(Path png, Map<String, GradientFlow.Report> reports) throws IOException {
        List<org.knowm.xchart.internal.chartpart.Chart<?, ?>> charts = new ArrayList<>();
        // One colour scale for all panels, so that they compare.
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (GradientFlow.Report r : reports.values()) {
            for (int t = 0; t < r.norms().length; t++) {
                for (int k = 0; k <= t; k++) {
                    double v = Math.log10(Math.max(r.norms()[t][k], 1e-30));
                    lo = Math.min(lo, v);
                    hi = Math.max(hi, v);
                }
            }
        }
        for (Map.Entry<String, GradientFlow.Report> e : reports.entrySet()) charts.add(heatMap(e.getKey(), e.getValue(), lo, hi));
        XYChart decay = new XYChartBuilder().width(600).height(500).title("mean contribution by lag")
                .xAxisTitle("lag t - k (steps)").yAxisTitle("||dL_t/dh_k|| / ||dL_t/dh_t||").build();
        decay.getStyler().setYAxisLogarithmic(true);
        decay.getStyler().setChartBackgroundColor(Color.WHITE);
        for (Map.Entry<String, GradientFlow.Report> e : reports.entrySet()) {
            double[] m = e.getValue().meanLogByLag();
            double[] x = new double[m.length], y = new double[m.length];
            for (int i = 0; i < m.length; i++) {
                x[i] = i;
                y[i] = Math.max(Math.exp(m[i]), 1e-30);
            }
            decay.addSeries(e.getKey() + String.format(java.util.Locale.ROOT, " (x%.2f/step, %s)", e.getValue().factorPerStep(),
                    e.getValue().verdict().name().toLowerCase(java.util.Locale.ROOT)), x, y).setMarker(SeriesMarkers.NONE);
        }
        charts.add(decay);
        BitmapEncoder.saveBitmap(charts, 1, charts.size(), png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    private static HeatMapChart heatMap(String name, GradientFlow.Report r, double lo, double hi) {
        double[][] n = r.norms();
        int steps = n.length;
        HeatMapChart chart = new HeatMapChartBuilder().width(600).height(500)
                .title(name + ": log10 ||dL_t/dh_k||").xAxisTitle("k (state)").yAxisTitle("t (loss step)").build();
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        chart.getStyler().setShowValue(false);
        chart.getStyler().setLegendVisible(true);
        chart.getStyler().setRangeColors(new Color[]{new Color(0x30, 0x12, 0x3b), new Color(0x28, 0x9b, 0xe8),
                new Color(0xa4, 0xfc, 0x3c), new Color(0xfb, 0x80, 0x22), new Color(0x7a, 0x04, 0x03)});
        chart.getStyler().setHeatMapValueDecimalPattern("0.0");
        List<Integer> xs = new ArrayList<>(), ys = new ArrayList<>();
        for (int i = 0; i < steps; i++) {
            xs.add(i);
            ys.add(i);
        }
        List<Number[]> cells = new ArrayList<>();
        for (int t = 0; t < steps; t++) {
            for (int k = 0; k <= t; k++) {
                cells.add(new Number[]{k, t, Math.log10(Math.max(n[t][k], 1e-30))});
            }
        }
        // The legend prints the range's bounds as they are: round them outwards to one decimal.
        double min = Math.floor(lo * 10) / 10, max = Math.ceil((hi > lo ? hi : lo + 1) * 10) / 10;
        chart.getStyler().setMin(min);
        chart.getStyler().setMax(max);
        chart.addSeries("log10 norm", xs, ys, cells);
        return chart;
    }
}
