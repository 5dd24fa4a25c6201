package dev.bptt4j.backend.cuda;

import dev.bptt4j.backend.KernelSpec;
import dev.bptt4j.tensor.DType;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

/**
 * One CUDA entry point: a {@link KernelSpec} in one floating-point type, e.g. {@code lstm_forward_f32}
 * in {@code lstm_cell.cu}, with its parameters as the PTX sees them. The spec is the one list of a
 * kernel's parameters; this class only says how each crosses to the driver. The launch code builds
 * its argument arrays through {@link #kernelParameters}, and tests hold every spec against the
 * bundled PTX and sources.
 *
 * <p>Geometry, the same for every kernel: a 1-D grid-stride loop over {@link #elementCount}
 * elements with {@link #BLOCK_SIZE} threads per block and {@link #gridSize} blocks.
 */
public final class CudaKernel {
    /** Threads per block for every kernel. */
    public static final int BLOCK_SIZE = 256;
    /** Largest grid launched; the grid-stride loops cover any elements beyond it. */
    public static final int MAX_GRID_SIZE = 65535;

    /** How one argument crosses to the kernel, and the PTX parameter types nvcc may give it. */
    public enum ParamType {
        /**
         * A device pointer: a {@link Pointer} (normally a {@link CUdeviceptr}), or {@code null} for
         * NULL where the parameter allows it. PTX {@code .u64} at address size 64, the same as
         * {@link #INT64}; only this registry (and the .cu signature) tells the two apart.
         */
        POINTER(Pointer.class, "u64"),
        /** C {@code int}: a Java {@link Integer}. PTX {@code .u32} or {@code .s32}. */
        INT32(Integer.class, "u32", "s32"),
        /** C {@code long long}: a Java {@link Long}. PTX {@code .u64} or {@code .s64}. */
        INT64(Long.class, "u64", "s64"),
        /** C {@code float}: a Java {@link Float}. PTX {@code .f32}. */
        FLOAT32(Float.class, "f32"),
        /** C {@code double}: a Java {@link Double}. PTX {@code .f64}. */
        FLOAT64(Double.class, "f64");

        private final Class<?> javaType;
        private final List<String> ptxTypes;

        ParamType(Class<?> javaType, String... ptxTypes) {
            this.javaType = javaType;
            this.ptxTypes = List.of(ptxTypes);
        }

        /** The Java class an argument must be an instance of (boxed for scalars). */
        public Class<?> javaType() {
            return javaType;
        }

        /** PTX {@code .param} types (without the dot) that nvcc may emit for this C type. */
        public List<String> ptxTypes() {
            return ptxTypes;
        }

        /** The scalar type for a floating-point dtype. */
        public static ParamType scalarOf(DType dtype) {
            switch (dtype) {
                case F32: return FLOAT32;
                case F64: return FLOAT64;
                case I32: return INT32;
                case I64: return INT64;
                default: throw new AssertionError(dtype);
            }
        }
    }

    /**
     * One kernel parameter. {@code pointee} is the element type behind a pointer (null for scalars);
     * {@code nullable} says the kernel accepts NULL there (a missing bias, or a buffer the chosen
     * mode never reads).
     */
    public record Parameter(String name, ParamType type, DType pointee, boolean nullable) {
        public Parameter {
            if ((type == ParamType.POINTER) != (pointee != null)) {
                throw new IllegalArgumentException(name + ": a pointee type goes with pointers and only with them");
            }
            if (nullable && type != ParamType.POINTER) throw new IllegalArgumentException(name + ": only pointers are nullable");
        }

        @Override
        public String toString() {
            String t = type == ParamType.POINTER ? pointee + "*" + (nullable ? " (nullable)" : "") : type.toString();
            return t + " " + name;
        }
    }

    private static final Map<String, CudaKernel> BY_NAME = new ConcurrentHashMap<>();

    private final KernelSpec spec;
    private final DType dtype;
    private final List<Parameter> parameters;

    private CudaKernel(KernelSpec spec, DType dtype) {
        this.spec = spec;
        this.dtype = dtype;
        List<Parameter> params = new ArrayList<>();
        for (KernelSpec.Parameter p : spec.parameters()) {
            switch (p.type()) {
                case POINTER: params.add(new Parameter(p.name(), ParamType.POINTER, pointee(p.pointee(), dtype), p.nullable())); break;
                case INT32: params.add(new Parameter(p.name(), ParamType.INT32, null, false)); break;
                case INT64: params.add(new Parameter(p.name(), ParamType.INT64, null, false)); break;
                case REAL: params.add(new Parameter(p.name(), ParamType.scalarOf(dtype), null, false)); break;
                case FLOAT64: params.add(new Parameter(p.name(), ParamType.FLOAT64, null, false)); break;
                default: throw new AssertionError(p);
            }
        }
        this.parameters = List.copyOf(params);
    }

    private static DType pointee(KernelSpec.Element e, DType real) {
        switch (e) {
            case REAL: return real;
            case I32: return DType.I32;
            case I64: return DType.I64;
            case F64: return DType.F64;
            default: throw new AssertionError(e);
        }
    }

