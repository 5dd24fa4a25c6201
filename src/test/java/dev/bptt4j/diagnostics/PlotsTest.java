package dev.bptt4j.diagnostics;

import org.junit.jupiter.api.Test;
import org.knowm.xchart.XYChart;

import javax.imageio.ImageIO;
import java.awt.Graphics2D;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The figures' layout, against the defects users reported: heat-map tick labels that ran together
 * ({@code 10111213…}), colour bars without a label, a lag axis labelled "10" alone, and a line
 * panel squeezed to a sliver by its legend in the 3000×500 long-range figure. The figures are
 * also written to target/test-figures to be looked at.
 */
class PlotsTest {
    private static final Path FIGURES = Path.of("target", "test-figures");

    /** A vanishing flow of T steps: ‖∂L_t/∂h_k‖ = 0.6^(t−k). */
    static GradientFlow.Flow decaying(int layer, int direction, int steps, double factor) {
        double[][] n = new double[steps][steps];
        for (int t = 0; t < steps; t++) {
            for (int k = 0; k < steps; k++) n[t][k] = k <= t ? Math.pow(factor, t - k) : Double.NaN;
        }
        return GradientFlow.flow(layer, direction, n);
    }

    static GradientFlow.Report report(int layers, int directions, int steps) {
        List<GradientFlow.Flow> flows = new ArrayList<>();
        for (int l = 0; l < layers; l++) for (int d = 0; d < directions; d++) flows.add(decaying(l, d, steps, 0.6 + 0.1 * l + 0.05 * d));
        return new GradientFlow.Report(layers, directions, flows);
    }

