package dev.bptt4j.model;

import dev.bptt4j.cell.States;

import dev.bptt4j.BackendsUnderTest;
import dev.bptt4j.backend.Backend;
import java.util.List;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Float64 central differences of L = Σ y·dy + Σ hn·dhn [+ Σ cn·dcn] against the analytic BPTT
 * gradients, on random small configurations of every mode (Elman tanh/relu and the residual cell,
 * LSTM with c0 and dcn, GRU), on every backend under test. Each gradient tensor must agree within
 * 1e-6 relative to its norm.
 */
class GradientCheckTest {
    private static final double TOLERANCE = 1e-6;
    private static final double STEP = 1e-6;
    private static final BackendsUnderTest backends = new BackendsUnderTest();
    /** The backend of the running test (JUnit runs this class's tests one at a time). */
    private static Backend backend;

    @AfterAll
    static void shut() {
        backends.close();
    }

    private static void use(String name) {
        backend = backends.get(name);
        System.out.println("backend " + name);
    }

    private static Stream<Arguments> seeds(int count) {
        return BackendsUnderTest.names().flatMap(b -> java.util.stream.LongStream.rangeClosed(1, count).mapToObj(seed -> Arguments.of(b, seed)));
    }

    static Stream<Arguments> elmanSeeds() {
        return seeds(12);
    }

    static Stream<Arguments> gatedSeeds() {
        return seeds(10);
    }

    /** The inputs of one configuration; c0 and dcn are null except for the LSTM. */
    private record Inputs(Tensor x, Tensor h0, Tensor c0, int[] lengths, Tensor dy, Tensor dhn, Tensor dcn) {
        Inputs withX(Tensor v) {
            return new Inputs(v, h0, c0, lengths, dy, dhn, dcn);
        }

        Inputs withH0(Tensor v) {
            return new Inputs(x, v, c0, lengths, dy, dhn, dcn);
        }

        Inputs withC0(Tensor v) {
            return new Inputs(x, h0, v, lengths, dy, dhn, dcn);
        }
    }

    @ParameterizedTest(name = "{0} Elman seed {1}")
    @MethodSource("elmanSeeds")
    void elmanGradientsMatchCentralDifferences(String backendName, long seed) {
        use(backendName);
        check(seed, seed % 2 == 0 ? RnnMode.RNN_RELU : RnnMode.RNN_TANH, seed == 7 || seed == 12);
    }

    @ParameterizedTest(name = "{0} LSTM seed {1}")
    @MethodSource("gatedSeeds")
    void lstmGradientsMatchCentralDifferences(String backendName, long seed) {
        use(backendName);
        check(seed, RnnMode.LSTM, false);
    }

    @ParameterizedTest(name = "{0} GRU seed {1}")
    @MethodSource("gatedSeeds")
    void gruGradientsMatchCentralDifferences(String backendName, long seed) {
        use(backendName);
        check(seed, RnnMode.GRU, false);
    }

    /** LSTM with projections: h (and y, h0, dhn, W_hh's columns) P wide, c H wide, weight_hr (P, H). */
    @ParameterizedTest(name = "{0} LSTM with projection seed {1}")
    @MethodSource("gatedSeeds")
    void projectedLstmGradientsMatchCentralDifferences(String backendName, long seed) {
        use(backendName);
        RandomCases rc = new RandomCases(seed * 101 + 7);
        int hidden = 2 + rc.nextInt(4), proj = 1 + rc.nextInt(hidden - 1);
        int steps = 2 + rc.nextInt(4), batch = 1 + rc.nextInt(4), input = 1 + rc.nextInt(4);
        RnnConfig cfg = new RnnConfig(RnnMode.LSTM, input, hidden, 1 + (int) (seed % 3), (seed / 2) % 2 == 1, seed % 5 != 0, DType.F64, false, proj);
        check(seed, rc, cfg, steps, batch, (seed / 3) % 2 == 0 ? rc.lengths(batch, steps) : null);
    }

    private static void check(long seed, RnnMode mode, boolean residual) {
        RandomCases rc = new RandomCases(mode.isElman() ? seed : seed * 31 + mode.ordinal());
        int layers = 1 + (int) (seed % 3);
        boolean bidirectional = (seed / 2) % 2 == 1;
        boolean bias = seed % 5 != 0;
        boolean withLengths = (seed / 3) % 2 == 0;
        int steps = 2 + rc.nextInt(4), batch = 1 + rc.nextInt(4), input = 1 + rc.nextInt(4), hidden = 1 + rc.nextInt(4);
        RnnConfig cfg = new RnnConfig(mode, input, hidden, layers, bidirectional, bias, DType.F64, residual);
        int[] lengths = withLengths ? rc.lengths(batch, steps) : null;
        check(seed, rc, cfg, steps, batch, lengths);
    }

