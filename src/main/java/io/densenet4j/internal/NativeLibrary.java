package io.densenet4j.internal;

import io.densenet4j.DenseNetException;
import org.bytedeco.javacpp.Loader;

import java.util.function.Supplier;

/**
 * Loads the native core once and turns native failures into {@link DenseNetException}s.
 * Native jars exist for {@code linux-x86_64} only; elsewhere loading fails with a message
 * naming the platform.
 */
public final class NativeLibrary {
    /** Platforms for which densenet4j ships native jars. */
    public static final String SUPPORTED = "linux-x86_64";
    private static volatile boolean loaded;
    private static volatile boolean gpuJar;

    private NativeLibrary() {}

    /** Loads the native libraries (idempotent); throws DenseNetException naming the platform on failure. */
    public static void ensureLoaded() {
        if (loaded) return;
        synchronized (NativeLibrary.class) {
            if (loaded) return;
            String platform = Loader.getPlatform();
            if (!SUPPORTED.equals(platform)) {
                throw new DenseNetException("densenet4j has native libraries for " + SUPPORTED + " only; this platform is " + platform);
            }
            try {
                Loader.load(NativeCore.class);
            } catch (Throwable e) {
                throw new DenseNetException(loadFailure(platform, e), e);
            }
            locateCudaLibrary(platform);
            loaded = true;
        }
    }

    /** One line saying why the natives did not load, and what to do: no Java class names. */
    static String loadFailure(String platform, Throwable e) {
        String m = String.valueOf(e.getMessage());
        String cache;
        try {
            cache = String.valueOf(Loader.getCacheDir());
        } catch (Throwable t) {
            cache = "(none usable: " + t.getMessage() + ")";
        }
        String lower = m.toLowerCase(java.util.Locale.ROOT);
        if (lower.contains("failed to map segment") || lower.contains("operation not permitted") || lower.contains("additional memory protection")) {
            return "the densenet4j native library was extracted to " + cache + " but could not be mapped executable there (a noexec"
                    + " file system?); set -Dorg.bytedeco.javacpp.cachedir=DIR to a directory on an exec-mounted file system";
        }
        if (lower.contains("already loaded in another classloader")) {
            return "the densenet4j natives are already loaded by another class loader in this JVM (a JNI library belongs to one"
                    + " class loader); load densenet4j from a class loader the applications share";
        }
        if (lower.contains("permission denied") || lower.contains("read-only") || lower.contains("could not create")
                || lower.contains("cannot create")) {
            return "cannot extract the densenet4j native libraries into " + cache + " (" + m + "); set"
                    + " -Dorg.bytedeco.javacpp.cachedir=DIR to a writable directory";
        }
        if (NativeLibrary.class.getResource("/io/densenet4j/internal/" + platform + "/libjniNativeCore.so") == null) {
            return "cannot load the densenet4j native library: the densenet4j " + platform + " jar is not on the classpath";
        }
        return "cannot load the densenet4j native library for " + platform + " from " + cache + ": " + m;
    }

    /**
     * Points the core at the CUDA backend of the {@code linux-x86_64-gpu} jar, when that jar is on
     * the classpath (extracted like the other natives). Loading it waits for the first CUDA use.
     */
    private static void locateCudaLibrary(String platform) {
        String res = "/io/densenet4j/internal/" + platform + "-gpu/libdensenet4j_cuda.so.1";
        if (NativeCore.class.getResource(res) == null) return;
        gpuJar = true;
        try {
            java.io.File f = Loader.cacheResource(NativeCore.class, res);
            if (f != null) NativeCore.set_cuda_library(f.getAbsolutePath());
        } catch (java.io.IOException e) {
            throw new DenseNetException("cannot extract the CUDA backend " + res + ": " + e.getMessage(), e);
        }
    }

    /** Whether the {@code linux-x86_64-gpu} jar (the CUDA backend) is on the classpath. */
    public static boolean gpuJarPresent() {
        ensureLoaded();
        return gpuJar;
    }

    /** Whether the CPU backend runs dtype bf16 here (the CPU has AVX512_BF16). */
    public static boolean cpuBf16Supported() { return call(NativeCore::cpu_bf16_supported); }

    /** One line: the instruction sets oneDNN's fp32 and bf16 matmuls use on this CPU. */
    public static String cpuIsaInfo() { return call(NativeCore::cpu_isa_info); }

    /** Usable CUDA devices (compute capability 8.0 or newer); 0 when CUDA cannot run here. */
    public static int cudaDeviceCount() { return call(NativeCore::cuda_device_count); }

    /** Whether CUDA inference and training can run here (GPU, driver, cuDNN 9 and the gpu jar). */
    public static boolean cudaAvailable() { return call(NativeCore::cuda_available); }

    /** The CUDA device line when {@link #cudaAvailable()}, else what is missing (one sentence). */
    public static String cudaInfo() { return call(NativeCore::cuda_info); }

    /** GPU bytes the CUDA backend holds now / at most since {@link #resetDevicePeak()} (0 without CUDA). */
    public static long deviceBytesInUse() { return call(NativeCore::device_bytes_in_use); }

    public static long deviceBytesPeak() { return call(NativeCore::device_bytes_peak); }

    public static void resetDevicePeak() { run(NativeCore::device_bytes_reset_peak); }

    /** Runs a native call; a C++ exception becomes a DenseNetException with its message. */
    public static <T> T call(Supplier<T> f) {
        ensureLoaded();
        try {
            return f.get();
        } catch (DenseNetException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new DenseNetException(e.getMessage() == null ? e.toString() : e.getMessage(), e);
        }
    }

    /** {@link #call(Supplier)} for calls without a result. */
    public static void run(Runnable f) {
        call(() -> {
            f.run();
            return null;
        });
    }

    /** Native bytes held now (weights, activations, scratch; not the JVM heap). */
    public static long nativeBytesInUse() { return call(NativeCore::native_bytes_in_use); }

    /** High-water mark of native bytes since start or {@link #resetPeak()}. */
    public static long nativeBytesPeak() { return call(NativeCore::native_bytes_peak); }

    public static void resetPeak() { run(NativeCore::native_bytes_reset_peak); }

    public static String version() { return call(NativeCore::version_string); }
}
