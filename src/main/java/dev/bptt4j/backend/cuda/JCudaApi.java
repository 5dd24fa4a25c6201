package dev.bptt4j.backend.cuda;

import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.jcublas.cublasOperation;
import jcuda.jcublas.cublasPointerMode;
import jcuda.nvrtc.JNvrtc;
import jcuda.nvrtc.nvrtcProgram;
import jcuda.runtime.cudaStream_t;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static jcuda.driver.JCudaDriver.*;

/**
 * {@link CudaApi} over JCuda: the only class in bptt4j that calls the CUDA driver, cuBLAS or
 * NVRTC. Errors surface as {@link CudaException} (exceptions are enabled, JCuda samples' idiom).
 *
 * <p>Setup, once: device 0's primary context (shared with the CUDA runtime that cuBLAS uses),
 * made current on the opening thread; one blocking stream; one cuBLAS handle bound to it, pointer
 * mode host (alpha and beta are host scalars); each kernel module loaded and each function looked
 * up once.
 *
 * <p>Kernels: the bundled PTX (CUDA 13, {@code .version 9.0}, compute_75) is tried first; an
 * R580+ driver loads it and JIT-compiles it for the device. An older driver (CUDA 12.x) answers
 * CUDA_ERROR_UNSUPPORTED_PTX_VERSION (or, for a failed JIT, INVALID_PTX / JIT_COMPILER_NOT_FOUND /
 * NO_BINARY_FOR_GPU); then the bundled {@code .cu} and its headers are compiled with NVRTC 12
 * (libnvrtc.so.12, needed only then) for the device's own compute capability straight to a CUBIN
 * ({@code nvrtcGetCUBIN}), or, if this NVRTC does not know that architecture, to PTX for the
 * newest {@code compute_XX} it knows, which the driver JIT-compiles. The image is cached by
 * {@link KernelCache} and loaded with cuModuleLoadData. {@link #description} says which path ran.
 *
 * <p>Copies: host-to-device and device-to-host use the synchronous cuMemcpy on the legacy default
 * stream, which waits for the work queued on our (blocking) stream; the host array can be reused
 * as soon as they return. Everything else is queued on our stream.
 */
public final class JCudaApi implements CudaApi {
    private final CUdevice device = new CUdevice();
    private final CUcontext context = new CUcontext();
    private final CUstream stream = new CUstream();
    private final cublasHandle cublas = new cublasHandle();
    private final List<CUmodule> modules = new ArrayList<>();
    private final Map<String, CUmodule> moduleByName = new HashMap<>();
    /** Looked up on a kernel's first launch, then kept. */
    private final Map<CudaKernel, CUfunction> functions = new HashMap<>();
    /** Live allocations by base address, to turn a device address into a CUdeviceptr with an offset. */
    private final TreeMap<Long, Allocation> allocations = new TreeMap<>();
    private final double[] alpha64 = new double[1], beta64 = new double[1];
    private final float[] alpha32 = new float[1], beta32 = new float[1];
    private int computeCapability;
    private String deviceLine = "?";
    private final List<String> kernelPaths = new ArrayList<>();
    private boolean contextRetained, streamCreated, cublasCreated, closed;
    /** The thread our context was last made current on (a CUDA context is current per thread). */
    private Thread boundThread;

    /** A CUdeviceptr that can tell its address (JCuda keeps it in a protected field). */
    private static final class Allocation extends CUdeviceptr {
        long address() {
            return getNativePointer();
        }
    }

    private JCudaApi() {
    }

