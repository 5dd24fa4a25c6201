package dev.bptt4j.model;

import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.cell.States;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.Backends;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * {@link Rnn.Pass#outputOnDevice()} after a host forward holds y as {@link Rnn.Pass#output()}
 * returns it, for the layouts whose host y never passes through the padded device copy (a full
 * one-direction batch, a packed one) and for two directions, after a second forward with other
 * inputs (so a copy left from the earlier pass would show).
 */
class PassOutputBufferTest {
    @Test
    void theDeviceOutputOfAHostForwardIsY() {
        for (String device : new String[]{"cpu", "cuda-emulated"}) {
            check(device, RnnConfig.of(RnnMode.RNN_TANH, 3, 5).withDType(DType.F64), null);
            check(device, RnnConfig.of(RnnMode.RNN_TANH, 3, 5).withDType(DType.F64), new int[]{2, 4, 1});
            check(device, RnnConfig.of(RnnMode.GRU, 3, 5).withBidirectional(true).withDType(DType.F64), new int[]{2, 4, 1});
        }
    }

    private static void check(String device, RnnConfig config, int[] lengths) {
        int steps = 4, batch = 3;
        SplittableRandom random = new SplittableRandom(5);
        try (Backend backend = Backends.create(device); Rnn rnn = new Rnn(config, backend)) {
            rnn.initialize(1);
            for (int call = 0; call < 2; call++) {
                Tensor x = Tensor.zeros(DType.F64, steps, batch, config.inputSize());
                for (int i = 0; i < x.size(); i++) x.f64()[i] = random.nextDouble() * 2 - 1;
                try (Rnn.Pass pass = rnn.forward(x, States.ZEROS, lengths)) {
                    Tensor onDevice = backend.download(pass.outputOnDevice(), steps, batch, config.directions() * config.hiddenSize());
                    assertArrayEquals(pass.output().f64(), onDevice.f64(),
                            device + " " + config.mode() + " lengths " + java.util.Arrays.toString(lengths) + " call " + call);
                }
            }
        }
    }
}
