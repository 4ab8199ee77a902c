package io.densenet4j;

import io.densenet4j.internal.NativeCore;
import io.densenet4j.internal.NativeLibrary;
import io.densenet4j.io.StateDict;
import io.densenet4j.io.StateDicts;
import io.densenet4j.io.Tensor;
import io.densenet4j.topology.Plan;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Inference with one DenseNet and its weights on the native core (eval mode: BatchNorm uses
 * its running statistics, which are never changed; dropout is off), matching torchvision's
 * {@code model.eval()(x)} to 1e-4.
 *
 * <p>Weights are copied into native memory once; for each input size a plan is compiled and
 * its buffers are allocated on first use and reused for every later batch of that size.
 *
 * <p>Devices: the CPU (oneDNN; {@link Options#dtype()} picks fp32, int8 with calibrated weights
 * ({@link Calibrator}) or, on CPUs with AVX512_BF16, bf16) or an NVIDIA GPU (cuDNN; fp32, tf32,
 * fp16 or bf16). CPU bf16 logits agree with fp32 to a relative L2 error of 2.4e-3 to 3.3e-3 on the
 * golden cases (README, section "CPU bf16"), int8 logits to 8e-3 to 2.5e-2 (section "CPU int8"). On the GPU a batch size's first call also captures the whole forward in
 * a CUDA Graph, which later calls of that size replay.
 *
 * <p>Thread safety: a Predictor may be shared between threads; its calls are serialised
 * (one batch at a time); on a GPU each Predictor has its own CUDA stream. For parallel throughput give each thread its own Predictor; each
 * one's batches already use all the threads given in {@link Options#threads()}.
 *
 * <p>AutoCloseable: {@link #close()} frees all native memory it holds.
 */
public final class Predictor implements AutoCloseable {
    /** The most CPU threads a predictor or trainer takes (OpenMP fails on thousands). */
    public static final int MAX_THREADS = 1024;

    /**
     * @param device  {@code auto} (the default: CUDA where available, else CPU, with one log line),
     *                {@code cpu}, {@code cuda} or {@code cuda:INDEX} (see {@link Devices})
     * @param threads CPU threads per batch; 0 means all cores; at most {@link #MAX_THREADS}
     * @param dtype   {@code fp32} (default; true fp32); {@code bf16} on CUDA, or on a CPU with AVX512_BF16 (the
     *                convolution matmuls in bf16 with fp32 accumulation, see {@link Devices}); on CUDA also
     *                {@code tf32}, {@code fp16}; on the CPU {@code int8} (weights from {@link Calibrator};
     *                {@code auto} then means the CPU)
     */
    public record Options(String device, int threads, String dtype) {
        public Options {
            if (threads < 0 || threads > MAX_THREADS) {
                throw new IllegalArgumentException("threads must be from 0 (all cores) to " + MAX_THREADS + ", got " + threads);
            }
            Devices.checkName(device);
            Devices.checkDtype(dtype);
        }

        /** fp32 on {@code device}. */
        public Options(String device, int threads) { this(device, threads, "fp32"); }

        public static Options defaults() { return new Options("auto", 0, "fp32"); }
    }

    private final DenseNet net;
    private final Options options;
    private final String device;
    private final String backendOptions;
    private NativeCore.WeightStore store;
    private final Map<EngineKey, NativeCore.Engine> engines = new HashMap<>();

    /** One native engine per input size and, for a GPU batcher's fixed batch sizes, per batch size (0: any). */
    private record EngineKey(int height, int width, int batch) {}

    private Predictor(DenseNet net, StateDict weights, Options options, boolean calibrate) {
        this.net = net;
        this.options = options;
        net.checkWeights(weights);
        this.device = Devices.checkFor(options.device(), options.dtype(), false);  // auto's fallback is logged at the first forward
        this.backendOptions = calibrate ? "calibrate=1" : Devices.options(device, options.dtype());
        boolean int8 = options.dtype().equals("int8");
        if (int8 && weights.keys().stream().noneMatch(k -> k.endsWith(StateDicts.RANGE_SUFFIX))) {
            throw new IllegalArgumentException("dtype int8 needs calibration ranges, and these weights have none: make them with "
                    + "`densenet4j quantize --weights W --calibration DATASET --out Q.safetensors` (Java: Calibrator)");
        }
        this.store = NativeLibrary.call(NativeCore.WeightStore::new);
        try {
            for (Map.Entry<String, long[]> e : net.stateDictShapes().all().entrySet()) {
                if (!e.getKey().endsWith("num_batches_tracked")) put(e.getKey(), weights.require(e.getKey()).toFloats(), e.getValue());
            }
            if (int8) {  // the native side checks each conv's range: name and shape (C_in)
                for (String k : weights.keys()) {
                    if (k.endsWith(StateDicts.RANGE_SUFFIX)) put(k, weights.require(k).toFloats(), weights.require(k).shape());
                }
            }
        } catch (RuntimeException ex) {
            close();
            throw ex;
        }
    }

    /** Copies one tensor into the native weight store. */
    private void put(String name, float[] data, long[] shape) {
        NativeLibrary.run(() -> store.put(name, data, shape, shape.length));
    }

    /**
     * A predictor for {@code config} with {@code weights} (torchvision key names; see
     * {@link DenseNet#checkWeights}).
     *
     * @throws io.densenet4j.io.WeightsMismatchException naming the network, what the weights look like and the first
     *         mismatching key ({@code details()} lists every missing, unexpected and mis-shaped key)
     * @throws DeviceUnavailableException if {@code cuda} is asked for and cannot run here (the message says what is missing)
     * @throws IllegalArgumentException   for {@code tf32} or {@code fp16} on the CPU, {@code bf16} on a CPU without AVX512_BF16,
     *         {@code int8} on CUDA or with weights that lack calibration ranges ({@link Calibrator})
     * @throws DenseNetException if the native library cannot load
     */
    public static Predictor create(DenseNetConfig config, StateDict weights, Options options) {
        return new Predictor(new DenseNet(config), weights, options, false);
    }

    /** An fp32 CPU predictor whose engines record calibration ranges (for {@link Calibrator}). */
    static Predictor calibrating(DenseNetConfig config, StateDict weights, int threads) {
        return new Predictor(new DenseNet(config), weights, new Options("cpu", threads, "fp32"), true);
    }

    /** The calibration text of every engine so far ({@link #calibrating} predictors): lines "NAME v0 v1 ...". */
    synchronized java.util.List<String> calibration() {
        java.util.List<String> all = new java.util.ArrayList<>();
        for (NativeCore.Engine e : engines.values()) all.add(NativeLibrary.call(e::calibration));
        return all;
    }

    /**
     * Reads weights ({@code .pth} in either torch.save layout, or {@code .safetensors}) and builds
     * a predictor; with {@code config == null} the architecture is inferred from the tensor shapes.
     */
    public static Predictor load(Path weightsFile, DenseNetConfig config, Options options) {
        StateDict sd = StateDicts.load(weightsFile);
        DenseNetConfig cfg = config != null ? config : ArchitectureInference.infer(sd);
        return create(cfg, sd, options);
    }

    public DenseNet network() { return net; }
    public int numClasses() { return net.config().numClasses(); }
    /** The device batches run on ({@code cpu}, {@code cuda} or {@code cuda:INDEX}). */
    public String device() { return device; }

    /**
     * Logits for a batch.
     *
     * @param input  {@code (n, C, height, width)} float32, NCHW (PyTorch's layout), C = the config's in_channels
     * @return {@code (n, classes)} float32 logits, row-major
     * @throws IllegalArgumentException if the array length does not match, or the input is below the network's minimum size
     * @throws IllegalStateException    after {@link #close()}
     */
    public synchronized float[] forward(float[] input, int n, int height, int width) {
        checkInput(input.length, "floats", "(" + n + ", " + net.config().inChannels() + ", " + height + ", " + width + ")", n, height, width);
        NativeCore.Engine e = engine(height, width);
        float[] out = new float[n * numClasses()];
        NativeLibrary.run(() -> e.forward(input, n, out));
        ran();
        return out;
    }

    /**
     * Logits for a batch held in direct (off-heap) buffers, read and written in place: no Java-array
     * copy on either side. Reads {@code input} from its position, writes {@code output} from its
     * position; neither buffer's position changes.
     *
     * @param input  {@code (n, C, height, width)} float32 NCHW, a direct buffer in native byte order with
     *               exactly that many floats remaining (see {@link #allocateFloats})
     * @param output direct, writable, native byte order, at least {@code n * classes} floats remaining;
     *               receives {@code (n, classes)} float32 logits, row-major
     * @throws IllegalArgumentException for a heap or read-only buffer, the wrong byte order or size, or
     *                                  an input below the network's minimum size
     * @throws IllegalStateException    after {@link #close()}
     */
    public synchronized void forward(FloatBuffer input, int n, int height, int width, FloatBuffer output) {
        checkInput(directFloats(input, "input", false), "floats", "(" + n + ", " + net.config().inChannels() + ", " + height + ", " + width + ")", n, height, width);
        checkOutput(output, n);
        NativeCore.Engine e = engine(height, width);
        FloatBuffer in = input.slice(), out = output.slice();
        NativeLibrary.run(() -> e.forward(in, n, out));
        ran();
    }

    /**
     * Logits for uint8 images as decoders give them, normalised natively by the first op as
     * {@code (x / 255 - mean[c]) / std[c]} in float32: torchvision's {@code ToTensor()} then
     * {@code Normalize(mean, std)}, so the result equals {@link #forward(float[], int, int, int)} on
     * {@link io.densenet4j.image.ImageTransform}'s normalised floats (bit for bit on the CPU). A quarter of
     * the float path's bytes cross the JNI boundary (and, on a GPU, PCIe).
     *
     * @param input {@code (n, height, width, C)} uint8, channels last (HWC per image), values 0..255
     * @param mean  C per-channel means on the 0..1 scale (e.g. {@link io.densenet4j.image.ImageTransform#IMAGENET_MEAN})
     * @param std   C per-channel standard deviations, finite and positive
     * @return {@code (n, classes)} float32 logits, row-major
     * @throws IllegalArgumentException if a length does not match or the input is below the network's minimum size
     * @throws IllegalStateException    after {@link #close()}
     */
    public synchronized float[] forwardUint8(byte[] input, int n, int height, int width, float[] mean, float[] std) {
        checkInput(input.length, "bytes", uint8Shape(n, height, width), n, height, width);
        checkNormalization(mean, std);
        NativeCore.Engine e = engine(height, width);
        float[] out = new float[n * numClasses()];
        NativeLibrary.run(() -> e.forward_u8(input, n, mean, std, out));
        ran();
        return out;
    }

    /**
     * {@link #forwardUint8(byte[], int, int, int, float[], float[])} on direct buffers, in place:
     * {@code input} (n, height, width, C) uint8 from its position (exactly that many bytes remaining),
     * logits written to {@code output} (direct, writable, native order) from its position; positions unchanged.
     *
     * @throws IllegalArgumentException for a heap or read-only buffer, the wrong byte order or size
     */
    public synchronized void forwardUint8(ByteBuffer input, int n, int height, int width, float[] mean, float[] std, FloatBuffer output) {
        if (!input.isDirect()) throw new IllegalArgumentException("input must be a direct ByteBuffer (ByteBuffer.allocateDirect); for heap data pass a byte[]");
        checkInput(input.remaining(), "bytes", uint8Shape(n, height, width), n, height, width);
        checkNormalization(mean, std);
        checkOutput(output, n);
        NativeCore.Engine e = engine(height, width);
        ByteBuffer in = input.slice();
        FloatBuffer out = output.slice();
        NativeLibrary.run(() -> e.forward_u8(in, n, mean, std, out));
        ran();
    }

    /** For tests: a batch whose staged input and size this accepts fails at {@link #submit}, as a native error would. */
    volatile java.util.function.BiPredicate<java.nio.Buffer, Integer> submitFault;

    /** A batch started by {@link #submit} and not yet collected. */
    record Pending(NativeCore.Engine engine, long ticket, int n) {}

    /**
     * Double buffering (for {@link BatchingPredictor}): starts a batch held in direct buffers and returns
     * without waiting for it where the engine allows ({@link #overlaps()}); the input may be reused as
     * soon as this returns. {@code float32 (n, C, height, width)} when {@code mean} is null, else uint8
     * {@code (n, height, width, C)} normalised with {@code mean} and {@code std}, both read from position 0
     * (the caller checks the images and the normalisation; this only that the buffer holds n images).
     * {@code batchEngine}: run on the engine kept for batches of exactly n.
     */
    synchronized Pending submit(java.nio.Buffer input, int n, int height, int width, float[] mean, float[] std, boolean batchEngine) {
        long want = (long) n * net.config().inChannels() * height * width;
        if (n <= 0 || input.capacity() < want) {  // the native side reads n images from position 0
            throw new IllegalArgumentException("submit: the buffer holds " + input.capacity() + " elements; " + n + " images need " + want);
        }
        java.util.function.BiPredicate<java.nio.Buffer, Integer> fault = submitFault;
        if (fault != null && fault.test(input, n)) throw new IllegalStateException("injected fault (test) in a batch of " + n);
        NativeCore.Engine e = engine(height, width, batchEngine ? n : 0);
        long ticket = NativeLibrary.call(() -> mean == null ? e.submit((FloatBuffer) input, n)
                : e.submit_u8((ByteBuffer) input, n, mean, std));
        return new Pending(e, ticket, n);
    }

    /** Waits for a batch from {@link #submit} and writes its {@code (n, classes)} logits to {@code output} (position 0). */
    synchronized void collect(Pending p, FloatBuffer output) {
        if (store == null) throw new IllegalStateException("predictor is closed");
        NativeLibrary.run(() -> p.engine().collect(p.ticket(), output));
        ran();
    }

    /** The batch sizes of the engines kept for fixed batch sizes so far (for tests). */
    synchronized java.util.Set<Integer> fixedBatchSizes() {
        java.util.Set<Integer> out = new java.util.TreeSet<>();
        for (EngineKey k : engines.keySet()) if (k.batch() > 0) out.add(k.batch());
        return out;
    }

    /** Whether this predictor's batches run asynchronously to their submission (CUDA), so double buffering pays. */
    boolean overlaps() { return !device.equals("cpu"); }

    /** A direct float buffer in native byte order with room for {@code count} floats, for {@link #forward(FloatBuffer, int, int, int, FloatBuffer)}; reusable across calls. */
    public static FloatBuffer allocateFloats(int count) {
        if (count <= 0 || count > Integer.MAX_VALUE / 4) throw new IllegalArgumentException("float count must be in 1.." + Integer.MAX_VALUE / 4 + ", got " + count);
        return ByteBuffer.allocateDirect(count * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    private String uint8Shape(int n, int height, int width) {
        return "(" + n + ", " + height + ", " + width + ", " + net.config().inChannels() + ") uint8";
    }

    /** Checks the batch, the size against the network's minimum, and the element count. */
    private void checkInput(long have, String unit, String shape, int n, int height, int width) {
        if (store == null) throw new IllegalStateException("predictor is closed");
        if (n <= 0) throw new IllegalArgumentException("batch size must be positive, got " + n);
        long want;
        try {
            want = Math.multiplyExact(Math.multiplyExact((long) n * net.config().inChannels(), (long) height), (long) width);
        } catch (ArithmeticException overflow) {
            want = -1;
        }
        if (height <= 0 || width <= 0 || have != want) {
            throw new IllegalArgumentException("input has " + have + " " + unit + "; " + shape + " needs " + (want < 0 ? "more than 2^63" : Long.toString(want)));
        }
    }

    private void checkNormalization(float[] mean, float[] std) { checkNormalization(net.config().inChannels(), mean, std); }

    /** Refuses (IllegalArgumentException, one sentence) a mean/std that is not {@code c} finite values with std > 0. */
    static void checkNormalization(int c, float[] mean, float[] std) {
        if (mean == null || std == null || mean.length != c || std.length != c) {
            throw new IllegalArgumentException("uint8 input needs " + c + " means and " + c + " stds (one per input channel), got "
                    + (mean == null ? "none" : Integer.toString(mean.length)) + " and " + (std == null ? "none" : Integer.toString(std.length)));
        }
        for (int i = 0; i < c; i++) {
            if (!Float.isFinite(mean[i]) || !Float.isFinite(std[i]) || !(std[i] > 0f)) {
                throw new IllegalArgumentException("normalisation of channel " + i + " needs a finite mean and a finite, positive std, got mean="
                        + mean[i] + " std=" + std[i]);
            }
        }
    }

    private void checkOutput(FloatBuffer output, int n) {
        long have = directFloats(output, "output", true);
        long want = (long) n * numClasses();
        if (have < want) throw new IllegalArgumentException("output has " + have + " floats remaining; (" + n + ", " + numClasses() + ") logits need " + want);
    }

    /** Floats remaining in a direct, native-order buffer (writable if {@code write}); refuses others with one sentence. */
    private static long directFloats(FloatBuffer b, String what, boolean write) {
        if (b == null) throw new IllegalArgumentException(what + " buffer is null");
        if (!b.isDirect()) throw new IllegalArgumentException(what + " must be a direct FloatBuffer (Predictor.allocateFloats); for heap data pass a float[]");
        if (b.order() != ByteOrder.nativeOrder()) {
            throw new IllegalArgumentException(what + " buffer is " + b.order() + "; it must be in native byte order (" + ByteOrder.nativeOrder()
                    + "): ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder()).asFloatBuffer()");
        }
        if (write && b.isReadOnly()) throw new IllegalArgumentException(what + " buffer is read-only");
        return b.remaining();
    }

    /** {@link #forward(float[], int, int, int)} on a {@code (N, C, H, W)} tensor; returns {@code (N, classes)}. */
    public Tensor forward(Tensor input) {
        if (input.rank() != 4) throw new IllegalArgumentException("input must be (N, C, H, W), got shape " + input);
        if (input.dim(1) != net.config().inChannels()) {
            throw new IllegalArgumentException("input has " + input.dim(1) + " channels, the network takes " + net.config().inChannels());
        }
        int n = (int) input.dim(0);
        float[] out = forward(input.floats(), n, (int) input.dim(2), (int) input.dim(3));
        return Tensor.ofFloats(new long[] {n, numClasses()}, out);
    }

    /** What runs for inputs of {@code height x width}, op by op, with oneDNN's chosen kernels (after a forward at that size). */
    public synchronized String describe(int height, int width) {
        NativeCore.Engine e = engine(height, width);
        return NativeLibrary.call(e::describe);
    }

    /** The native engine for one input size (compiled and cached on first use). Package-private for tests. */
    synchronized NativeCore.Engine engine(int height, int width) { return engine(height, width, 0); }

    /**
     * The native engine for one input size that runs batches of {@code batch} images only ({@code 0}:
     * any). A GPU engine re-plans its arena, re-tunes cuDNN and re-captures its CUDA Graph whenever
     * the batch size changes, so a batcher on a GPU keeps one engine per batch size it pads to.
     */
    synchronized NativeCore.Engine engine(int height, int width, int batch) {
        if (store == null) throw new IllegalStateException("predictor is closed");
        EngineKey key = new EngineKey(height, width, batch);
        NativeCore.Engine e = engines.get(key);
        if (e == null) {
            Plan plan = net.inferencePlan(height, width);
            e = NativeLibrary.call(() -> new NativeCore.Engine(plan.text(), store, device, options.threads(), backendOptions));
            engines.put(key, e);
        }
        return e;
    }

    /**
     * After a forward went through: auto's fallback to the CPU is logged (once per JVM), so that a
     * refused first batch prints only its refusal. int8 runs on the CPU by choice, not as a fallback.
     */
    private void ran() {
        if (!options.dtype().equals("int8")) Devices.noteFallback(options.device(), device);
    }

    /** The native weights (for tests that run partial plans). */
    synchronized NativeCore.WeightStore weightStore() {
        if (store == null) throw new IllegalStateException("predictor is closed");
        return store;
    }

    @Override
    public synchronized void close() {
        for (NativeCore.Engine e : engines.values()) e.close();
        engines.clear();
        if (store != null) {
            store.close();
            store = null;
        }
    }
}