    /**
     * Opens device 0: loads the JCuda natives (throws UnsatisfiedLinkError without a driver),
     * context, stream, cuBLAS and the kernels. On any failure releases what it made and rethrows.
     */
    public static JCudaApi open() {
        setExceptionsEnabled(true);
        JCublas2.setExceptionsEnabled(true);
        JCudaApi api = new JCudaApi();
        try {
            api.init();
            return api;
        } catch (RuntimeException | Error e) {
            try {
                api.close();
            } catch (RuntimeException | Error suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    private void init() {
        cuInit(0);
        int[] count = {0};
        cuDeviceGetCount(count);
        if (count[0] == 0) throw new IllegalStateException("the CUDA driver sees no device");
        cuDeviceGet(device, 0);
        cuDevicePrimaryCtxRetain(context, device);
        contextRetained = true;
        cuCtxSetCurrent(context);
        boundThread = Thread.currentThread();
        cuStreamCreate(stream, 0); // CU_STREAM_DEFAULT: blocking, so the legacy-stream copies order with it
        streamCreated = true;
        JCublas2.cublasCreate(cublas);
        cublasCreated = true;
        JCublas2.cublasSetStream(cublas, new cudaStream_t(stream));
        JCublas2.cublasSetPointerMode(cublas, cublasPointerMode.CUBLAS_POINTER_MODE_HOST);

        int[] major = {0}, minor = {0}, driver = {0}, cublasVersion = {0};
        cuDeviceComputeCapability(major, minor, device);
        computeCapability = major[0] * 10 + minor[0];
        cuDriverGetVersion(driver);
        JCublas2.cublasGetVersion(cublas, cublasVersion);
        byte[] name = new byte[256];
        cuDeviceGetName(name, name.length, device);
        long[] memory = {0};
        cuDeviceTotalMem(memory, device);
        deviceLine = cString(name) + ", compute capability " + major[0] + "." + minor[0] + ", " + (memory[0] >> 20)
                + " MiB, driver " + driver[0] / 1000 + "." + driver[0] % 1000 / 10 + ", cuBLAS " + cublasVersion[0];

        for (KernelModule m : KernelModule.values()) moduleByName.put(m.baseName(), loadModule(m));
    }

    // ---- kernel loading ----

    private CUmodule loadModule(KernelModule m) {
        CUmodule module = new CUmodule();
        try {
            cuModuleLoadData(module, nulTerminated(m.ptx()));
            modules.add(module);
            kernelPaths.add(m.baseName() + ": bundled PTX");
            return module;
        } catch (CudaException e) {
            if (!isPtxRejection(e)) throw e;
            byte[] image = compileWithNvrtc(m, e.getMessage());
            cuModuleLoadData(module, image);
            modules.add(module);
            return module;
        }
    }

    private static boolean isPtxRejection(CudaException e) {
        String m = String.valueOf(e.getMessage());
        for (int code : new int[]{CUresult.CUDA_ERROR_UNSUPPORTED_PTX_VERSION, CUresult.CUDA_ERROR_INVALID_PTX,
                CUresult.CUDA_ERROR_JIT_COMPILER_NOT_FOUND, CUresult.CUDA_ERROR_NO_BINARY_FOR_GPU}) {
            if (m.contains(CUresult.stringFor(code))) return true;
        }
        return false;
    }

    private byte[] compileWithNvrtc(KernelModule m, String ptxError) {
        JNvrtc.setExceptionsEnabled(true);
        int[] major = {0}, minor = {0}, archCount = {0};
        JNvrtc.nvrtcVersion(major, minor);
        JNvrtc.nvrtcGetNumSupportedArchs(archCount);
        int[] archs = new int[archCount[0]];
        JNvrtc.nvrtcGetSupportedArchs(archs);
        boolean cubin = Arrays.stream(archs).anyMatch(a -> a == computeCapability);
        int target = cubin ? computeCapability : Arrays.stream(archs).filter(a -> a <= computeCapability).max()
                .orElseThrow(() -> new IllegalStateException("NVRTC " + major[0] + "." + minor[0] + " supports no architecture at or below sm_" + computeCapability));
        String arch = (cubin ? "sm_" : "compute_") + target;
        List<String> options = List.of("--gpu-architecture=" + arch);
        String version = major[0] + "." + minor[0];
        Path cached = KernelCache.file(m, options, version, arch, cubin);
        String how = m.baseName() + ": driver rejected the bundled PTX (" + ptxError + "), NVRTC " + version + " → "
                + (cubin ? "CUBIN " : "PTX ") + arch;
        byte[] image = KernelCache.read(cached);
        if (image != null) {
            kernelPaths.add(how + ", cached " + cached);
            return image;
        }
        List<String> headers = m.headers();
        String[] headerSources = headers.stream().map(KernelModule::header).toArray(String[]::new);
        nvrtcProgram program = new nvrtcProgram();
        JNvrtc.nvrtcCreateProgram(program, m.source(), m.baseName() + ".cu", headers.size(), headerSources, headers.toArray(new String[0]));
        try {
            try {
                JNvrtc.nvrtcCompileProgram(program, options.size(), options.toArray(new String[0]));
            } catch (CudaException e) {
                String[] log = {""};
                JNvrtc.nvrtcGetProgramLog(program, log);
                throw new IllegalStateException("NVRTC could not compile " + m.baseName() + ".cu for " + arch + ": " + log[0].replace('\n', ' '), e);
            }
            if (cubin) {
                long[] size = {0};
                JNvrtc.nvrtcGetCUBINSize(program, size);
                image = new byte[Math.toIntExact(size[0])];
                JNvrtc.nvrtcGetCUBIN(program, image);
            } else {
                String[] ptx = {null};
                JNvrtc.nvrtcGetPTX(program, ptx);
                image = nulTerminated(ptx[0]);
            }
        } finally {
            JNvrtc.nvrtcDestroyProgram(program);
        }
        KernelCache.write(cached, image);
        kernelPaths.add(how + ", compiled now, cached " + cached);
        return image;
    }

    private static byte[] nulTerminated(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        return Arrays.copyOf(b, b.length + 1);
    }

    private static String cString(byte[] b) {
        int n = 0;
        while (n < b.length && b[n] != 0) n++;
        return new String(b, 0, n, StandardCharsets.UTF_8);
    }

    // ---- the CudaApi calls ----

    @Override
    public String description() {
        return deviceLine + "; kernels: " + String.join("; ", kernelPaths);
    }

    @Override
    public long allocate(DType dtype, long elements) {
        bind();
        Allocation p = new Allocation();
        cuMemAlloc(p, Math.multiplyExact(elements, (long) dtype.byteSize()));
        allocations.put(p.address(), p);
        return p.address();
    }

    @Override
    public long freeBytes() {
        bind();
        long[] free = new long[1], total = new long[1];
        cuMemGetInfo(free, total);
        return free[0];
    }

    @Override
    public void free(long address) {
        bind();
        Allocation p = allocations.remove(address);
        if (p == null) throw new IllegalArgumentException("free: 0x" + Long.toHexString(address) + " is not a live allocation");
        cuMemFree(p);
    }

    /**
     * Makes our context current when a call comes from another thread than the last one (the
     * backend is used by one thread at a time, not necessarily the one that opened it).
     */
    private void bind() {
        if (Thread.currentThread() != boundThread) {
            cuCtxSetCurrent(context);
            boundThread = Thread.currentThread();
        }
    }

    /** The CUdeviceptr for an address inside a live allocation. */
    private CUdeviceptr at(long address) {
        Map.Entry<Long, Allocation> e = allocations.floorEntry(address);
        if (e == null) throw new IllegalArgumentException("0x" + Long.toHexString(address) + " is not inside a live allocation");
        long offset = address - e.getKey();
        return offset == 0 ? e.getValue() : e.getValue().withByteOffset(offset);
    }

    @Override
    public void memsetZero(long address, long bytes) {
        bind();
        cuMemsetD8Async(at(address), (byte) 0, bytes, stream);
    }

    @Override
    public void copyHostToDevice(long address, Tensor host) {
        bind();
        cuMemcpyHtoD(at(address), hostPointer(host), (long) host.size() * host.dtype().byteSize());
    }

    @Override
    public void copyDeviceToHost(long address, Tensor host) {
        bind();
        cuMemcpyDtoH(hostPointer(host), at(address), (long) host.size() * host.dtype().byteSize());
    }

    private static Pointer hostPointer(Tensor t) {
        switch (t.dtype()) {
            case F32: return Pointer.to(t.f32());
            case F64: return Pointer.to(t.f64());
            case I32: return Pointer.to(t.i32());
            case I64: return Pointer.to(t.i64());
            default: throw new IllegalArgumentException("no device copies of " + t.dtype());
        }
    }

    @Override
    public void gemm(DType dtype, boolean transa, boolean transb, int m, int n, int k,
                     double alpha, long a, int lda, long b, int ldb, double beta, long c, int ldc) {
        bind();
        int opA = transa ? cublasOperation.CUBLAS_OP_T : cublasOperation.CUBLAS_OP_N;
        int opB = transb ? cublasOperation.CUBLAS_OP_T : cublasOperation.CUBLAS_OP_N;
        if (dtype == DType.F64) {
            alpha64[0] = alpha;
            beta64[0] = beta;
            JCublas2.cublasDgemm(cublas, opA, opB, m, n, k, Pointer.to(alpha64), at(a), lda, at(b), ldb, Pointer.to(beta64), at(c), ldc);
        } else if (dtype == DType.F32) {
            alpha32[0] = (float) alpha;
            beta32[0] = (float) beta;
            JCublas2.cublasSgemm(cublas, opA, opB, m, n, k, Pointer.to(alpha32), at(a), lda, at(b), ldb, Pointer.to(beta32), at(c), ldc);
        } else {
            throw new IllegalArgumentException("gemm: " + dtype + " is not F32 or F64");
        }
    }

    @Override
    public void launch(CudaKernel kernel, int gridSize, int blockSize, Object... args) {
        bind();
        Object[] native_ = args.clone();
        for (int i = 0; i < native_.length; i++) {
            if (native_[i] instanceof DevicePointer) native_[i] = at(((DevicePointer) native_[i]).address());
        }
        cuLaunchKernel(function(kernel), gridSize, 1, 1, blockSize, 1, 1, 0, stream,
                kernel.kernelParameters(native_), null);
    }

    private CUfunction function(CudaKernel kernel) {
        CUfunction f = functions.get(kernel);
        if (f == null) {
            CUmodule module = moduleByName.get(kernel.module());
            if (module == null) throw new IllegalArgumentException(kernel + ": no loaded kernel file " + kernel.module() + ".cu");
            f = new CUfunction();
            cuModuleGetFunction(f, module, kernel.functionName());
            functions.put(kernel, f);
        }
        return f;
    }

    @Override
    public void synchronize() {
        bind();
        cuStreamSynchronize(stream);
    }

    /** Best effort: every release is attempted; the first failure is rethrown after the rest. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        List<Runnable> releases = new ArrayList<>();
        if (contextRetained) releases.add(() -> cuCtxSetCurrent(context));
        for (CUmodule m : modules) releases.add(() -> cuModuleUnload(m));
        if (cublasCreated) releases.add(() -> JCublas2.cublasDestroy(cublas));
        if (streamCreated) releases.add(() -> cuStreamDestroy(stream));
        if (contextRetained) releases.add(() -> cuDevicePrimaryCtxRelease(device));
        RuntimeException first = null;
        for (Runnable r : releases) {
            try {
                r.run();
            } catch (RuntimeException e) {
                if (first == null) first = e;
                else first.addSuppressed(e);
            }
        }
        if (first != null) throw first;
    }
}
