package dev.bptt4j.backend.cuda;

import jcuda.Pointer;

/**
 * A device address as a kernel argument. It is a {@link Pointer} only so that
 * {@link CudaKernel#validate} accepts it where a kernel takes a pointer; it is never handed to
 * native code as it is: {@link JCudaApi} turns it into a {@code CUdeviceptr} of the allocation
 * it lies in, and {@link EmulatedCudaApi} decodes it. Creating one loads no native library.
 */
public final class DevicePointer extends Pointer {
    private final long address;

    public DevicePointer(long address) {
        if (address == 0) throw new IllegalArgumentException("device address 0 is NULL; pass null for an absent pointer");
        this.address = address;
    }

    public long address() {
        return address;
    }

    @Override
    public String toString() {
        return "DevicePointer[0x" + Long.toHexString(address) + "]";
    }
}
