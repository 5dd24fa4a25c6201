package dev.bptt4j.backend;

/**
 * The argument checks every backend runs before touching memory, so that a bad offset or leading
 * dimension is an exception naming the operand rather than a native crash or a silent overwrite.
 */
public final class BufferChecks {
    private BufferChecks() {
    }

    /** Elements [offset, offset + count) must lie inside the buffer. */
    public static void checkRange(String what, DeviceBuffer b, long offset, long count) {
        if (b == null) throw new IllegalArgumentException(what + ": buffer is null");
        if (offset < 0 || count < 0 || offset + count > b.elements()) {
            throw new IndexOutOfBoundsException(what + ": elements [" + offset + ", " + (offset + count)
                    + ") outside a buffer of " + b.elements());
        }
    }

    /** A row-major rows×cols matrix with leading dimension ld must lie inside the buffer. */
    public static void checkMatrix(String what, DeviceBuffer b, long offset, int rows, int cols, int ld) {
        if (rows < 0 || cols < 0) throw new IllegalArgumentException(what + ": negative dimension " + rows + "x" + cols);
        if (ld < Math.max(1, cols)) throw new IllegalArgumentException(what + ": leading dimension " + ld + " < columns " + cols);
        if (rows == 0 || cols == 0) return;
        checkRange(what, b, offset, (long) (rows - 1) * ld + cols);
    }
}
