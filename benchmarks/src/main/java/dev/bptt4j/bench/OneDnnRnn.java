package dev.bptt4j.bench;

import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.engine;
import org.bytedeco.dnnl.lbr_gru_backward;
import org.bytedeco.dnnl.lbr_gru_forward;
import org.bytedeco.dnnl.lstm_backward;
import org.bytedeco.dnnl.lstm_forward;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.primitive;
import org.bytedeco.dnnl.primitive_attr;
import org.bytedeco.dnnl.reorder;
import org.bytedeco.dnnl.rnn_primitive_desc_base;
import org.bytedeco.dnnl.stream;
import org.bytedeco.dnnl.vanilla_rnn_backward;
import org.bytedeco.dnnl.vanilla_rnn_forward;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

import java.util.ArrayList;
import java.util.List;

import static org.bytedeco.dnnl.global.dnnl.*;

/**
 * One layer of oneDNN's RNN primitive, trained the way bptt4j trains one: forward_training, then
 * backward with the data and weight gradients. Every call into oneDNN sits in this class.
 *
 * <p>The parameters come in PyTorch's layout and gate order and the gradients go back in it, so a
 * check can hold them against bptt4j's. PyTorch stacks the gates of W_ih as rows, (G·H, I), which is
 * oneDNN's {@code ldgoi} (layer, direction, gate, output, input); the primitive chooses its own
 * physical weight formats ({@code any}), and reorders move between the two. Gate orders: PyTorch's
 * LSTM i, f, g, o is oneDNN's i, f, c̃, o; PyTorch's GRU r, z, n is oneDNN's u, r, o reordered
 * (u = z, o = n), and PyTorch's GRU applies r to W_hn·h + b_hn, which is oneDNN's linear-before-reset
 * GRU. oneDNN has one bias per gate (b_ih + b_hh), except the lbr GRU's fourth, b_hn, which r multiplies.
 *
 * <p>Full-length batches only: oneDNN's RNN has no packed or variable-length input.
 *
 * <p>bf16: x, y, the hidden states and the weights in bfloat16 (what its brgemm kernels run on a CPU
 * with AVX-512 bf16 or AMX); the LSTM's c, the biases and every gradient (dy, dL/dx, the states' and
 * the weights') in float32, the only combination oneDNN's bf16 backward accepts.
 */
final class OneDnnRnn implements AutoCloseable {
    /** The gates G of a cell: a training step with dL/dx is 6·T·B·G·H·(I + H) FLOP of GEMMs. */
    static int gates(String mode) {
        return switch (mode) {
            case "RNN_TANH" -> 1;
            case "LSTM" -> 4;
            case "GRU" -> 3;
            default -> throw new IllegalArgumentException("mode: RNN_TANH, LSTM or GRU, got " + mode);
        };
    }

    /** oneDNN's gate g is PyTorch's gate gateOfPytorch[g]: the GRU's u, r, o are PyTorch's z, r, n. */
    private final int[] gateOfPytorch;

    private final String mode;
    private final int steps, batch, input, hidden, gates, biasGates;
    private final boolean bf16;
    private final engine cpu;
    private final stream stream;
    private final primitive forward, backward;
    private final IntMemoryMap forwardArgs = new IntMemoryMap(), backwardArgs = new IntMemoryMap();
    /** Per step: the user's weights into the forward's and the backward's formats, the weight gradients out. */
    private final List<Runnable> weightsIn = new ArrayList<>(), gradientsOut = new ArrayList<>();
    /** bf16 only: x converted in, y out (float32 runs on the user's memories directly, as do all gradients). */
    private final List<Runnable> dataIn = new ArrayList<>();
    private final Runnable yOut;
    private final List<memory> owned = new ArrayList<>();
    private final List<primitive> reorders = new ArrayList<>();
    private final String implementation;

    // User-side memories: float32, PyTorch's layouts (x, y, dy, dx as (T, B, ·); weights (G·H, ·) in oneDNN's gate order).
    private final memory userX, userY, userDy, userDx, userWeightsLayer, userWeightsIter, userBias;
    private final memory userDWeightsLayer, userDWeightsIter, diffBias, diffSrcIter, diffSrcIterC;
    // The primitive's side, where it differs (bf16 data; its own weight formats).
    private final memory x, y, dy, dx;

