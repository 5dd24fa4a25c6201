package dev.bptt4j.backend.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * The second lane of a {@link CpuBackend}: one daemon thread, started on first use, that runs lane
 * 1 of a split time loop (or half of a split GEMM) while the caller runs lane 0. The BLAS then
 * runs sequentially (set process-wide by {@link CpuBackend}), so the two cores split the whole
 * loop, pointwise passes included, instead of the BLAS splitting each small GEMM and one core
 * doing the pointwise work alone.
 *
 * <p>A handoff spins briefly and then parks, so an idle worker costs no CPU. A failure in lane 1
 * is rethrown to the caller after both lanes have stopped.
 */
final class LaneWorker {
    private static final int IDLE = 0, POSTED = 1, DONE = 2, CLOSED = 3;
    /** Spins before parking: a loop's two lanes finish within microseconds of each other. */
    private static final int SPINS = 20_000;

    private final AtomicInteger state = new AtomicInteger(IDLE);
    private volatile Thread thread;
    private volatile Thread caller;
    private IntConsumer task;
    private Throwable failure;

    boolean isCurrentThread() {
        return Thread.currentThread() == thread;
    }

    /** Runs {@code lane.accept(0)} here and {@code lane.accept(1)} on the worker; returns when both are done. */
    void run(IntConsumer lane) {
        if (state.get() == CLOSED) throw new IllegalStateException("runLanes: the CPU backend has been closed");
        Thread worker = thread;
        if (worker == null) worker = start();
        task = lane;
        failure = null;
        caller = Thread.currentThread();
        state.set(POSTED);
        LockSupport.unpark(worker);
        Throwable mine = null;
        try {
            lane.accept(0);
        } catch (Throwable t) {
            mine = t;
        }
        await(DONE);
        state.set(IDLE);
        task = null;
        Throwable theirs = failure;
        if (mine != null) {
            if (theirs != null && theirs != mine) mine.addSuppressed(theirs);
            rethrow(mine);
        }
        if (theirs != null) rethrow(theirs);
    }

    private void await(int wanted) {
        for (int i = 0; state.get() != wanted; i++) {
            if (i < SPINS) Thread.onSpinWait();
            else LockSupport.parkNanos(this, 50_000);
        }
    }

    private synchronized Thread start() {
        if (thread != null) return thread;
        Thread t = new Thread(this::loop, "bptt4j-cpu-lane");
        t.setDaemon(true);
        thread = t;
        t.start();
        return t;
    }

    private void loop() {
        while (true) {
            for (int i = 0; state.get() != POSTED; i++) {
                if (state.get() == CLOSED) return;
                if (i < SPINS) Thread.onSpinWait();
                else LockSupport.park(this);
            }
            try {
                task.accept(1);
            } catch (Throwable t) {
                failure = t;
            }
            state.set(DONE);
            LockSupport.unpark(caller);
        }
    }

    void close() {
        state.set(CLOSED);
        Thread t = thread;
        if (t != null) LockSupport.unpark(t);
    }

    private static void rethrow(Throwable t) {
        if (t instanceof RuntimeException) throw (RuntimeException) t;
        if (t instanceof Error) throw (Error) t;
        throw new IllegalStateException(t);
    }
}