    /**
     * Edge shapes: every size 1; every length 1; lengths given and all equal to T; hidden sizes
     * that are not a multiple of the vector width (17, 33), for each mode, one and two layers.
     */
    static Stream<Arguments> edgeCases() {
        List<Arguments> shapes = edgeShapes().toList();
        return BackendsUnderTest.names().flatMap(b -> shapes.stream().map(a -> {
            Object[] v = a.get();
            return Arguments.of(b, v[0], v[1], v[2], v[3], v[4]);
        }));
    }

    private static Stream<Arguments> edgeShapes() {
        return Stream.of(
                Arguments.of("T=B=I=H=1 tanh", RnnConfig.of(RnnMode.RNN_TANH, 1, 1), 1, 1, null),
                Arguments.of("T=B=I=H=1 LSTM", RnnConfig.of(RnnMode.LSTM, 1, 1), 1, 1, null),
                Arguments.of("T=B=I=H=1 GRU", RnnConfig.of(RnnMode.GRU, 1, 1), 1, 1, null),
                Arguments.of("T=B=I=H=1 GRU 2 layers bi", RnnConfig.of(RnnMode.GRU, 1, 1).withLayers(2).withBidirectional(true), 1, 1, new int[]{1}),
                Arguments.of("every length 1 relu bi", RnnConfig.of(RnnMode.RNN_RELU, 2, 3).withLayers(2).withBidirectional(true), 4, 3, new int[]{1, 1, 1}),
                Arguments.of("every length 1 LSTM", RnnConfig.of(RnnMode.LSTM, 2, 3).withBidirectional(true), 4, 3, new int[]{1, 1, 1}),
                Arguments.of("every length 1 GRU", RnnConfig.of(RnnMode.GRU, 2, 3).withLayers(2), 3, 2, new int[]{1, 1}),
                Arguments.of("lengths all T tanh bi", RnnConfig.of(RnnMode.RNN_TANH, 2, 3).withLayers(2).withBidirectional(true), 3, 3, new int[]{3, 3, 3}),
                Arguments.of("lengths all T LSTM", RnnConfig.of(RnnMode.LSTM, 2, 2).withLayers(2), 3, 2, new int[]{3, 3}),
                Arguments.of("H=33 tanh", RnnConfig.of(RnnMode.RNN_TANH, 3, 33), 3, 2, new int[]{3, 2}),
                Arguments.of("H=17 LSTM", RnnConfig.of(RnnMode.LSTM, 3, 17), 3, 2, new int[]{2, 3}),
                Arguments.of("H=17 GRU bi", RnnConfig.of(RnnMode.GRU, 2, 17).withBidirectional(true), 2, 2, null));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("edgeCases")
    void edgeShapesMatchCentralDifferences(String backendName, String label, RnnConfig cfg, int steps, int batch, int[] lengths) {
        use(backendName);
        System.out.println(label);
        check(label.hashCode(), new RandomCases(label.hashCode()), cfg, steps, batch, lengths);
        if (lengths != null && java.util.Arrays.stream(lengths).allMatch(l -> l == steps)) {
            // Lengths all equal to T are the same run as no lengths, bit for bit.
            try (Rnn rnn = new Rnn(cfg, backend)) {
                rnn.initialize(5);
                RandomCases rc = new RandomCases(9);
                Tensor x = rc.uniform(DType.F64, 1, steps, batch, cfg.inputSize());
                Tensor a, b;
                try (Rnn.Pass pass = rnn.forward(x, States.ZEROS, lengths)) {
                    a = pass.output();
                }
                try (Rnn.Pass pass = rnn.forward(x, States.ZEROS, null)) {
                    b = pass.output();
                }
                assertTrue(java.util.Arrays.equals(a.f64(), b.f64()), label + ": lengths all T differ from no lengths");
            }
        }
    }

    private static void check(long seed, RandomCases rc, RnnConfig cfg, int steps, int batch, int[] lengths) {
        RnnMode mode = cfg.mode();
        int layers = cfg.numLayers(), input = cfg.inputSize(), hidden = cfg.hiddenSize();
        boolean bidirectional = cfg.bidirectional(), bias = cfg.bias(), residual = cfg.residual();
        int states = layers * cfg.directions();
        boolean lstm = mode == RnnMode.LSTM;
        int width = cfg.cell().outputSize(); // h: H, or P with projections
        Tensor dy = rc.uniform(DType.F64, 1, steps, batch, cfg.directions() * width);
        RandomCases.maskPadding(dy, lengths);
        Inputs in = new Inputs(rc.uniform(DType.F64, 1, steps, batch, input), rc.uniform(DType.F64, 0.5, states, batch, width),
                lstm ? rc.uniform(DType.F64, 0.5, states, batch, hidden) : null, lengths, dy,
                rc.uniform(DType.F64, 1, states, batch, width), lstm ? rc.uniform(DType.F64, 1, states, batch, hidden) : null);
        System.out.printf("seed %d: %s T=%d B=%d I=%d H=%d P=%d L=%d bi=%b bias=%b residual=%b lengths=%s%n", seed, mode, steps,
                batch, input, hidden, cfg.projSize(), layers, bidirectional, bias, residual, java.util.Arrays.toString(lengths));

        try (Rnn rnn = new Rnn(cfg, backend)) {
            rnn.initialize(seed);
            Rnn.InputGradients g;
            try (Rnn.Pass pass = rnn.forward(in.x(), States.of("h", in.h0(), "c", in.c0()), lengths)) {
                g = pass.backward(in.dy(), States.of("h", in.dhn(), "c", in.dcn()), true);
            }
            Map<String, Tensor> grads = rnn.gradients();
            Map<String, Tensor> params = rnn.stateDict();
            for (String name : rnn.parameterNames()) {
                Tensor p = params.get(name);
                Tensor numeric = Tensor.zeros(DType.F64, p.shape());
                for (int i = 0; i < p.size(); i++) {
                    double orig = p.getDouble(i);
                    p.setDouble(i, orig + STEP);
                    rnn.setParameter(name, p);
                    double plus = loss(rnn, in);
                    p.setDouble(i, orig - STEP);
                    rnn.setParameter(name, p);
                    double minus = loss(rnn, in);
                    p.setDouble(i, orig);
                    rnn.setParameter(name, p);
                    numeric.setDouble(i, (plus - minus) / (2 * STEP));
                }
                assertClose(name, grads.get(name), numeric);
            }
            assertClose("x", g.input(), numeric(rnn, in.x(), in::withX));
            assertClose("h0", g.initialHidden(), numeric(rnn, in.h0(), in::withH0));
            if (lstm) assertClose("c0", g.initialStates().cell(), numeric(rnn, in.c0(), in::withC0));
        }
    }

    private static Tensor numeric(Rnn rnn, Tensor target, java.util.function.Function<Tensor, Inputs> with) {
        Tensor numeric = Tensor.zeros(DType.F64, target.shape());
        Tensor work = target.copy();
        for (int i = 0; i < work.size(); i++) {
            double orig = work.getDouble(i);
            work.setDouble(i, orig + STEP);
            double plus = loss(rnn, with.apply(work));
            work.setDouble(i, orig - STEP);
            double minus = loss(rnn, with.apply(work));
            work.setDouble(i, orig);
            numeric.setDouble(i, (plus - minus) / (2 * STEP));
        }
        return numeric;
    }

    private static double loss(Rnn rnn, Inputs in) {
        try (Rnn.Pass pass = rnn.forward(in.x(), States.of("h", in.h0(), "c", in.c0()), in.lengths())) {
            return dot(pass.output(), in.dy()) + dot(pass.finalStates().hidden(), in.dhn())
                    + (in.dcn() == null ? 0 : dot(pass.finalStates().cell(), in.dcn()));
        }
    }

    private static double dot(Tensor a, Tensor b) {
        double s = 0;
        for (int i = 0; i < a.size(); i++) s += a.getDouble(i) * b.getDouble(i);
        return s;
    }

    private static void assertClose(String name, Tensor analytic, Tensor numeric) {
        double scale = Math.max(numeric.norm(), 1e-12);
        double diff = 0;
        for (int i = 0; i < numeric.size(); i++) diff = Math.max(diff, Math.abs(analytic.getDouble(i) - numeric.getDouble(i)));
        double rel = diff / scale;
        System.out.printf("  %-22s max |analytic - numeric| / ||numeric|| = %.2e (tolerance %.0e)%n", name, rel, TOLERANCE);
        assertTrue(rel <= TOLERANCE, name + ": relative difference " + rel + " exceeds " + TOLERANCE);
    }
}
