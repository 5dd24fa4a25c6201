package dev.bptt4j.backend;

import dev.bptt4j.tensor.DType;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;
import java.util.function.ToLongFunction;

/**
 * A pointwise kernel as every backend sees it: its name, the {@code .cu} file it lives in, and
 * its parameters in the order of the {@code extern "C"} signature, each typed, with how many
 * elements a pointer must hold from its offset. The contract is written here once: every backend
 * runs {@link KernelArgs#check()} before it touches memory, so a bad offset or shape is an
 * exception naming the kernel and the parameter, never a native crash or a silent overwrite.
 *
 * <p>A kernel computes in one floating-point type, F32 or F64 ({@link KernelArgs#dtype()}); its
 * CUDA entry points are {@code name_f32} and {@code name_f64}. Pointers of {@link Element#REAL}
 * hold that type; scalars of {@link Type#REAL} are passed in it.
 *
 * <p>Geometry: the kernel's 1-D grid-stride loop covers the product of its {@link #grid} parameters.
 */
public final class KernelSpec {
    /** How one argument crosses to the kernel. */
    public enum Type {
        /** A device pointer: a {@link DeviceSlice}, or null (NULL) where the parameter is nullable. */
        POINTER,
        /** C {@code int}. */
        INT32,
        /** C {@code long long}. */
        INT64,
        /** The kernel's floating-point type: {@code float} in the F32 entry, {@code double} in the F64 one. */
        REAL,
        /** C {@code double} in both entries. */
        FLOAT64
    }

    /** What a pointer points at. */
    public enum Element {
        /** The kernel's floating-point type. */
        REAL,
        I32,
        I64,
        F64;

        DType in(DType kernelType) {
            switch (this) {
                case REAL: return kernelType;
                case I32: return DType.I32;
                case I64: return DType.I64;
                case F64: return DType.F64;
                default: throw new AssertionError(this);
            }
        }
    }

    /** How many elements a pointer parameter must hold from its offset, as a function of the arguments. */
    public record Extent(String formula, ToLongFunction<KernelArgs> elements) {
        @Override
        public String toString() {
            return formula;
        }
    }

    /**
     * One parameter. {@code pointee} and {@code extent} belong to pointers ({@code extent} null when
     * the reach depends on data, as a gather's source rows do); {@code nullable} says the kernel
     * accepts NULL there (a missing bias, or a buffer the chosen mode never reads).
     */
    public record Parameter(String name, Type type, Element pointee, boolean nullable, Extent extent) {
        @Override
        public String toString() {
            String t = type == Type.POINTER ? pointee + "*" + (nullable ? " (nullable)" : "") : type.toString();
            return t + " " + name;
        }
    }

    private record Rule(String what, Predicate<KernelArgs> holds) {
    }

    private final String name;
    private final String module;
    private final List<Parameter> parameters;
    /** The parameters and rules as arrays: the checks run per launch and must not allocate (a list's iterator would). */
    private final Parameter[] parameterArray;
    private final int[] grid;
    private final Rule[] rules;

    private KernelSpec(String name, String module, List<Parameter> parameters, int[] grid, List<Rule> rules) {
        this.name = name;
        this.module = module;
        this.parameters = List.copyOf(parameters);
        this.parameterArray = parameters.toArray(new Parameter[0]);
        this.grid = grid;
        this.rules = rules.toArray(new Rule[0]);
    }

    /** Starts the spec of kernel family {@code name} (e.g. {@code lstm_forward}) defined in {@code module}{@code .cu}. */
    public static Builder kernel(String name, String module) {
        return new Builder(name, module);
    }

    /** The family name, e.g. {@code lstm_forward}. */
    public String name() {
        return name;
    }

    /** The kernel file's base name, e.g. {@code lstm_cell} for {@code cuda/lstm_cell.cu}. */
    public String module() {
        return module;
    }

    /** The {@code extern "C"} entry point for a floating-point type, e.g. {@code lstm_forward_f32}. */
    public String functionName(DType dtype) {
        if (!dtype.isFloatingPoint()) throw new IllegalArgumentException(name + ": kernels compute in F32 or F64, not " + dtype);
        return name + "_" + dtype.name().toLowerCase(Locale.ROOT);
    }