    OneDnnRnn(String mode, Shapes s, boolean bf16) {
        this.mode = mode;
        this.steps = s.steps;
        this.batch = s.batch;
        this.input = s.input;
        this.hidden = s.hidden;
        this.gates = gates(mode);
        this.biasGates = mode.equals("GRU") ? 4 : gates;
        this.bf16 = bf16;
        this.gateOfPytorch = mode.equals("GRU") ? new int[]{1, 0, 2} : identity(gates);
        cpu = new engine(engine.kind.cpu, 0);
        stream = new stream(cpu);

        memory.data_type f32 = memory.data_type.f32, data = bf16 ? memory.data_type.bf16 : f32;
        long T = steps, B = batch, I = input, H = hidden, G = gates;
        memory.desc xUser = desc(f32, memory.format_tag.tnc, T, B, I), yUser = desc(f32, memory.format_tag.tnc, T, B, H);
        memory.desc xData = desc(data, memory.format_tag.tnc, T, B, I), yData = desc(data, memory.format_tag.tnc, T, B, H);
        memory.desc state = desc(data, memory.format_tag.ldnc, 1, 1, B, H);
        memory.desc cellState = desc(f32, memory.format_tag.ldnc, 1, 1, B, H);
        memory.desc stateGrad = desc(f32, memory.format_tag.ldnc, 1, 1, B, H);
        memory.desc wLayerUser = desc(f32, memory.format_tag.ldgoi, 1, 1, I, G, H);
        memory.desc wIterUser = desc(f32, memory.format_tag.ldgoi, 1, 1, H, G, H);
        memory.desc wLayerAny = desc(data, memory.format_tag.any, 1, 1, I, G, H);
        memory.desc wIterAny = desc(data, memory.format_tag.any, 1, 1, H, G, H);
        memory.desc dwLayerAny = desc(f32, memory.format_tag.any, 1, 1, I, G, H);
        memory.desc dwIterAny = desc(f32, memory.format_tag.any, 1, 1, H, G, H);
        memory.desc bias = desc(f32, memory.format_tag.ldgo, 1, 1, biasGates, H);
        // oneDNN's bf16 backward takes every diff_* tensor in float32 (it refuses any other combination)
        memory.desc xGrad = xUser, yGrad = yUser;
        memory.desc none = new memory.desc();
        boolean lstm = mode.equals("LSTM");
        memory.desc c = lstm ? cellState : none, dc = lstm ? stateGrad : none;

        primitive_attr attr = new primitive_attr();
        rnn_primitive_desc_base fwdPd, bwdPd;
        prop_kind training = prop_kind.forward_training, back = prop_kind.backward;
        rnn_direction l2r = rnn_direction.unidirectional_left2right;
        switch (mode) {
            case "LSTM" -> {
                lstm_forward.primitive_desc f = new lstm_forward.primitive_desc(cpu, training, l2r, xData, state, c,
                        wLayerAny, wIterAny, bias, yData, state, c, attr, false);
                fwdPd = f;
                bwdPd = new lstm_backward.primitive_desc(cpu, back, l2r, xData, state, c, wLayerAny, wIterAny, bias,
                        yData, state, c, xGrad, stateGrad, dc, dwLayerAny, dwIterAny, bias, yGrad, stateGrad, dc, f, attr, false);
            }
            case "GRU" -> {
                lbr_gru_forward.primitive_desc f = new lbr_gru_forward.primitive_desc(cpu, training, l2r, xData, state,
                        wLayerAny, wIterAny, bias, yData, state, attr, false);
                fwdPd = f;
                bwdPd = new lbr_gru_backward.primitive_desc(cpu, back, l2r, xData, state, wLayerAny, wIterAny, bias,
                        yData, state, xGrad, stateGrad, dwLayerAny, dwIterAny, bias, yGrad, stateGrad, f, attr, false);
            }
            case "RNN_TANH" -> {
                vanilla_rnn_forward.primitive_desc f = new vanilla_rnn_forward.primitive_desc(cpu, training,
                        algorithm.eltwise_tanh, l2r, xData, state, wLayerAny, wIterAny, bias, yData, state, attr, false);
                fwdPd = f;
                bwdPd = new vanilla_rnn_backward.primitive_desc(cpu, back, algorithm.eltwise_tanh, l2r, xData, state,
                        wLayerAny, wIterAny, bias, yData, state, xGrad, stateGrad, dwLayerAny, dwIterAny, bias, yGrad,
                        stateGrad, f, attr, false);
            }
            default -> throw new IllegalArgumentException("mode: RNN_TANH, LSTM or GRU, got " + mode);
        }
        implementation = "forward " + fwdPd.impl_info_str().getString() + ", backward " + bwdPd.impl_info_str().getString();
        forward = fwdPd instanceof lstm_forward.primitive_desc f ? new lstm_forward(f)
                : fwdPd instanceof lbr_gru_forward.primitive_desc g ? new lbr_gru_forward(g)
                : new vanilla_rnn_forward((vanilla_rnn_forward.primitive_desc) fwdPd);
        backward = bwdPd instanceof lstm_backward.primitive_desc f ? new lstm_backward(f)
                : bwdPd instanceof lbr_gru_backward.primitive_desc g ? new lbr_gru_backward(g)
                : new vanilla_rnn_backward((vanilla_rnn_backward.primitive_desc) bwdPd);

        userX = zeroed(xUser);
        userY = zeroed(yUser);
        userDy = zeroed(yUser);
        userDx = zeroed(xUser);
        x = bf16 ? zeroed(xData) : userX;
        y = bf16 ? zeroed(yData) : userY;
        dy = userDy;
        dx = userDx;
        if (bf16) dataIn.add(reorderStep(userX, x));
        yOut = bf16 ? reorderStep(y, userY) : null;
        userWeightsLayer = zeroed(wLayerUser);
        userWeightsIter = zeroed(wIterUser);
        userBias = zeroed(bias);
        userDWeightsLayer = zeroed(wLayerUser);
        userDWeightsIter = zeroed(wIterUser);
        memory h0 = zeroed(state), hn = zeroed(state), dhn = zeroed(stateGrad);
        diffSrcIter = zeroed(stateGrad);
        diffBias = zeroed(bias);
        memory fwdWeightsLayer = zeroed(fwdPd.weights_layer_desc()), fwdWeightsIter = zeroed(fwdPd.weights_iter_desc());
        memory bwdWeightsLayer = zeroed(bwdPd.weights_layer_desc()), bwdWeightsIter = zeroed(bwdPd.weights_iter_desc());
        memory dWeightsLayer = zeroed(bwdPd.diff_weights_layer_desc()), dWeightsIter = zeroed(bwdPd.diff_weights_iter_desc());
        memory workspace = zeroed(fwdPd.workspace_desc());
        weightsIn.add(reorderStep(userWeightsLayer, fwdWeightsLayer));
        weightsIn.add(reorderStep(userWeightsIter, fwdWeightsIter));
        weightsIn.add(reorderStep(userWeightsLayer, bwdWeightsLayer));
        weightsIn.add(reorderStep(userWeightsIter, bwdWeightsIter));
        gradientsOut.add(reorderStep(dWeightsLayer, userDWeightsLayer));
        gradientsOut.add(reorderStep(dWeightsIter, userDWeightsIter));

        forwardArgs.put(DNNL_ARG_SRC_LAYER, x).put(DNNL_ARG_SRC_ITER, h0)
                .put(DNNL_ARG_WEIGHTS_LAYER, fwdWeightsLayer).put(DNNL_ARG_WEIGHTS_ITER, fwdWeightsIter)
                .put(DNNL_ARG_BIAS, userBias).put(DNNL_ARG_DST_LAYER, y).put(DNNL_ARG_DST_ITER, hn)
                .put(DNNL_ARG_WORKSPACE, workspace);
        backwardArgs.put(DNNL_ARG_SRC_LAYER, x).put(DNNL_ARG_SRC_ITER, h0)
                .put(DNNL_ARG_WEIGHTS_LAYER, bwdWeightsLayer).put(DNNL_ARG_WEIGHTS_ITER, bwdWeightsIter)
                .put(DNNL_ARG_BIAS, userBias).put(DNNL_ARG_DST_LAYER, y).put(DNNL_ARG_DST_ITER, hn)
                .put(DNNL_ARG_WORKSPACE, workspace)
                .put(DNNL_ARG_DIFF_DST_LAYER, dy).put(DNNL_ARG_DIFF_DST_ITER, dhn)
                .put(DNNL_ARG_DIFF_SRC_LAYER, dx).put(DNNL_ARG_DIFF_SRC_ITER, diffSrcIter)
                .put(DNNL_ARG_DIFF_WEIGHTS_LAYER, dWeightsLayer).put(DNNL_ARG_DIFF_WEIGHTS_ITER, dWeightsIter)
                .put(DNNL_ARG_DIFF_BIAS, diffBias);
        if (lstm) {
            memory c0 = zeroed(cellState), cn = zeroed(cellState), dcn = zeroed(stateGrad);
            diffSrcIterC = zeroed(stateGrad);
            forwardArgs.put(DNNL_ARG_SRC_ITER_C, c0).put(DNNL_ARG_DST_ITER_C, cn);
            backwardArgs.put(DNNL_ARG_SRC_ITER_C, c0).put(DNNL_ARG_DST_ITER_C, cn)
                    .put(DNNL_ARG_DIFF_DST_ITER_C, dcn).put(DNNL_ARG_DIFF_SRC_ITER_C, diffSrcIterC);
        } else {
            diffSrcIterC = null;
        }
    }

