package io.densenet4j.internal;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Const;
import org.bytedeco.javacpp.annotation.Name;
import org.bytedeco.javacpp.annotation.Namespace;
import org.bytedeco.javacpp.annotation.Platform;
import org.bytedeco.javacpp.annotation.Properties;
import org.bytedeco.javacpp.annotation.StdString;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;

/**
 * JavaCPP bindings of the C++ core ({@code native/include/densenet4j/core.h}): coarse calls
 * only, one per batch. The oneDNN preset is loaded first, so {@code libdnnl} (and its OpenMP
 * runtime) come from the org.bytedeco:dnnl platform jar. C++ exceptions arrive as {@link RuntimeException}s with the native message;
 * {@link NativeLibrary} wraps these calls and rethrows them as DenseNetException.
 */
@Properties(value = @Platform(value = "linux-x86_64", include = "densenet4j/core.h", link = "densenet4j_core@.1"))
@Namespace("dn4j")
public class NativeCore {
    static {
        loadOneDnn();
        Loader.load();
    }

    /**
     * Loads libgomp and libdnnl from the org.bytedeco:dnnl platform jar by file, without its
     * JNI preset (which would also want OpenCL's); the core links them by soname.
     */
    private static void loadOneDnn() {
        for (String lib : new String[] {"libgomp.so.1", "libdnnl.so.3"}) {
            String res = "/org/bytedeco/dnnl/" + Loader.getPlatform() + "/" + lib;
            try {
                java.io.File f = Loader.cacheResource(NativeCore.class, res);
                if (f == null) throw new UnsatisfiedLinkError("resource " + res + " not found (is org.bytedeco:dnnl:" + Loader.getPlatform() + " on the classpath?)");
                System.load(f.getAbsolutePath());
            } catch (java.io.IOException e) {
                throw new UnsatisfiedLinkError("cannot extract " + res + ": " + e);
            }
        }
    }

    public static native @Cast("int64_t") long native_bytes_in_use();
    public static native @Cast("int64_t") long native_bytes_peak();
    public static native void native_bytes_reset_peak();
    public static native @StdString String version_string();
    public static native @StdString String available_devices();
    public static native @Cast("bool") boolean cpu_bf16_supported();
    public static native @StdString String cpu_isa_info();
    public static native void set_cuda_library(@StdString String path);
    public static native @Cast("bool") boolean cuda_available();
    public static native int cuda_device_count();
    public static native @StdString String cuda_info();
    public static native @Cast("int64_t") long device_bytes_in_use();
    public static native @Cast("int64_t") long device_bytes_peak();
    public static native void device_bytes_reset_peak();

    /** Named float32 tensors in PyTorch layout. */
    @Name("WeightStore")
    public static class WeightStore extends Pointer {
        static {
            Loader.load();
        }

        public WeightStore() {
            allocate();
        }

        private native void allocate();

        public native void put(@StdString String name, @Const float[] data, @Cast("const int64_t*") long[] shape, int rank);

        public native @Cast("int64_t") long bytes();

        public native @Cast("int64_t") long count();
    }

    /** Copies tensor {@code name} of a WeightStore into {@code out}. */
    public static native void weight_store_read(@Const WeightStore w, @StdString String name, float[] out);

    /** Training on one device: forward, backward, SGD; parameters updated in the WeightStore. */
    @Name("Trainer")
    public static class Trainer extends Pointer {
        static {
            Loader.load();
        }

        public Trainer(String plan, WeightStore weights, String device, int threads, String memory) {
            allocate(plan, weights, device, threads, memory);
        }

        /** With backend options, e.g. {@code dtype=fp16} on CUDA (see {@link io.densenet4j.Devices#trainOptions}). */
        public Trainer(String plan, WeightStore weights, String device, int threads, String memory, String options) {
            allocate(plan, weights, device, threads, memory, options);
        }

        private native void allocate(@StdString String plan, WeightStore weights, @StdString String device, int threads,
                                     @StdString String memory);

        private native void allocate(@StdString String plan, WeightStore weights, @StdString String device, int threads,
                                     @StdString String memory, @StdString String options);

        public native double forward_backward(@Const float[] input, @Cast("const int64_t*") long[] labels, @Cast("int64_t") long n,
                                              @Cast("uint64_t") long seed, float[] logits);

        public native void sgd_step(float lr, float momentum, float weightDecay, boolean nesterov);

        public native @Cast("int64_t") long estimate_bytes(@Cast("int64_t") long n);

        public native @Cast("int64_t") long param_count();

        public native @StdString String param_name(@Cast("int64_t") long i);

        public native @Cast("int64_t") long param_numel(@Cast("int64_t") long i);

        public native void read_grad(@StdString String name, float[] out);

        public native void read_momentum(@StdString String name, float[] out);

        public native void write_momentum(@StdString String name, @Const float[] in);

        public native boolean has_momentum();

        public native void set_has_momentum(boolean on);

        public native void sync_weights();

        public native @StdString String describe();
    }

    /** Runs one plan on one device. */
    @Name("Engine")
    public static class Engine extends Pointer {
        static {
            Loader.load();
        }

        public Engine(String plan, WeightStore weights, String device, int threads) {
            allocate(plan, weights, device, threads);
        }

        public Engine(String plan, WeightStore weights, String device, int threads, String options) {
            allocate(plan, weights, device, threads, options);
        }

        private native void allocate(@StdString String plan, WeightStore weights, @StdString String device, int threads);

        private native void allocate(@StdString String plan, WeightStore weights, @StdString String device, int threads,
                                     @StdString String options);

        public native void forward(@Const float[] input, @Cast("int64_t") long n, float[] output);

        /** Direct buffers (position 0: pass slices), read and written in place without a Java-array copy. */
        public native void forward(@Const FloatBuffer input, @Cast("int64_t") long n, FloatBuffer output);

        public native void forward_u8(@Cast("const uint8_t*") byte[] input, @Cast("int64_t") long n, @Const float[] mean,
                                      @Const float[] std, float[] output);

        public native void forward_u8(@Cast("const uint8_t*") ByteBuffer input, @Cast("int64_t") long n, @Const float[] mean,
                                      @Const float[] std, FloatBuffer output);

        /** Double buffering: starts a batch of direct buffers (position 0) and returns its ticket; the input may be reused at once. */
        public native @Cast("int64_t") long submit(@Const FloatBuffer input, @Cast("int64_t") long n);

        public native @Cast("int64_t") long submit_u8(@Cast("const uint8_t*") ByteBuffer input, @Cast("int64_t") long n,
                                                     @Const float[] mean, @Const float[] std);

        /** Waits for a submitted batch and writes its logits (position 0). */
        public native void collect(@Cast("int64_t") long ticket, FloatBuffer output);

        public native int max_in_flight();

        public native @Cast("int64_t") long output_size(@Cast("int64_t") long n);

        public native @Cast("int64_t") long buffer_size(@StdString String name);

        public native void read_buffer(@StdString String name, float[] out);

        public native void set_poison(boolean on);

        public native @StdString String describe();

        /** With option calibrate=1: lines "NAME v0 v1 ..." of the per-channel input maxima seen so far. */
        public native @StdString String calibration();
    }
}
