package dev.bptt4j.backend;

import dev.bptt4j.tensor.DType;

/**
 * The arguments of one launch of a {@link KernelSpec}, filled in signature order and handed to
 * {@link Backend#launch}. A block is made once per kernel and lane and refilled for every launch,
 * so a time loop launches kernels without creating objects:
 *
 * <pre>{@code
 * step.kernel(FORWARD).pointer(h).pointer(gates).nullablePointer(bias).int32(rows).int32(hidden).launch();
 * }</pre>
 *
 * Each setter checks that the next parameter has its type; {@link #check()} checks the whole
 * contract and is what every backend runs first.
 */
public final class KernelArgs {
    private final KernelSpec spec;
    private final DType dtype;
    private final DeviceSlice[] slices;
    private final long[] integers;
    private final double[] reals;
    private int filled;
    private Backend backend;

    KernelArgs(KernelSpec spec, DType dtype) {
        this.spec = spec;
        this.dtype = dtype;
        int n = spec.parameters().size();
        slices = new DeviceSlice[n];
        integers = new long[n];
        reals = new double[n];
    }

    public KernelSpec spec() {
        return spec;
    }

    /** The floating-point type the kernel computes in. */
    public DType dtype() {
        return dtype;
    }

    /** Empties the block for a launch on {@code backend}; {@link #launch()} sends it there. */
    public KernelArgs on(Backend target) {
        this.backend = target;
        this.filled = 0;
        java.util.Arrays.fill(slices, null);
        return this;
    }

    private KernelSpec.Parameter next(KernelSpec.Type type) {
        if (filled >= slices.length) throw new IllegalArgumentException(spec.name() + " takes " + slices.length + " arguments, got more");
        KernelSpec.Parameter p = spec.parameter(filled);
        if (p.type() != type) {
            throw new IllegalArgumentException(spec.name() + ": argument " + filled + " (" + p + ") is " + p.type() + ", not " + type);
        }
        return p;
    }

    /** The next argument, a pointer; null for NULL where the parameter is nullable (checked at launch). */
    public KernelArgs pointer(DeviceSlice slice) {
        next(KernelSpec.Type.POINTER);
        slices[filled++] = slice;
        return this;
    }

    public KernelArgs int32(int value) {
        next(KernelSpec.Type.INT32);
        integers[filled++] = value;
        return this;
    }

    public KernelArgs int64(long value) {
        next(KernelSpec.Type.INT64);
        integers[filled++] = value;
        return this;
    }

    /** The next argument in the kernel's floating-point type (rounded to float for an F32 kernel). */
    public KernelArgs real(double value) {
        next(KernelSpec.Type.REAL);
        reals[filled++] = dtype == DType.F32 ? (float) value : value;
        return this;
    }

    public KernelArgs float64(double value) {
        next(KernelSpec.Type.FLOAT64);
        reals[filled++] = value;
        return this;
    }

    /** Checks the block against the spec and runs it on the backend given to {@link #on}. */
    public void launch() {
        if (backend == null) throw new IllegalStateException(spec.name() + ": arguments launched before on(backend)");
        backend.launch(this);
    }

    /** The spec's contract (see {@link KernelSpec}); backends call it before anything else. */
    public void check() {
        spec.check(this);
    }

    /** Elements the grid-stride loop covers. */
    public long gridElements() {
        return spec.gridElements(this);
    }

    int filled() {
        return filled;
    }

    // ---- reading, for backends: by position in the signature ----

    /** The pointer argument at {@code i}, or null. */
    public DeviceSlice slice(int i) {
        return slices[i];
    }

    public DeviceBuffer buffer(int i) {
        return slices[i] == null ? null : slices[i].buffer();
    }

    public long offset(int i) {
        return slices[i] == null ? 0 : slices[i].offset();
    }

    /** An INT32 or INT64 argument. */
    public long integer(int i) {
        return integers[i];
    }

    public int int32At(int i) {
        return (int) integers[i];
    }

    /** A REAL or FLOAT64 argument. */
    public double realAt(int i) {
        return reals[i];
    }

    /** The integer argument named {@code name} (slow: for rules and messages). */
    public long integer(String name) {
        return integers[spec.indexOf(name)];
    }

    String describeIntegers() {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < filled; i++) {
            KernelSpec.Parameter p = spec.parameters().get(i);
            if (p.type() == KernelSpec.Type.INT32 || p.type() == KernelSpec.Type.INT64) {
                if (s.length() > 0) s.append(", ");
                s.append(p.name()).append(" = ").append(integers[i]);
            }
        }
        return s.toString();
    }
}