    /** oneDNN's kernels for this cell, e.g. "forward brgemm:avx512_core_amx, backward ref:any". */
    String implementation() {
        return implementation;
    }

    /**
     * Sets the parameters from PyTorch's tensors: weight_ih (G·H, I), weight_hh (G·H, H), bias_ih and
     * bias_hh (G·H), gates in PyTorch's order.
     */
    void setParameters(float[] weightIh, float[] weightHh, float[] biasIh, float[] biasHh) {
        write(userWeightsLayer, gatesToOneDnn(weightIh, input));
        write(userWeightsIter, gatesToOneDnn(weightHh, hidden));
        float[] b = new float[biasGates * hidden];
        float[] ih = gatesToOneDnn(biasIh, 1), hh = gatesToOneDnn(biasHh, 1);
        for (int g = 0; g < gates; g++) {
            for (int o = 0; o < hidden; o++) {
                int k = g * hidden + o;
                // the lbr GRU's candidate gate keeps b_hn apart (its fourth bias), as r multiplies it
                b[k] = mode.equals("GRU") && g == 2 ? ih[k] : ih[k] + hh[k];
            }
        }
        if (mode.equals("GRU")) System.arraycopy(hh, 2 * hidden, b, 3 * hidden, hidden);
        write(userBias, b);
    }

