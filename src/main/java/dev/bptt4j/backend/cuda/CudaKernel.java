package dev.bptt4j.backend.cuda;

import dev.bptt4j.tensor.DType;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

/**
 * The registry of every CUDA kernel bptt4j launches: its {@code extern "C"} name, the module it
 * lives in, and its parameters in the order of the {@code .cu} signature. The launch code builds
 * its argument arrays through {@link #kernelParameters}, so a reader can put a launch and the
 * kernel's signature side by side; tests hold this list against the bundled PTX and sources.
 *
 * <p>Geometry, the same for every kernel: a 1-D grid-stride loop over {@link #elementCount}
 * elements with {@link #BLOCK_SIZE} threads per block and {@link #gridSize} blocks.
 */
public enum CudaKernel {
    // cuda/rnn_cell.cu
    RNN_FORWARD_F32(KernelModule.RNN_CELL, DType.F32, rnnForward(DType.F32), "rows", "hiddenSize"),
    RNN_FORWARD_F64(KernelModule.RNN_CELL, DType.F64, rnnForward(DType.F64), "rows", "hiddenSize"),
    RNN_BACKWARD_F32(KernelModule.RNN_CELL, DType.F32, rnnBackward(DType.F32), "slotRows", "hiddenSize"),
    RNN_BACKWARD_F64(KernelModule.RNN_CELL, DType.F64, rnnBackward(DType.F64), "slotRows", "hiddenSize"),
    // cuda/lstm_cell.cu
    LSTM_FORWARD_F32(KernelModule.LSTM_CELL, DType.F32, lstmForward(DType.F32), "rows", "hiddenSize"),
    LSTM_FORWARD_F64(KernelModule.LSTM_CELL, DType.F64, lstmForward(DType.F64), "rows", "hiddenSize"),
    LSTM_BACKWARD_F32(KernelModule.LSTM_CELL, DType.F32, lstmBackward(DType.F32), "slotRows", "hiddenSize"),
    LSTM_BACKWARD_F64(KernelModule.LSTM_CELL, DType.F64, lstmBackward(DType.F64), "slotRows", "hiddenSize"),
    // cuda/gru_cell.cu
    GRU_FORWARD_F32(KernelModule.GRU_CELL, DType.F32, gruForward(DType.F32), "rows", "hiddenSize"),
    GRU_FORWARD_F64(KernelModule.GRU_CELL, DType.F64, gruForward(DType.F64), "rows", "hiddenSize"),
    GRU_BACKWARD_F32(KernelModule.GRU_CELL, DType.F32, gruBackward(DType.F32), "slotRows", "hiddenSize"),
    GRU_BACKWARD_F64(KernelModule.GRU_CELL, DType.F64, gruBackward(DType.F64), "slotRows", "hiddenSize"),
    // cuda/packing.cu
    GATHER_ROWS_F32(KernelModule.PACKING, DType.F32, gatherRows(DType.F32), "rows", "width"),
    GATHER_ROWS_F64(KernelModule.PACKING, DType.F64, gatherRows(DType.F64), "rows", "width"),
    FILL_F32(KernelModule.PACKING, DType.F32, fill(DType.F32), "count"),
    FILL_F64(KernelModule.PACKING, DType.F64, fill(DType.F64), "count"),
    // cuda/training.cu (softmax_xent: one thread per row)
    SOFTMAX_XENT_F32(KernelModule.TRAINING, DType.F32, softmaxXent(DType.F32), "rows"),
    SOFTMAX_XENT_F64(KernelModule.TRAINING, DType.F64, softmaxXent(DType.F64), "rows"),
    SGD_STEP_F32(KernelModule.TRAINING, DType.F32, sgdStep(DType.F32), "count"),
    SGD_STEP_F64(KernelModule.TRAINING, DType.F64, sgdStep(DType.F64), "count"),
    ADAM_STEP_F32(KernelModule.TRAINING, DType.F32, adamStep(DType.F32), "count"),
    ADAM_STEP_F64(KernelModule.TRAINING, DType.F64, adamStep(DType.F64), "count"),
    SUM_OF_SQUARES_F32(KernelModule.TRAINING, DType.F32, sumOfSquares(DType.F32), "count"),
    SUM_OF_SQUARES_F64(KernelModule.TRAINING, DType.F64, sumOfSquares(DType.F64), "count"),
    SCALE_F32(KernelModule.TRAINING, DType.F32, scale(DType.F32), "count"),
    SCALE_F64(KernelModule.TRAINING, DType.F64, scale(DType.F64), "count"),
    CLAMP_F32(KernelModule.TRAINING, DType.F32, clamp(DType.F32), "count"),
    CLAMP_F64(KernelModule.TRAINING, DType.F64, clamp(DType.F64), "count"),
    // cuda/finite.cu
    COUNT_NON_FINITE_F32(KernelModule.FINITE, DType.F32, countNonFinite(DType.F32), "n"),
    COUNT_NON_FINITE_F64(KernelModule.FINITE, DType.F64, countNonFinite(DType.F64), "n");

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

