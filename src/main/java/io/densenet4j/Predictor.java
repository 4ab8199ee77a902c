package io.densenet4j;

import io.densenet4j.internal.NativeCore;
import io.densenet4j.internal.NativeLibrary;
import io.densenet4j.io.StateDict;
import io.densenet4j.io.StateDicts;
import io.densenet4j.io.Tensor;
import io.densenet4j.topology.Plan;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * Inference with one DenseNet and its weights on the native core (eval mode: BatchNorm uses
 * its running statistics, which are never changed; dropout is off), matching torchvision's
 * {@code model.eval()(x)} to 1e-4.
 *
 * <p>Weights are copied into native memory once; for each input size a plan is compiled and
 * its buffers are allocated on first use and reused for every later batch of that size.
 *
 * <p>Devices: the CPU (oneDNN) or an NVIDIA GPU (cuDNN; {@link Options#dtype()} picks fp32, tf32,
 * fp16 or bf16 there). On the GPU a batch size's first call also captures the whole forward in
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
     * @param dtype   {@code fp32} (default; true fp32), or on CUDA {@code tf32}, {@code fp16}, {@code bf16}
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
    private final Map<Long, NativeCore.Engine> engines = new HashMap<>();

    private Predictor(DenseNet net, StateDict weights, Options options) {
        this.net = net;
        this.options = options;
        StateDicts.check(net.stateDictShapes().all(), weights, Set.of());
        this.device = Devices.checkFor(options.device(), options.dtype(), false);  // auto's fallback is logged at the first forward
        this.backendOptions = Devices.options(device, options.dtype());
        this.store = NativeLibrary.call(NativeCore.WeightStore::new);
        try {
            for (Map.Entry<String, long[]> e : net.stateDictShapes().all().entrySet()) {
                if (e.getKey().endsWith("num_batches_tracked")) continue;
                Tensor t = weights.require(e.getKey());
                float[] data = t.toFloats();
                long[] shape = e.getValue();
                NativeLibrary.run(() -> store.put(e.getKey(), data, shape, shape.length));
            }
        } catch (RuntimeException ex) {
            close();
            throw ex;
        }
    }

    /**
     * A predictor for {@code config} with {@code weights} (torchvision key names; see
     * {@link StateDicts#check}).
     *
     * @throws io.densenet4j.io.WeightsException listing every missing, unexpected and mis-shaped key
     * @throws DeviceUnavailableException if {@code cuda} is asked for and cannot run here (the message says what is missing)
     * @throws IllegalArgumentException   for a reduced precision ({@code tf32}, {@code fp16}, {@code bf16}) on the CPU
     * @throws DenseNetException if the native library cannot load
     */
    public static Predictor create(DenseNetConfig config, StateDict weights, Options options) {
        return new Predictor(new DenseNet(config), weights, options);
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
        if (store == null) throw new IllegalStateException("predictor is closed");
        if (n <= 0) throw new IllegalArgumentException("batch size must be positive, got " + n);
        long want;
        try {
            want = Math.multiplyExact(Math.multiplyExact((long) n * net.config().inChannels(), (long) height), (long) width);
        } catch (ArithmeticException overflow) {
            want = -1;
        }
        if (height <= 0 || width <= 0 || input.length != want) {
            throw new IllegalArgumentException("input has " + input.length + " floats; (" + n + ", " + net.config().inChannels() + ", "
                    + height + ", " + width + ") needs " + (want < 0 ? "more than 2^63" : Long.toString(want)));
        }
        NativeCore.Engine e = engine(height, width);
        float[] out = new float[n * numClasses()];
        NativeLibrary.run(() -> e.forward(input, n, out));
        return out;
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
    synchronized NativeCore.Engine engine(int height, int width) {
        if (store == null) throw new IllegalStateException("predictor is closed");
        long key = ((long) height << 32) | (width & 0xffffffffL);
        NativeCore.Engine e = engines.get(key);
        if (e == null) {
            Plan plan = net.inferencePlan(height, width);
            e = NativeLibrary.call(() -> new NativeCore.Engine(plan.text(), store, device, options.threads(), backendOptions));
            Devices.noteFallback(options.device(), device);
            engines.put(key, e);
        }
        return e;
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