    /** Zeroes the weight gradients: oneDNN's backward accumulates into them, as bptt4j and PyTorch do. */
    void zeroGrad() {
        for (int arg : new int[]{DNNL_ARG_DIFF_WEIGHTS_LAYER, DNNL_ARG_DIFF_WEIGHTS_ITER, DNNL_ARG_DIFF_BIAS}) {
            memory m = backwardArgs.get(arg);
            Pointer.memset(m.get_data_handle(), 0, m.get_desc().get_size());
        }
    }

    /** x (T, B, I) and dy (T, B, H) from host arrays, converted to bf16 where the primitive runs in it. */
    void upload(float[] input, float[] outputGrad) {
        write(userX, input);
        write(userDy, outputGrad);
        for (Runnable r : dataIn) r.run();
        stream._wait();
    }

    /**
     * One training step on the tensors held here: the parameters into the primitive's formats, the
     * forward, the backward (dL/dx, dL/dh0, weight gradients accumulated), and the weight gradients
     * back in PyTorch's layout.
     */
    void trainingStep() {
        for (Runnable r : weightsIn) r.run();
        forward.execute(stream, forwardArgs);
        backward.execute(stream, backwardArgs);
        for (Runnable r : gradientsOut) r.run();
        stream._wait();
    }

    /** y (T, B, H) in a fresh host array. */
    float[] output() {
        if (yOut != null) {
            yOut.run();
            stream._wait();
        }
        return read(userY, steps * batch * hidden);
    }