    private static HeatMapPanel painted(int steps) {
        HeatMapPanel panel = new HeatMapPanel("T = " + steps, "k (state step)", "t (loss step)", decaying(0, 0, steps, 0.6).norms(),
                Math.log10(Math.pow(0.6, steps - 1)), 0);
        BufferedImage image = new BufferedImage(Plots.HEAT_WIDTH, Plots.HEAT_HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        panel.paint(g, Plots.HEAT_WIDTH, Plots.HEAT_HEIGHT);
        g.dispose();
        return panel;
    }

    private static List<HeatMapPanel.Text> parts(HeatMapPanel panel, HeatMapPanel.Part part) {
        return panel.drawn().stream().filter(t -> t.part() == part).toList();
    }

    /**
     * With 24, 40 and 80 steps on a 600-pixel panel the labels are a subset at a constant step of
     * 1, 2, 5, 10, … starting at 0, at least 4 pixels apart on both axes, and each centred on its
     * cell; with 8 steps every step is labelled.
     */
    @Test
    void heatMapTickLabelsNeverRunTogether() {
        for (int steps : new int[]{8, 24, 40, 80}) {
            HeatMapPanel panel = painted(steps);
            List<HeatMapPanel.Text> xs = parts(panel, HeatMapPanel.Part.X_TICK), ys = parts(panel, HeatMapPanel.Part.Y_TICK);
            for (List<HeatMapPanel.Text> ticks : List.of(xs, ys)) {
                assertEquals("0", ticks.get(0).text(), steps + " steps: the first label is 0");
                int step = Integer.parseInt(ticks.get(1).text());
                assertTrue(List.of(1, 2, 5, 10, 20).contains(step), steps + " steps: step " + step);
                for (int i = 0; i < ticks.size(); i++) assertEquals(String.valueOf(i * step), ticks.get(i).text());
                assertEquals((steps - 1) / step + 1, ticks.size(), steps + " steps: every multiple of the step is labelled");
                if (steps == 8) assertEquals(1, step, "few steps: every one labelled");
                if (steps >= 24) assertTrue(step > 1, steps + " steps: a subset");
            }
            for (int i = 1; i < xs.size(); i++) {
                Rectangle2D a = xs.get(i - 1).bounds(), b = xs.get(i).bounds();
                assertTrue(b.getMinX() - a.getMaxX() >= 4, steps + " steps: x labels " + xs.get(i - 1).text() + " and " + xs.get(i).text()
                        + " are " + (b.getMinX() - a.getMaxX()) + " px apart");
                assertEquals(xs.get(1).bounds().getCenterX() - xs.get(0).bounds().getCenterX(), b.getCenterX() - a.getCenterX(), 1.0, "evenly spaced");
            }
            for (int i = 1; i < ys.size(); i++) {
                Rectangle2D a = ys.get(i - 1).bounds(), b = ys.get(i).bounds();
                assertTrue(a.getMinY() - b.getMaxY() >= 4, steps + " steps: y labels " + ys.get(i - 1).text() + " and " + ys.get(i).text() + " overlap");
            }
        }
    }

    /** The colour bar is labelled log10 ‖∂L_t/∂h_k‖, beside its tick labels, inside the panel. */
    @Test
    void colourBarIsLabelled() {
        HeatMapPanel panel = painted(20);
        List<HeatMapPanel.Text> label = parts(panel, HeatMapPanel.Part.BAR_LABEL), ticks = parts(panel, HeatMapPanel.Part.BAR_TICK);
        assertEquals(1, label.size());
        assertTrue(List.of("log10 ‖∂L_t/∂h_k‖", "log10 ||dL_t/dh_k||").contains(label.get(0).text()), label.get(0).text());
        assertTrue(ticks.size() >= 3, "colour-bar ticks: " + ticks);
        Rectangle2D box = label.get(0).bounds();
        for (HeatMapPanel.Text t : ticks) assertTrue(box.getMinX() > t.bounds().getMaxX(), "the label is right of the tick " + t.text());
        assertTrue(box.getMaxX() <= Plots.HEAT_WIDTH && box.getMinY() >= 0 && box.getMaxY() <= Plots.HEAT_HEIGHT, "inside the panel: " + box);
        // 0.6^19 = 6e-5: ticks at the integers -4..0.
        assertEquals(List.of("-4", "-3", "-2", "-1", "0"), ticks.stream().map(HeatMapPanel.Text::text).toList());
        assertEquals(List.of(-0.8, -0.6, -0.4, -0.2, 0.0), java.util.Arrays.stream(HeatMapPanel.colourTicks(-0.9, 0.05, 7)).map(v -> Math.round(v * 10) / 10.0).boxed().toList());
    }

    /** Reads an XChart axis's tick labels after painting (XChart keeps them internal). */
    @SuppressWarnings("unchecked")
    static List<String> xTickLabels(XYChart chart) throws Exception {
        Object axis = axisPair(chart).getClass().getMethod("getXAxis").invoke(axisPair(chart));
        Object calculator = axis.getClass().getMethod("getAxisTickCalculator").invoke(axis);
        return (List<String>) calculator.getClass().getMethod("getTickLabels").invoke(calculator);
    }

    private static Object internal(Object chart, String name) throws Exception {
        for (Class<?> c = chart.getClass(); c != null; c = c.getSuperclass()) {
            try {
                Field f = c.getDeclaredField(name);
                f.setAccessible(true);
                return f.get(chart);
            } catch (NoSuchFieldException e) {
                // up the hierarchy
            }
        }
        throw new NoSuchFieldException(name);
    }

    private static Object axisPair(XYChart chart) throws Exception {
        return internal(chart, "axisPair");
    }

    private static Rectangle2D plotBounds(XYChart chart) throws Exception {
        Object plot = internal(chart, "plot");
        return (Rectangle2D) plot.getClass().getMethod("getBounds").invoke(plot);
    }

    private static void paint(XYChart chart, int width, int height) {
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        chart.paint(g, width, height);
        g.dispose();
    }

    /** The long-range demo's lags on a log axis are each a labelled tick (XChart's log axis labelled only "10"). */
    @Test
    void lagAxisLabelsEveryLag() throws Exception {
        double[] lags = {5, 10, 20, 40, 80};
        Map<String, double[][]> series = new LinkedHashMap<>();
        series.put("tanh RNN", new double[][]{lags, {100, 100, 30, 25, 25}});
        series.put("chance", new double[][]{lags, {25, 25, 25, 25, 25}});
        XYChart chart = Plots.linesChart("accuracy", "lag (steps)", "accuracy (%)", series, true, false);
        paint(chart, 900, 500);
        assertEquals(List.of("5", "10", "20", "40", "80"), xTickLabels(chart));
        Files.createDirectories(FIGURES);
        Plots.lines(FIGURES.resolve("lags.png"), "accuracy", "lag (steps)", "accuracy (%)", series, true, false);
        // Two lags, as the demo's test runs it.
        Map<String, double[][]> two = Map.of("tanh RNN", new double[][]{{3, 6}, {100, 50}});
        XYChart small = Plots.linesChart("accuracy", "lag (steps)", "accuracy (%)", two, true, false);
        paint(small, 900, 500);
        assertEquals(List.of("3", "6"), xTickLabels(small));
    }

    /**
     * The long-range figure (four one-layer reports) keeps its line panel wide: the heat maps two a
     * row and the line panel across the figure with its legend below, so its plot spans at least
     * 80 % of its width (at 600 pixels with the legend beside it, 199 of 600).
     */
    @Test
    void linePanelIsNotSqueezed() throws Exception {
        Map<String, GradientFlow.Report> reports = new LinkedHashMap<>();
        for (String name : new String[]{"tanh RNN, lag 20", "residual RNN, lag 20", "LSTM, lag 20", "GRU, lag 20"}) reports.put(name, report(1, 1, 20));
        Plots.Layout layout = Plots.layout(reports);
        assertEquals(1200, layout.width());
        assertEquals(4, layout.heatMaps().size());
        assertEquals(List.of(0, 600, 0, 600), layout.heatMaps().stream().map(Plots.Placed::x).toList());
        assertEquals(List.of(0, 0, 500, 500), layout.heatMaps().stream().map(Plots.Placed::y).toList());
        XYChart line = Plots.decayChart(reports, layout.width(), layout.lineHeight());
        paint(line, layout.width(), layout.lineHeight());
        Rectangle2D plot = plotBounds(line);
        assertTrue(plot.getWidth() >= 0.8 * layout.width(), "line plot " + plot.getWidth() + " of " + layout.width() + " px");
        assertTrue(plot.getHeight() >= 0.5 * Plots.LINE_HEIGHT, "line plot height " + plot.getHeight());
        BufferedImage image = Plots.gradientFlowImage(reports);
        assertEquals(layout.width(), image.getWidth());
        assertEquals(layout.height(), image.getHeight());
        Files.createDirectories(FIGURES);
        ImageIO.write(image, "png", FIGURES.resolve("long-range-layout.png").toFile());
    }

    /** One heat map per layer-direction, a row per report; the reverse direction's axes say their steps count from the end. */
    @Test
    void onePanelPerLayerDirection() throws Exception {
        Map<String, GradientFlow.Report> reports = new LinkedHashMap<>();
        reports.put("initial", report(2, 2, 12));
        reports.put("trained", report(2, 2, 12));
        Plots.Layout layout = Plots.layout(reports);
        assertEquals(8, layout.heatMaps().size());
        assertEquals(4 * Plots.HEAT_WIDTH, layout.width());
        assertEquals(2 * Plots.HEAT_HEIGHT, layout.lineY());
        Files.createDirectories(FIGURES);
        Path png = FIGURES.resolve("gradient-flow-2x2.png");
        Plots.gradientFlow(png, reports);
        BufferedImage image = ImageIO.read(png.toFile());
        assertEquals(layout.width(), image.getWidth());
        List<String> titles = new ArrayList<>();
        for (Plots.Placed p : layout.heatMaps()) {
            p.panel().paint(image.createGraphics(), Plots.HEAT_WIDTH, Plots.HEAT_HEIGHT);
            List<HeatMapPanel.Text> drawn = p.panel().drawn();
            titles.add(drawn.stream().filter(t -> t.part() == HeatMapPanel.Part.TITLE).findFirst().orElseThrow().text());
            String xTitle = drawn.stream().filter(t -> t.part() == HeatMapPanel.Part.X_TITLE).findFirst().orElseThrow().text();
            assertEquals(titles.get(titles.size() - 1).endsWith("reverse"), xTitle.contains("counted from the end"), xTitle);
        }
        assertEquals(List.of("initial: layer 0 forward", "initial: layer 0 reverse", "initial: layer 1 forward", "initial: layer 1 reverse",
                "trained: layer 0 forward", "trained: layer 0 reverse", "trained: layer 1 forward", "trained: layer 1 reverse"), titles);
        XYChart line = Plots.decayChart(reports, layout.width(), layout.lineHeight());
        assertEquals(8, line.getSeriesMap().size());
        assertTrue(line.getSeriesMap().containsKey("trained, layer 1 reverse (x0.75/step, vanishing)"), line.getSeriesMap().keySet().toString());
    }

    /** A demo too short for one step crashed in XChart ("Y-Axis data cannot be empty") and left its figure unwritten. */
    @Test
    void seriesWithoutPointsAreLeftOutAndAChartWithNoneSaysSo() throws Exception {
        Files.createDirectories(FIGURES);
        Map<String, double[][]> some = new LinkedHashMap<>();
        some.put("training", new double[][]{{}, {}});
        some.put("validation", new double[][]{{0, 1}, {4.1, 4.0}});
        Path png = FIGURES.resolve("lines-one-empty.png");
        Plots.lines(png, "loss", "step", "nats", some, false);
        assertTrue(ImageIO.read(png.toFile()).getWidth() == 900, "written");
        XYChart chart = Plots.linesChart("loss", "step", "nats", some, false, false);
        assertEquals(List.of("validation"), new ArrayList<>(chart.getSeriesMap().keySet()));

        Map<String, double[][]> none = new LinkedHashMap<>();
        none.put("training", new double[][]{{}, {}});
        Path empty = FIGURES.resolve("lines-no-data.png");
        Plots.lines(empty, "loss", "step", "nats", none, true);
        assertTrue(ImageIO.read(empty.toFile()).getWidth() == 900, "written");
        assertEquals("loss (no data)", Plots.linesChart("loss", "step", "nats", none, false, true).getTitle());
    }
}
