package io.densenet4j.train;

import io.densenet4j.DenseNet;
import io.densenet4j.DenseNetConfig;
import io.densenet4j.internal.NativeCore;
import io.densenet4j.internal.NativeLibrary;
import io.densenet4j.io.StateDict;
import io.densenet4j.io.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One DenseNet being trained on the native core at a fixed input size: forward in train mode,
 * softmax cross-entropy, backward, and SGD (PyTorch's {@code torch.optim.SGD} semantics).
 * BatchNorm uses batch statistics and updates its running statistics once per forward
 * (momentum 0.1, unbiased variance; {@code num_batches_tracked} + 1).
 *
 * <p>{@link Memory#EFFICIENT} (default) follows Pleiss et al. 2017: per dense block only the
 * shared concat buffer, its gradient buffer and per-layer batch statistics are kept, and the
 * backward pass recomputes BN-ReLU-Conv1x1 and BN2-ReLU into shared scratch, so memory grows
 * linearly with depth. {@link Memory#NAIVE} stores every intermediate instead.
 *
 * <p>Not thread-safe. AutoCloseable: frees all native memory.
 */
public final class TrainingEngine implements AutoCloseable {
    /** Where intermediates live during a step. */
    public enum Memory {
        EFFICIENT, NAIVE;

        public String id() { return name().toLowerCase(); }

        public static Memory parse(String s) {
            for (Memory m : values()) if (m.id().equalsIgnoreCase(s)) return m;
            throw new IllegalArgumentException("--memory must be efficient or naive, got '" + s + "'");
        }
    }

    private final DenseNet net;
    private final int height, width, threads;
    private final String device;
    private final String dtype;
    private final Map<String, Long> batchesTrackedBase = new LinkedHashMap<>();
    private NativeCore.WeightStore store;
    private NativeCore.Trainer trainer;
    private NativeCore.Engine evalEngine;
    private long forwards;

    private TrainingEngine(DenseNet net, StateDict init, int height, int width, Memory memory, int threads, String device, String dtype) {
        this.net = net;
        this.device = io.densenet4j.Devices.checkFor(device, dtype, true);  // auto's fallback is logged by create() once accepted
        String options = io.densenet4j.Devices.trainOptions(this.device, dtype);
        this.dtype = dtype;
        this.height = height;
        this.width = width;
        this.threads = threads;
        net.checkWeights(init);
        String plan = net.trainingPlan(height, width).text();
        try {
            store = NativeLibrary.call(NativeCore.WeightStore::new);
            for (Map.Entry<String, long[]> e : net.stateDictShapes().all().entrySet()) {
                String k = e.getKey();
                Tensor t = init.get(k);
                if (k.endsWith("num_batches_tracked")) {
                    batchesTrackedBase.put(k, t == null ? 0L : t.longs()[0]);
                    continue;
                }
                float[] data = t.toFloats();
                long[] shape = e.getValue();
                NativeLibrary.run(() -> store.put(k, data, shape, shape.length));
            }
            trainer = NativeLibrary.call(() -> new NativeCore.Trainer(plan, store, this.device, threads, memory.id(), options));
        } catch (RuntimeException ex) {
            close();
            throw ex;
        }
    }

    /**
     * A training engine for inputs of {@code (N, C, height, width)} starting from {@code init}
     * (torchvision key names; missing {@code num_batches_tracked} counts from 0).
     *
     * @param threads CPU threads, 0 for all cores
     * @throws IllegalArgumentException if the step (either memory mode) would not fit in this machine's available memory
     *                                  at {@code plannedBatch} (the message gives the estimate)
     */
    public static TrainingEngine create(DenseNetConfig config, StateDict init, int height, int width, Memory memory, int threads,
                                        int plannedBatch) {
        return create(config, init, height, width, memory, threads, plannedBatch, "cpu");
    }

    /**
     * The same on {@code device}: {@code cpu}, {@code cuda}, {@code cuda:INDEX} or {@code auto}
     * (see {@link io.densenet4j.Devices}).
     *
     * @throws io.densenet4j.DeviceUnavailableException if CUDA is asked for and cannot run here
     */
    public static TrainingEngine create(DenseNetConfig config, StateDict init, int height, int width, Memory memory, int threads,
                                        int plannedBatch, String device) {
        return create(config, init, height, width, memory, threads, plannedBatch, device, "fp32");
    }

    /**
     * The same in {@code dtype}: {@code fp32} (true fp32, any device), or on CUDA {@code fp16} or
     * {@code bf16}: mixed precision as {@code torch.autocast} with {@code GradScaler} (activations
     * and convolution weights in half precision; master weights, gradients, momentum, BatchNorm
     * and the head in fp32; fp16 scales the loss dynamically, from 65536, and skips a step whose
     * gradients hold inf/NaN, as GradScaler does). The scale is not checkpointed: a resumed run
     * starts again from 65536.
     *
     * @throws IllegalArgumentException for another dtype, or fp16/bf16 on the CPU
     */
    public static TrainingEngine create(DenseNetConfig config, StateDict init, int height, int width, Memory memory, int threads,
                                        int plannedBatch, String device, String dtype) {
        TrainingEngine t = new TrainingEngine(new DenseNet(config), init, height, width, memory, threads, device, dtype);
        if (t.device.equals("cpu")) {
            long need = t.estimateBytes(plannedBatch);
            long avail = availableBytes();
            if (avail > 0 && need > avail * 0.9) {
                t.close();
                throw new IllegalArgumentException(String.format(
                        "%s memory mode would need about %.1f GB for batch %d, over 90%% of the %.1f GB this machine has available; use a smaller batch%s",
                        memory.id(), need / 1e9, plannedBatch, avail / 1e9, memory == Memory.NAIVE ? " or --memory efficient" : ""));
            }
        }
        io.densenet4j.Devices.noteFallback(device, t.device);
        return t;
    }

    /** MemAvailable from /proc/meminfo in bytes, or -1. */
    static long availableBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemAvailable:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    public DenseNet network() { return net; }
    public int height() { return height; }
    /** The device steps run on ({@code cpu}, {@code cuda} or {@code cuda:INDEX}). */
    public String device() { return device; }

    /** The dtype steps run in ({@code fp32}, {@code fp16} or {@code bf16}). */
    public String dtype() { return dtype; }
    public int width() { return width; }

    private NativeCore.Trainer trainer() {
        if (trainer == null) throw new IllegalStateException("training engine is closed");
        return trainer;
    }

    /**
     * Forward (train mode), loss and backward for one batch; fills the gradients (before weight
     * decay) and updates the BatchNorm running statistics.
     *
     * @param input  {@code (n, C, height, width)} float32 NCHW
     * @param labels {@code n} class indices in {@code [0, classes)}
     * @param seed   dropout masks are a function of this seed
     * @param logits if not null, receives the train-mode logits {@code (n, classes)}
     * @return mean cross-entropy over the batch
     */
    public double forwardBackward(float[] input, long[] labels, int n, long seed, float[] logits) {
        int c = net.config().inChannels();
        if (n <= 0) throw new IllegalArgumentException("batch size must be positive, got " + n);
        if (input.length != (long) n * c * height * width) {
            throw new IllegalArgumentException("input has " + input.length + " floats, (" + n + ", " + c + ", " + height + ", " + width + ") needs "
                    + (long) n * c * height * width);
        }
        if (labels.length < n) throw new IllegalArgumentException("need " + n + " labels, got " + labels.length);
        if (logits != null && logits.length < n * net.config().numClasses()) throw new IllegalArgumentException("logits array too small");
        NativeCore.Trainer t = trainer();
        double loss = NativeLibrary.call(() -> t.forward_backward(input, labels, n, seed, logits));
        forwards++;
        invalidateEval();
        return loss;
    }

    /** SGD with momentum, optional Nesterov and weight decay, as {@code torch.optim.SGD} (dampening 0). */
    public void sgdStep(float lr, float momentum, float weightDecay, boolean nesterov) {
        NativeCore.Trainer t = trainer();
        NativeLibrary.run(() -> t.sgd_step(lr, momentum, weightDecay, nesterov));
        invalidateEval();
    }

    /** Native bytes a step at batch {@code n} holds (activations, gradients, scratch, momentum). */
    public long estimateBytes(int n) {
        NativeCore.Trainer t = trainer();
        return NativeLibrary.call(() -> t.estimate_bytes(n));
    }

    /** Learnable parameters in torchvision order. */
    public List<String> parameterNames() {
        NativeCore.Trainer t = trainer();
        List<String> names = new ArrayList<>();
        long n = NativeLibrary.call(t::param_count);
        for (long i = 0; i < n; i++) {
            long j = i;
            names.add(NativeLibrary.call(() -> t.param_name(j)));
        }
        return Collections.unmodifiableList(names);
    }

    /** The gradient of {@code name} from the last backward pass, in PyTorch's layout. */
    public float[] gradient(String name) {
        NativeCore.Trainer t = trainer();
        float[] out = new float[numel(name)];
        NativeLibrary.run(() -> t.read_grad(name, out));
        return out;
    }

    private int numel(String name) {
        long[] shape = net.stateDictShapes().all().get(name);
        if (shape == null) throw new IllegalArgumentException("no parameter '" + name + "'");
        return Math.toIntExact(Tensor.numel(shape));
    }

    /** Every state_dict entry now (parameters, running statistics, {@code num_batches_tracked}), torchvision names and order. */
    public StateDict stateDict() {
        if (store == null) throw new IllegalStateException("training engine is closed");
        NativeLibrary.run(trainer()::sync_weights);
        StateDict sd = new StateDict();
        for (Map.Entry<String, long[]> e : net.stateDictShapes().all().entrySet()) {
            String k = e.getKey();
            if (k.endsWith("num_batches_tracked")) {
                sd.put(k, Tensor.ofLongs(new long[0], new long[] {batchesTrackedBase.get(k) + forwards}));
                continue;
            }
            float[] v = new float[Math.toIntExact(Tensor.numel(e.getValue()))];
            NativeLibrary.run(() -> NativeCore.weight_store_read(store, k, v));
            sd.put(k, Tensor.ofFloats(e.getValue(), v));
        }
        return sd;
    }

    /** Momentum buffers by parameter name (empty before the first step). */
    public Map<String, float[]> momentumBuffers() {
        NativeCore.Trainer t = trainer();
        Map<String, float[]> m = new LinkedHashMap<>();
        if (!NativeLibrary.call(t::has_momentum)) return m;
        for (String name : parameterNames()) {
            float[] v = new float[numel(name)];
            NativeLibrary.run(() -> t.read_momentum(name, v));
            m.put(name, v);
        }
        return m;
    }

    /** Restores momentum buffers (from a checkpoint); every parameter must be present. */
    public void loadMomentumBuffers(Map<String, float[]> buffers) {
        NativeCore.Trainer t = trainer();
        if (buffers.isEmpty()) return;
        for (String name : parameterNames()) {
            float[] v = buffers.get(name);
            if (v == null || v.length != numel(name)) throw new IllegalArgumentException("checkpoint lacks a momentum buffer for " + name);
            NativeLibrary.run(() -> t.write_momentum(name, v));
        }
        NativeLibrary.run(() -> t.set_has_momentum(true));
    }

    /** Forward passes run in train mode (each adds 1 to every {@code num_batches_tracked}). */
    public long forwards() { return forwards; }

    /** Eval-mode logits {@code (n, classes)} with the current weights (running statistics, no dropout). */
    public float[] predict(float[] input, int n) {
        if (store == null) throw new IllegalStateException("training engine is closed");
        if (evalEngine == null) {
            String plan = net.inferencePlan(height, width).text();
            NativeLibrary.run(trainer()::sync_weights);
            evalEngine = NativeLibrary.call(() -> new NativeCore.Engine(plan, store, device, threads));
        }
        float[] out = new float[n * net.config().numClasses()];
        NativeCore.Engine e = evalEngine;
        NativeLibrary.run(() -> e.forward(input, n, out));
        return out;
    }

    private void invalidateEval() {
        if (evalEngine != null) {
            evalEngine.close();
            evalEngine = null;
        }
    }

    public String describe() { return NativeLibrary.call(trainer()::describe); }

    @Override
    public void close() {
        invalidateEval();
        if (trainer != null) {
            trainer.close();
            trainer = null;
        }
        if (store != null) {
            store.close();
            store = null;
        }
    }
}