    /** The entry point of {@code spec} for a floating-point type. */
    public static CudaKernel of(KernelSpec spec, DType dtype) {
        String name = spec.functionName(dtype);
        CudaKernel k = BY_NAME.get(name);
        if (k != null && k.spec == spec) return k;
        CudaKernel made = new CudaKernel(spec, dtype);
        BY_NAME.put(name, made);
        return made;
    }

    /** The spec this entry point runs. */
    public KernelSpec spec() {
        return spec;
    }

    /** The kernel family's name, e.g. {@code lstm_forward}. */
    public String family() {
        return spec.name();
    }

    // ---- lookups ----

    /** The {@code extern "C"} name, e.g. {@code rnn_forward_f32}. */
    public String functionName() {
        return spec.functionName(dtype);
    }

    /** The kernel file's base name ({@code cuda/<module>.cu}). */
    public String module() {
        return spec.module();
    }

    /** The floating-point type the kernel computes in. */
    public DType dtype() {
        return dtype;
    }

    public List<Parameter> parameters() {
        return parameters;
    }

    /** Names of the parameters whose product is the element count the grid-stride loop covers. */
    public List<String> extentParameters() {
        return spec.gridParameters();
    }

    // ---- arguments ----

    /**
     * Checks an argument list against the signature: count, and each argument's Java type
     * ({@link ParamType#javaType()}); {@code null} only for nullable pointers. Throws
     * IllegalArgumentException naming the kernel and the parameter.
     */
    public void validate(Object... args) {
        if (args.length != parameters.size()) {
            throw new IllegalArgumentException(functionName() + " takes " + parameters.size() + " arguments "
                    + parameters + ", got " + args.length);
        }
        for (int i = 0; i < args.length; i++) {
            Parameter p = parameters.get(i);
            Object a = args[i];
            if (a == null) {
                if (!p.nullable()) throw new IllegalArgumentException(functionName() + ": argument " + i + " (" + p + ") must not be null");
            } else if (!p.type().javaType().isInstance(a)) {
                throw new IllegalArgumentException(functionName() + ": argument " + i + " (" + p + ") must be a "
                        + p.type().javaType().getSimpleName() + ", got " + a.getClass().getSimpleName() + " " + a);
            }
        }
    }

    /**
     * Validates {@code args} and packs them the way cuLaunchKernel's kernelParams wants: a pointer
     * to an array of pointers, one to each argument's value. A null pointer argument becomes a
     * NULL device pointer.
     */
    public Pointer kernelParameters(Object... args) {
        validate(args);
        NativePointerObject[] slots = new NativePointerObject[args.length];
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            switch (parameters.get(i).type()) {
                case POINTER: slots[i] = Pointer.to(a == null ? new CUdeviceptr() : (Pointer) a); break;
                case INT32: slots[i] = Pointer.to(new int[] {(Integer) a}); break;
                case INT64: slots[i] = Pointer.to(new long[] {(Long) a}); break;
                case FLOAT32: slots[i] = Pointer.to(new float[] {(Float) a}); break;
                case FLOAT64: slots[i] = Pointer.to(new double[] {(Double) a}); break;
                default: throw new AssertionError(parameters.get(i));
            }
        }
        return Pointer.to(slots);
    }

    /** The number of elements the kernel's loop covers for these (valid) arguments. */
    public long elementCount(Object... args) {
        validate(args);
        long n = 1;
        for (String extent : spec.gridParameters()) {
            long v = ((Number) args[indexOf(extent)]).longValue();
            if (v < 0) throw new IllegalArgumentException(functionName() + ": " + extent + " = " + v + " is negative");
            n = Math.multiplyExact(n, v);
        }
        return n;
    }

    /** Blocks to launch for {@code elements} elements: ceil(elements / BLOCK_SIZE), at least 1, at most MAX_GRID_SIZE. */
    public static int gridSize(long elements) {
        if (elements < 0) throw new IllegalArgumentException("negative element count " + elements);
        long blocks = (elements + BLOCK_SIZE - 1) / BLOCK_SIZE;
        return (int) Math.max(1, Math.min(blocks, MAX_GRID_SIZE));
    }

    /** Position of the named parameter. */
    public int indexOf(String parameterName) {
        for (int i = 0; i < parameters.size(); i++) {
            if (parameters.get(i).name().equals(parameterName)) return i;
        }
        throw new IllegalArgumentException(functionName() + " has no parameter '" + parameterName + "'");
    }

    /** The signature as C would spell it, for messages and the tests' printouts. */
    public String signature() {
        StringBuilder s = new StringBuilder(functionName()).append('(');
        for (int i = 0; i < parameters.size(); i++) {
            if (i > 0) s.append(", ");
            s.append(parameters.get(i));
        }
        return s.append(')').toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CudaKernel k && k.spec == spec && k.dtype == dtype;
    }

    @Override
    public int hashCode() {
        return functionName().hashCode();
    }

    @Override
    public String toString() {
        return functionName();
    }
}