    /** dL/dx (T, B, I) in a fresh host array. */
    float[] inputGradient() {
        return read(userDx, steps * batch * input);
    }

    /** dL/dh0 (B, H). */
    float[] initialHiddenGradient() {
        return read(diffSrcIter, batch * hidden);
    }

    /** dL/dc0 (B, H) of the LSTM. */
    float[] initialCellGradient() {
        return read(diffSrcIterC, batch * hidden);
    }

    /** dL/dW_ih in PyTorch's layout (G·H, I) and gate order. */
    float[] weightIhGradient() {
        return gatesToPytorch(read(userDWeightsLayer, gates * hidden * input), input);
    }

    /** dL/dW_hh in PyTorch's layout (G·H, H) and gate order. */
    float[] weightHhGradient() {
        return gatesToPytorch(read(userDWeightsIter, gates * hidden * hidden), hidden);
    }

    /** dL/db_ih (G·H): the gradient of each gate's summed bias; the GRU's n gate has its own. */
    float[] biasIhGradient() {
        return gatesToPytorch(java.util.Arrays.copyOf(read(diffBias, biasGates * hidden), gates * hidden), 1);
    }

    /** dL/db_hh (G·H): the same sums as db_ih, except the GRU's b_hn, oneDNN's fourth bias. */
    float[] biasHhGradient() {
        float[] d = read(diffBias, biasGates * hidden);
        if (mode.equals("GRU")) System.arraycopy(d, 3 * hidden, d, 2 * hidden, hidden);
        return gatesToPytorch(java.util.Arrays.copyOf(d, gates * hidden), 1);
    }

    @Override
    public void close() {
        forwardArgs.close();
        backwardArgs.close();
        for (primitive p : reorders) p.close();
        for (memory m : owned) m.close();
        forward.close();
        backward.close();
        stream.close();
        cpu.close();
    }

    private static int[] identity(int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        return p;
    }

    /** PyTorch's (G·H, cols) with its gate order → the same layout in oneDNN's gate order. */
    private float[] gatesToOneDnn(float[] pytorch, int cols) {
        float[] out = new float[pytorch.length];
        for (int g = 0; g < gates; g++) {
            System.arraycopy(pytorch, gateOfPytorch[g] * hidden * cols, out, g * hidden * cols, hidden * cols);
        }
        return out;
    }

    private float[] gatesToPytorch(float[] onednn, int cols) {
        float[] out = new float[onednn.length];
        for (int g = 0; g < gates; g++) {
            System.arraycopy(onednn, g * hidden * cols, out, gateOfPytorch[g] * hidden * cols, hidden * cols);
        }
        return out;
    }

    private static memory.desc desc(memory.data_type type, memory.format_tag tag, long... dims) {
        return new memory.desc(dims, type, tag);
    }

    private memory zeroed(memory.desc d) {
        memory m = new memory(d, cpu);
        long bytes = d.get_size();
        if (bytes > 0) Pointer.memset(m.get_data_handle(), 0, bytes);
        owned.add(m);
        return m;
    }

    private Runnable reorderStep(memory from, memory to) {
        reorder r = new reorder(from, to);
        reorders.add(r);
        return () -> r.execute(stream, from, to);
    }

    private static void write(memory m, float[] values) {
        new FloatPointer(m.get_data_handle()).put(values, 0, values.length);
    }

    private static float[] read(memory m, int n) {
        float[] v = new float[n];
        new FloatPointer(m.get_data_handle()).get(v, 0, n);
        return v;
    }
}