    public List<Parameter> parameters() {
        return parameters;
    }

    /** Parameter {@code i} of the signature (an array read: argument setters call it per launch). */
    Parameter parameter(int i) {
        return parameterArray[i];
    }

    /** Names of the parameters whose product is the element count of the grid-stride loop. */
    public List<String> gridParameters() {
        List<String> out = new ArrayList<>();
        for (int i : grid) out.add(parameters.get(i).name());
        return out;
    }

    /** Position of a parameter in the signature. */
    public int indexOf(String parameterName) {
        for (int i = 0; i < parameters.size(); i++) if (parameters.get(i).name().equals(parameterName)) return i;
        throw new IllegalArgumentException(name + " has no parameter '" + parameterName + "'");
    }

    /** A fresh argument block for this kernel in {@code dtype} (F32 or F64), to be filled and reused. */
    public KernelArgs args(DType dtype) {
        functionName(dtype);
        return new KernelArgs(this, dtype);
    }

    /** The signature as C would spell it, for messages. */
    public String signature() {
        StringBuilder s = new StringBuilder(name).append('(');
        for (int i = 0; i < parameters.size(); i++) {
            if (i > 0) s.append(", ");
            s.append(parameters.get(i));
        }
        return s.append(')').toString();
    }

    @Override
    public String toString() {
        return name;
    }

    long gridElements(KernelArgs a) {
        long n = 1;
        for (int i : grid) {
            long v = a.integer(i);
            if (v < 0) throw new IllegalArgumentException(name + ": " + parameterArray[i].name() + " = " + v + " is negative");
            n = Math.multiplyExact(n, v);
        }
        return n;
    }

    /** The contract: every argument given, pointers of the right type and open, each holding its extent. */
    void check(KernelArgs a) {
        if (a.filled() != parameterArray.length) {
            throw new IllegalArgumentException(name + " takes " + parameters.size() + " arguments " + parameters + ", got " + a.filled());
        }
        gridElements(a);
        for (Rule r : rules) {
            if (!r.holds().test(a)) throw new IllegalArgumentException(name + ": expected " + r.what() + ", got " + a.describeIntegers());
        }
        for (int i = 0; i < parameterArray.length; i++) {
            Parameter p = parameterArray[i];
            if (p.type() != Type.POINTER) continue;
            DeviceSlice s = a.slice(i);
            if (s == null) {
                if (!p.nullable()) throw new IllegalArgumentException(name + " " + p.name() + ": must not be null");
                continue;
            }
            DeviceBuffer b = s.buffer();
            if (b.isClosed()) throw new IllegalStateException(name + " " + p.name() + ": buffer of " + b.elements() + " " + b.dtype() + " used after close");
            DType want = p.pointee().in(a.dtype());
            if (b.dtype() != want) throw new IllegalArgumentException(name + " " + p.name() + ": expected an " + want + " buffer, got " + b.dtype());
            if (p.extent() == null) continue;
            long need = p.extent().elements().applyAsLong(a);
            if (need > 0 && s.offset() + need > b.elements()) {
                throw new IndexOutOfBoundsException(name + " " + p.name() + ": elements [" + s.offset() + ", " + (s.offset() + need)
                        + ") (" + p.extent() + " = " + need + ") outside a buffer of " + b.elements());
            }
        }
    }

    /** Builds a spec parameter by parameter, in the order of the {@code .cu} signature. */
    public static final class Builder {
        private final String name, module;
        private final List<String> names = new ArrayList<>();
        private final List<Type> types = new ArrayList<>();
        private final List<Element> pointees = new ArrayList<>();
        private final List<Boolean> nullables = new ArrayList<>();
        private final List<Object[]> extents = new ArrayList<>();
        private final List<Extent> customExtents = new ArrayList<>();
        private final List<Rule> rules = new ArrayList<>();
        private final List<String[]> bounds = new ArrayList<>();
        private String[] grid = new String[0];

        private Builder(String name, String module) {
            this.name = name;
            this.module = module;
        }

