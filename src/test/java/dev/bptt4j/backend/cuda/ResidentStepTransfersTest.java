package dev.bptt4j.backend.cuda;

import dev.bptt4j.backend.Packing;

import dev.bptt4j.cell.States;

import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.backend.cuda.EmulatedCudaApi.Event;
import dev.bptt4j.backend.cuda.EmulatedCudaApi.Kind;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.model.RnnMode;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * What crosses between host and device in a warmed-up training step whose x, dy and dL/dx live on
 * the device (Rnn.forwardOnDevice with a DeviceSlice): for a full one-direction batch nothing but
 * dL/dh0 comes back (one synchronisation), and no device-to-device copy of x, y, dy or dL/dx is
 * made; the host-tensor step moves x and dy in and y, hn, dL/dx and dL/dh0 out.
 */
class ResidentStepTransfersTest {
    private static final int T = 6, B = 4, I = 5, H = 7;

    @Test
    void aResidentStepMovesOnlyTheInitialStateGradient() {
        Random r = new Random(11);
        Tensor x = random(r, T, B, I), dy = random(r, T, B, H);
        EmulatedCudaApi device = new EmulatedCudaApi();
        RnnConfig config = RnnConfig.of(RnnMode.RNN_TANH, I, H).withDType(DType.F64);
        try (CudaBackend backend = new CudaBackend(device, "cuda-emulated"); Rnn rnn = new Rnn(config, backend);
             DeviceBuffer xs = backend.allocate(DType.F64, x.size()); DeviceBuffer dys = backend.allocate(DType.F64, dy.size());
             DeviceBuffer dxs = backend.allocate(DType.F64, x.size())) {
            rnn.initialize(3);
            backend.upload(x, DeviceSlice.of(xs));
            backend.upload(dy, DeviceSlice.of(dys));
            for (int warmup = 0; warmup < 2; warmup++) residentStep(rnn, xs, dys, dxs);

            device.setRecording(true);
            residentStep(rnn, xs, dys, dxs);
            List<Event> step = List.copyOf(device.events());
            device.setRecording(false);
            device.clearEvents();

            assertEquals(0, bytes(step, Kind.HOST_TO_DEVICE), "host→device bytes of a resident step: " + step);
            assertEquals((long) B * H * Double.BYTES, bytes(step, Kind.DEVICE_TO_HOST), "device→host bytes: dL/dh0 only");
            assertEquals(1, step.stream().filter(e -> e.kind() == Kind.SYNCHRONIZE).count(), "one synchronisation (dL/dh0)");
            assertEquals(0, step.stream().filter(e -> e.kind() == Kind.ALLOCATE || e.kind() == Kind.FREE).count(), "no allocation");
            // The row gathers are the B-row state moves (h0 into the storage, hn out of it, dhn into
            // the carry, the carry into dL/dh0); one of x, dy, y or dL/dx would make a fifth.
            assertEquals(4, step.stream().filter(e -> e.kind() == Kind.LAUNCH && e.kernel() == CudaKernel.of(Packing.GATHER_ROWS, DType.F64)).count(),
                    "row gathers of a resident step: " + step);

            device.setRecording(true);
            try (Rnn.Pass pass = rnn.forward(x, States.ZEROS, null)) {
                pass.output();
                pass.finalStates().hidden();
                pass.backward(dy, States.ZEROS, true);
            }
            List<Event> hostStep = List.copyOf(device.events());
            device.setRecording(false);
            assertEquals((long) (x.size() + dy.size()) * Double.BYTES, bytes(hostStep, Kind.HOST_TO_DEVICE), "host step: x and dy in");
            assertEquals((long) (T * B * H + B * H + x.size() + B * H) * Double.BYTES, bytes(hostStep, Kind.DEVICE_TO_HOST),
                    "host step: y, hn, dL/dx and dL/dh0 out");
        }
        device.checkNoLeaks();
    }

    private static void residentStep(Rnn rnn, DeviceBuffer xs, DeviceBuffer dys, DeviceBuffer dxs) {
        try (Rnn.Pass pass = rnn.forwardOnDevice(new DeviceSlice(xs, 0), T, B, States.ZEROS, null)) {
            pass.outputOnDevice();
            pass.backwardOnDevice(new DeviceSlice(dys, 0), States.ZEROS, new DeviceSlice(dxs, 0));
        }
    }

    private static long bytes(List<Event> events, Kind kind) {
        return events.stream().filter(e -> e.kind() == kind).mapToLong(Event::bytes).sum();
    }

    private static Tensor random(Random r, int... shape) {
        double[] v = new double[(int) Tensor.elementCount(shape)];
        for (int i = 0; i < v.length; i++) v[i] = r.nextGaussian() * 0.5;
        return Tensor.of(v, shape);
    }
}
