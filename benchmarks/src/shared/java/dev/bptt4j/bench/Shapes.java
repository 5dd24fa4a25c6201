package dev.bptt4j.bench;

/**
 * The benchmark configurations, as one {@code @Param} string "TxBxIxH" so that JMH runs a list of
 * shapes rather than the cross product of four lists.
 */
final class Shapes {
    final int steps, batch, input, hidden;

    private Shapes(int steps, int batch, int input, int hidden) {
        this.steps = steps;
        this.batch = batch;
        this.input = input;
        this.hidden = hidden;
    }

    static Shapes parse(String config) {
        String[] p = config.split("x");
        if (p.length != 4) throw new IllegalArgumentException("config: expected TxBxIxH, got " + config);
        return new Shapes(Integer.parseInt(p[0]), Integer.parseInt(p[1]), Integer.parseInt(p[2]), Integer.parseInt(p[3]));
    }

    /** FLOP of one training step with dL/dx: 6·T·B·H·(I + H). */
    double flop() {
        return 6.0 * steps * batch * hidden * (input + hidden);
    }

    static float[] random(java.util.SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextDouble() * 2 - 1);
        return v;
    }
}
