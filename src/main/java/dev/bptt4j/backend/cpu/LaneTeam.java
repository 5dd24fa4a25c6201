package dev.bptt4j.backend.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * The lanes of a {@link CpuBackend}: lane 0 is the caller's thread, lanes 1 to n-1 are daemon
 * worker threads, each started the first time its lane runs. A split time loop (or a part of a
 * split GEMM or copy) runs as lanes of disjoint rows at once while the BLAS runs sequentially (set
 * process-wide by {@link CpuBackend}), so the cores split the whole loop, pointwise passes
 * included, instead of the BLAS splitting each small GEMM and one core doing the pointwise work
 * alone.
 *
 * <p>A handoff spins briefly and then parks, so an idle worker costs no CPU. Failures are rethrown
 * to the caller after every lane has stopped: the lowest lane's first, the others suppressed in it.
 */
final class LaneTeam {
    /** Spins before parking: a loop's lanes finish within microseconds of each other. */
    private static final int SPINS = 20_000;

    private final Worker[] workers;
    private volatile boolean closed;

    /** A team of {@code lanes} lanes (the caller's and lanes - 1 workers). */
    LaneTeam(int lanes) {
        if (lanes < 1) throw new IllegalArgumentException("lanes: expected >= 1, got " + lanes);
        workers = new Worker[lanes - 1];
    }

    /** Lanes, the caller's included. */
    int size() {
        return workers.length + 1;
    }

    /** The lane the calling thread runs: its worker's lane, else 0 (the caller). */
    int laneOfCurrentThread() {
        Thread t = Thread.currentThread();
        if (t instanceof LaneThread && ((LaneThread) t).team == this) return ((LaneThread) t).lane;
        return 0;
    }

    boolean isWorkerThread() {
        return laneOfCurrentThread() != 0;
    }

    /** Runs {@code lane.accept(i)} for i in [0, count): 0 here, the others on their workers; returns when all are done. */
    void run(int count, IntConsumer lane) {
        if (closed) throw new IllegalStateException("runLanes: the CPU backend has been closed");
        if (count < 1 || count > size()) throw new IllegalArgumentException("lanes: expected 1 to " + size() + ", got " + count);
        for (int i = 1; i < count; i++) worker(i).post(lane);
        Throwable first = null;
        try {
            lane.accept(0);
        } catch (Throwable t) {
            first = t;
        }
        for (int i = 1; i < count; i++) {
            Throwable theirs = workers[i - 1].await();
            if (theirs == null || theirs == first) continue;
            if (first == null) first = theirs;
            else first.addSuppressed(theirs);
        }
        if (first != null) rethrow(first);
    }

    private synchronized Worker worker(int lane) {
        Worker w = workers[lane - 1];
        if (w == null) {
            w = new Worker();
            LaneThread t = new LaneThread(this, lane, w);
            t.setDaemon(true);
            w.thread = t;
            workers[lane - 1] = w;
            t.start();
        }
        return w;
    }

    void close() {
        closed = true;
        synchronized (this) {
            for (Worker w : workers) if (w != null) w.close();
        }
    }

    private static final class LaneThread extends Thread {
        final LaneTeam team;
        final int lane;

        LaneThread(LaneTeam team, int lane, Worker worker) {
            super(() -> worker.loop(lane), "bptt4j-cpu-lane-" + lane);
            this.team = team;
            this.lane = lane;
        }
    }

    /** One worker thread and its handoff with the caller. */
    private static final class Worker {
        private static final int IDLE = 0, POSTED = 1, DONE = 2, CLOSED = 3;
        private final AtomicInteger state = new AtomicInteger(IDLE);
        volatile Thread thread;
        private volatile Thread caller;
        private IntConsumer task;
        private Throwable failure;

        void post(IntConsumer lane) {
            task = lane;
            failure = null;
            caller = Thread.currentThread();
            state.set(POSTED);
            LockSupport.unpark(thread);
        }

        /** Waits for the posted task; returns its failure, or null. */
        Throwable await() {
            for (int i = 0; state.get() != DONE; i++) {
                if (i < SPINS) Thread.onSpinWait();
                else LockSupport.parkNanos(this, 50_000);
            }
            state.set(IDLE);
            task = null;
            return failure;
        }

        void loop(int lane) {
            while (true) {
                for (int i = 0; state.get() != POSTED; i++) {
                    if (state.get() == CLOSED) return;
                    if (i < SPINS) Thread.onSpinWait();
                    else LockSupport.park(this);
                }
                try {
                    task.accept(lane);
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
    }

    private static void rethrow(Throwable t) {
        if (t instanceof RuntimeException) throw (RuntimeException) t;
        if (t instanceof Error) throw (Error) t;
        throw new IllegalStateException(t);
    }
}