    private final KernelModule module;
    private final DType dtype;
    private final List<Parameter> parameters;
    private final List<String> extentParameters;

    CudaKernel(KernelModule module, DType dtype, List<Parameter> parameters, String... extentParameters) {
        this.module = module;
        this.dtype = dtype;
        this.parameters = parameters;
        this.extentParameters = List.of(extentParameters);
        for (String extent : extentParameters) {
            ParamType type = parameters.get(indexOf(extent)).type();
            if (type != ParamType.INT32 && type != ParamType.INT64) throw new AssertionError(name() + ": extent " + extent + " is " + type);
        }
    }

    // ---- the signatures, in .cu order ----

    private static List<Parameter> rnnForward(DType real) {
        return List.of(
                pointer("hiddenOut", real),
                pointer("preActivation", real),
                nullablePointer("biasIh", real),
                nullablePointer("biasHh", real),
                nullablePointer("hiddenPrev", real), // read only when residual != 0
                int32("rows"),
                int32("hiddenSize"),
                int32("activation"),
                int32("residual"));
    }

    private static List<Parameter> rnnBackward(DType real) {
        return List.of(
                pointer("deltaInOut", real),
                pointer("hiddenGradCarry", real),
                nullablePointer("hidden", real), // read only when residual == 0
                pointer("outputGrad", real),
                nullablePointer("biasIh", real),
                nullablePointer("biasHh", real),
                int32("aliveRows"),
                int32("slotRows"),
                int32("hiddenSize"),
                int32("activation"),
                int32("residual"));
    }

    private static List<Parameter> lstmForward(DType real) {
        return List.of(
                pointer("hiddenOut", real),
                pointer("cellOut", real),
                pointer("gates", real), // 4·hiddenSize wide: pre-activations in, activated i, f, g, o out
                nullablePointer("biasIh", real),
                nullablePointer("biasHh", real),
                pointer("cellPrev", real),
                int32("rows"),
                int32("hiddenSize"));
    }

    private static List<Parameter> lstmBackward(DType real) {
        return List.of(
                pointer("gatesInDeltaOut", real),
                pointer("hiddenGradCarry", real), // read only
                pointer("cellGradCarry", real),
                pointer("cellPrev", real),
                pointer("cell", real),
                pointer("outputGrad", real),
                int32("aliveRows"),
                int32("slotRows"),
                int32("hiddenSize"));
    }

    private static List<Parameter> gruForward(DType real) {
        return List.of(
                pointer("hiddenOut", real),
                pointer("gates", real), // 3·hiddenSize wide: x·W_ihᵀ in, r, z, n out
                pointer("hiddenGates", real), // h_prev·W_hhᵀ, read only
                nullablePointer("biasIh", real),
                nullablePointer("biasHh", real),
                pointer("hiddenPrev", real),
                int32("rows"),
                int32("hiddenSize"));
    }

    private static List<Parameter> gruBackward(DType real) {
        return List.of(
                pointer("gatesInDeltaOut", real),
                pointer("hiddenGatesInDeltaOut", real),
                pointer("hiddenGradCarry", real),
                pointer("hiddenPrev", real),
                pointer("outputGrad", real),
                nullablePointer("biasHh", real),
                int32("aliveRows"),
                int32("slotRows"),
                int32("hiddenSize"));
    }