        private Builder add(String n, Type t, Element e, boolean nullable, Object[] extent, Extent custom) {
            if (names.contains(n)) throw new IllegalArgumentException(name + ": parameter " + n + " twice");
            names.add(n);
            types.add(t);
            pointees.add(e);
            nullables.add(nullable);
            extents.add(extent);
            customExtents.add(custom);
            return this;
        }

        /**
         * A pointer that must hold the product of {@code extent} from its offset: integer
         * constants and names of integer parameters, e.g. {@code 4, "rows", "hiddenSize"}.
         */
        public Builder pointer(String n, Element e, Object... extent) {
            return add(n, Type.POINTER, e, false, extent, null);
        }

        /** As {@link #pointer}, and NULL is accepted (then nothing is checked). */
        public Builder nullablePointer(String n, Element e, Object... extent) {
            return add(n, Type.POINTER, e, true, extent, null);
        }

        /** A pointer whose reach is a formula of the arguments ({@code formula} says it in messages). */
        public Builder pointer(String n, Element e, String formula, ToLongFunction<KernelArgs> elements) {
            return add(n, Type.POINTER, e, false, null, new Extent(formula, elements));
        }

        /** A pointer whose reach depends on data (a gather's source): only its type is checked. */
        public Builder unboundedPointer(String n, Element e) {
            return add(n, Type.POINTER, e, false, null, null);
        }

        public Builder int32(String n) {
            return add(n, Type.INT32, null, false, null, null);
        }

        public Builder int64(String n) {
            return add(n, Type.INT64, null, false, null, null);
        }

        public Builder real(String n) {
            return add(n, Type.REAL, null, false, null, null);
        }

        public Builder float64(String n) {
            return add(n, Type.FLOAT64, null, false, null, null);
        }

        /** The integer parameters whose product the grid-stride loop covers. */
        public Builder grid(String... parameters) {
            grid = parameters.clone();
            return this;
        }

        /** A relation between arguments the kernel relies on, said in messages as {@code what}. */
        public Builder require(String what, Predicate<KernelArgs> holds) {
            rules.add(new Rule(what, holds));
            return this;
        }

        /** Integer parameter {@code smaller} is at most {@code larger} (e.g. alive rows within their slot). */
        public Builder atMost(String smaller, String larger) {
            bounds.add(new String[]{smaller, larger});
            return this;
        }

        public KernelSpec build() {
            List<Parameter> params = new ArrayList<>();
            for (int i = 0; i < names.size(); i++) {
                Extent extent = customExtents.get(i);
                Object[] product = extents.get(i);
                if (extent == null && product != null && product.length > 0) extent = product(product);
                params.add(new Parameter(names.get(i), types.get(i), pointees.get(i), nullables.get(i), extent));
            }
            int[] gridIndex = new int[grid.length];
            for (int g = 0; g < grid.length; g++) gridIndex[g] = integerIndex(grid[g]);
            List<Rule> all = new ArrayList<>(rules);
            for (String[] b : bounds) {
                int small = integerIndex(b[0]), large = integerIndex(b[1]);
                all.add(new Rule(b[0] + " <= " + b[1], a -> a.integer(small) <= a.integer(large)));
            }
            return new KernelSpec(name, module, params, gridIndex, all);
        }

        private int integerIndex(String n) {
            int i = names.indexOf(n);
            if (i < 0 || (types.get(i) != Type.INT32 && types.get(i) != Type.INT64)) {
                throw new IllegalArgumentException(name + ": '" + n + "' is not an integer parameter");
            }
            return i;
        }

        private Extent product(Object[] factors) {
            long constant = 1;
            List<Integer> indexes = new ArrayList<>();
            StringBuilder formula = new StringBuilder();
            for (Object f : factors) {
                if (formula.length() > 0) formula.append('·');
                if (f instanceof Integer c) {
                    constant *= c;
                    formula.append(c);
                } else {
                    indexes.add(integerIndex((String) f));
                    formula.append(f);
                }
            }
            long c = constant;
            int[] at = indexes.stream().mapToInt(Integer::intValue).toArray();
            return new Extent(formula.toString(), a -> {
                long n = c;
                for (int i : at) n = Math.multiplyExact(n, Math.max(0, a.integer(i)));
                return n;
            });
        }
    }
}
