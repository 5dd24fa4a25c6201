package dev.bptt4j.backend;

import static dev.bptt4j.backend.BufferChecks.checkRange;

/**
 * The argument contracts of the cell kernels on {@link Backend}, checked the same way by every
 * backend before it touches memory: each buffer must hold the rows the kernel will read or write
 * from its offset, biases their full gate width, and a backward's alive rows fit in its slot.
 * (Which buffers are read depends on the cell: the residual Elman backward reads the biases, the
 * plain one the stored outputs, exactly as the kernels in cuda/ do.)
 */
public final class KernelContracts {
    private KernelContracts() {
    }

    private static void checkBias(String what, DeviceBuffer bih, DeviceBuffer bhh, int width) {
        if (bih != null) checkRange(what + " biasIh", bih, 0, width);
        if (bhh != null) checkRange(what + " biasHh", bhh, 0, width);
    }

    private static void checkSlot(int aliveRows, int slotRows) {
        if (aliveRows < 0 || aliveRows > slotRows) {
            throw new IllegalArgumentException("aliveRows " + aliveRows + " outside 0.." + slotRows + " (slotRows)");
        }
    }

    public static void rnnForward(DeviceBuffer hiddenOut, long hiddenOutOffset, DeviceBuffer pre, long preOffset,
                                  DeviceBuffer biasIh, DeviceBuffer biasHh, DeviceBuffer hiddenPrev, long hiddenPrevOffset,
                                  int rows, int hiddenSize, boolean residual) {
        long n = (long) rows * hiddenSize;
        checkRange("rnnForward hiddenOut", hiddenOut, hiddenOutOffset, n);
        checkRange("rnnForward pre", pre, preOffset, n);
        checkBias("rnnForward", biasIh, biasHh, hiddenSize);
        if (residual) checkRange("rnnForward hiddenPrev", hiddenPrev, hiddenPrevOffset, n);
    }

    public static void rnnBackward(DeviceBuffer deltaInOut, long deltaOffset, DeviceBuffer hiddenGradCarry, long carryOffset,
                                   DeviceBuffer hiddenStates, long hiddenOffset, DeviceBuffer outputGrad, long outputGradOffset,
                                   DeviceBuffer biasIh, DeviceBuffer biasHh, int aliveRows, int slotRows, int hiddenSize,
                                   boolean residual) {
        checkSlot(aliveRows, slotRows);
        long alive = (long) aliveRows * hiddenSize;
        checkRange("rnnBackward delta", deltaInOut, deltaOffset, (long) slotRows * hiddenSize);
        checkRange("rnnBackward carry", hiddenGradCarry, carryOffset, alive);
        if (!residual) checkRange("rnnBackward hidden", hiddenStates, hiddenOffset, alive);
        checkRange("rnnBackward outputGrad", outputGrad, outputGradOffset, alive);
        if (residual) checkBias("rnnBackward", biasIh, biasHh, hiddenSize);
    }

    public static void lstmForward(DeviceBuffer hiddenOut, long hiddenOutOffset, DeviceBuffer cellOut, long cellOutOffset,
                                   DeviceBuffer gates, long gatesOffset, DeviceBuffer biasIh, DeviceBuffer biasHh,
                                   DeviceBuffer cellPrev, long cellPrevOffset, int rows, int hiddenSize) {
        long n = (long) rows * hiddenSize;
        checkRange("lstmForward hiddenOut", hiddenOut, hiddenOutOffset, n);
        checkRange("lstmForward cellOut", cellOut, cellOutOffset, n);
        checkRange("lstmForward gates", gates, gatesOffset, 4 * n);
        checkRange("lstmForward cellPrev", cellPrev, cellPrevOffset, n);
        checkBias("lstmForward", biasIh, biasHh, 4 * hiddenSize);
    }

    public static void lstmBackward(DeviceBuffer gatesInDeltaOut, long gatesOffset, DeviceBuffer hiddenGradCarry, long hiddenCarryOffset,
                                    DeviceBuffer cellGradCarry, long cellCarryOffset, DeviceBuffer cellPrev, long cellPrevOffset,
                                    DeviceBuffer cell, long cellOffset, DeviceBuffer outputGrad, long outputGradOffset,
                                    int aliveRows, int slotRows, int hiddenSize) {
        checkSlot(aliveRows, slotRows);
        long alive = (long) aliveRows * hiddenSize;
        checkRange("lstmBackward gates", gatesInDeltaOut, gatesOffset, 4L * slotRows * hiddenSize);
        checkRange("lstmBackward hiddenGradCarry", hiddenGradCarry, hiddenCarryOffset, alive);
        checkRange("lstmBackward cellGradCarry", cellGradCarry, cellCarryOffset, alive);
        checkRange("lstmBackward cellPrev", cellPrev, cellPrevOffset, alive);
        checkRange("lstmBackward cell", cell, cellOffset, alive);
        checkRange("lstmBackward outputGrad", outputGrad, outputGradOffset, alive);
    }

    public static void gruForward(DeviceBuffer hiddenOut, long hiddenOutOffset, DeviceBuffer gates, long gatesOffset,
                                  DeviceBuffer hiddenGates, long hiddenGatesOffset, DeviceBuffer biasIh, DeviceBuffer biasHh,
                                  DeviceBuffer hiddenPrev, long hiddenPrevOffset, int rows, int hiddenSize) {
        long n = (long) rows * hiddenSize;
        checkRange("gruForward hiddenOut", hiddenOut, hiddenOutOffset, n);
        checkRange("gruForward gates", gates, gatesOffset, 3 * n);
        checkRange("gruForward hiddenGates", hiddenGates, hiddenGatesOffset, 3 * n);
        checkRange("gruForward hiddenPrev", hiddenPrev, hiddenPrevOffset, n);
        checkBias("gruForward", biasIh, biasHh, 3 * hiddenSize);
    }

    public static void gruBackward(DeviceBuffer gatesInDeltaOut, long gatesOffset, DeviceBuffer hiddenGatesInDeltaOut, long hiddenGatesOffset,
                                   DeviceBuffer hiddenGradCarry, long carryOffset, DeviceBuffer hiddenPrev, long hiddenPrevOffset,
                                   DeviceBuffer outputGrad, long outputGradOffset, DeviceBuffer biasHh,
                                   int aliveRows, int slotRows, int hiddenSize) {
        checkSlot(aliveRows, slotRows);
        long alive = (long) aliveRows * hiddenSize, slot = 3L * slotRows * hiddenSize;
        checkRange("gruBackward gates", gatesInDeltaOut, gatesOffset, slot);
        checkRange("gruBackward hiddenGates", hiddenGatesInDeltaOut, hiddenGatesOffset, slot);
        checkRange("gruBackward hiddenGradCarry", hiddenGradCarry, carryOffset, alive);
        checkRange("gruBackward hiddenPrev", hiddenPrev, hiddenPrevOffset, alive);
        checkRange("gruBackward outputGrad", outputGrad, outputGradOffset, alive);
        checkBias("gruBackward", null, biasHh, 3 * hiddenSize);
    }
}