    private static List<Parameter> gatherRows(DType real) {
        return List.of(
                pointer("dst", real),
                pointer("src", real),
                pointer("rowIndex", DType.I32),
                int32("rows"),
                int32("width"),
                int32("dstStride"),
                int32("dstColumn"),
                int32("srcStride"),
                int32("srcColumn"),
                int32("accumulate"));
    }

    private static List<Parameter> fill(DType real) {
        return List.of(
                pointer("dst", real),
                new Parameter("value", ParamType.scalarOf(real), null, false),
                int64("count"));
    }

    private static List<Parameter> softmaxXent(DType real) {
        return List.of(
                pointer("logits", real), // rows × classes: logits in, gradScale·(softmax − onehot) out
                pointer("targets", DType.I32),
                pointer("rowLoss", real),
                int32("rows"),
                int32("classes"),
                float64("gradScale"));
    }

    private static List<Parameter> sgdStep(DType real) {
        return List.of(
                pointer("param", real),
                pointer("grad", real), // read only
                nullablePointer("momentumBuffer", real), // read and written only when momentum != 0
                int64("count"),
                float64("lr"),
                float64("momentum"),
                float64("dampening"),
                float64("weightDecay"),
                float64("l1"),
                int32("nesterov"),
                int32("firstStep"));
    }

    private static List<Parameter> adamStep(DType real) {
        return List.of(
                pointer("param", real),
                pointer("grad", real), // read only
                pointer("expAvg", real),
                pointer("expAvgSq", real),
                int64("count"),
                float64("lr"),
                float64("beta1"),
                float64("beta2"),
                float64("eps"),
                float64("weightDecay"),
                float64("l1"),
                float64("biasCorrection1"), // 1 − β1^step, from the host
                float64("biasCorrection2Sqrt")); // √(1 − β2^step), from the host
    }

    private static List<Parameter> sumOfSquares(DType real) {
        return List.of(
                pointer("x", real),
                int64("count"),
                pointer("out", DType.F64)); // one double, added to atomically
    }

    private static List<Parameter> scale(DType real) {
        return List.of(
                pointer("x", real),
                int64("count"),
                float64("alpha"));
    }

    private static List<Parameter> clamp(DType real) {
        return List.of(
                pointer("x", real),
                int64("count"),
                float64("lo"),
                float64("hi"));
    }

    private static List<Parameter> countNonFinite(DType real) {
        return List.of(
                pointer("x", real),
                int64("n"),
                pointer("count", DType.I64)); // unsigned long long, zeroed by the host, added to atomically
    }

    private static Parameter pointer(String name, DType pointee) {
        return new Parameter(name, ParamType.POINTER, pointee, false);
    }

    private static Parameter nullablePointer(String name, DType pointee) {
        return new Parameter(name, ParamType.POINTER, pointee, true);
    }

    private static Parameter int32(String name) {
        return new Parameter(name, ParamType.INT32, null, false);
    }

    private static Parameter int64(String name) {
        return new Parameter(name, ParamType.INT64, null, false);
    }

    private static Parameter float64(String name) {
        return new Parameter(name, ParamType.FLOAT64, null, false);
    }

    // ---- lookups ----

    /** The {@code extern "C"} name, e.g. {@code rnn_forward_f32}. */
    public String functionName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public KernelModule module() {
        return module;
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
        return extentParameters;
    }

    /** The kernel with this {@code extern "C"} name. */
    public static CudaKernel byFunctionName(String functionName) {
        for (CudaKernel k : values()) {
            if (k.functionName().equals(functionName)) return k;
        }
        throw new IllegalArgumentException("no CUDA kernel named '" + functionName + "'");
    }

    /** The variant of a family ({@code "rnn_forward"}, {@code "fill"}, ...) for a floating-point dtype. */
    public static CudaKernel of(String family, DType dtype) {
        if (!dtype.isFloatingPoint()) throw new IllegalArgumentException("kernels compute in F32 or F64, not " + dtype);
        return byFunctionName(family + "_" + dtype.name().toLowerCase(Locale.ROOT));
    }

    static List<CudaKernel> inModule(KernelModule module) {
        List<CudaKernel> out = new ArrayList<>();
        for (CudaKernel k : values()) {
            if (k.module == module) out.add(k);
        }
        return Collections.unmodifiableList(out);
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
        for (String extent : extentParameters) {
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
    public String toString() {
        return functionName();
    }
}
