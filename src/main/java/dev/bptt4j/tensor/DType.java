package dev.bptt4j.tensor;

/** Element types that cross the library's boundary: floating-point tensors, lengths, device indices. */
public enum DType {
    F32(4, "F32"),
    F64(8, "F64"),
    I64(8, "I64"),
    /** Row indices on a device; never read from or written to files. */
    I32(4, "I32");

    private final int byteSize;
    private final String safetensorsName;

    DType(int byteSize, String safetensorsName) {
        this.byteSize = byteSize;
        this.safetensorsName = safetensorsName;
    }

    public int byteSize() {
        return byteSize;
    }

    /** The dtype string used in safetensors headers. */
    public String safetensorsName() {
        return safetensorsName;
    }

    public boolean isFloatingPoint() {
        return this == F32 || this == F64;
    }

    /** Parses a user-facing dtype name: f32/float32/F32 or f64/float64/double/F64. */
    public static DType parseFloat(String name) {
        switch (name.toLowerCase(java.util.Locale.ROOT)) {
            case "f32": case "float32": case "float": return F32;
            case "f64": case "float64": case "double": return F64;
            default: throw new IllegalArgumentException("dtype: expected f32 or f64, got '" + name + "'");
        }
    }
}
