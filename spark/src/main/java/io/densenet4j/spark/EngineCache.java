package io.densenet4j.spark;

import io.densenet4j.DenseNetConfig;
import io.densenet4j.Predictor;
import io.densenet4j.io.ConfigJson;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * One engine per (weights, config, device, dtype, threads) per JVM: an executor reads the
 * weights once and builds its engine once, whatever the number of tasks and partitions; the
 * engines are closed at JVM exit. {@link Predictor} calls are serialised, so the JVM's tasks share
 * one engine per device, each batch using all its threads.
 */
public final class EngineCache {
    private record Key(String weights, String config, String device, String dtype, int threads) {}

    private static final Map<Key, Predictor> ENGINES = new ConcurrentHashMap<>();
    private static final AtomicInteger CREATED = new AtomicInteger();
    private static final ReadWriteLock CPU_CORES = new ReentrantReadWriteLock(true);

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(EngineCache::closeAll, "densenet4j-engines-close"));
    }

    private EngineCache() {}

    static Predictor engine(DenseNetClassifier.Settings s, String device) {
        Key k = new Key(s.weights(), s.config(), device, s.dtype(), s.threads());
        return ENGINES.computeIfAbsent(k, key -> {
            DenseNetConfig cfg = key.config().isEmpty() ? null : ConfigJson.read(Path.of(key.config()));
            Predictor p = Predictor.load(Path.of(key.weights()), cfg, new Predictor.Options(key.device(), key.threads(), key.dtype()));
            CREATED.incrementAndGet();
            return p;
        });
    }

    /** What {@code predict} takes from weights by default: their normalisation, and a checkpoint's training size (0: none). */
    record Stored(io.densenet4j.data.Normalization normalization, int size) {}

    private static final Map<String, Stored> STORED = new ConcurrentHashMap<>();

    /**
     * The preprocessing {@code predict} uses for these weights by default: a densenet4j checkpoint
     * (from {@code train}) stores its normalisation and training input size, quantized weights (from
     * {@code quantize}) their normalisation, in their safetensors metadata; otherwise ImageNet's
     * mean/std and no size. Read once per JVM and weights file (the header only).
     *
     * @throws io.densenet4j.io.WeightsException naming the file if its header cannot be read
     */
    static Stored stored(String weights) {
        return STORED.computeIfAbsent(weights, w -> {
            Path file = Path.of(w);
            io.densenet4j.data.Normalization imagenet = new io.densenet4j.data.Normalization(
                    io.densenet4j.image.ImageTransform.IMAGENET_MEAN, io.densenet4j.image.ImageTransform.IMAGENET_STD);
            if (io.densenet4j.io.WeightsFormat.detect(file) != io.densenet4j.io.WeightsFormat.SAFETENSORS) return new Stored(imagenet, 0);
            Map<String, String> meta = io.densenet4j.io.SafeTensors.readMetadata(file);
            boolean checkpoint = io.densenet4j.train.Checkpoint.isCheckpoint(meta);
            io.densenet4j.data.Normalization n = checkpoint || meta.containsKey("quantization") ? io.densenet4j.train.Checkpoint.normalization(meta) : null;
            int size = 0;
            String hw = checkpoint ? meta.getOrDefault("input_size", "") : "";
            if (hw.matches("\\d{1,4}x\\d{1,4}")) size = Integer.parseInt(hw.substring(0, hw.indexOf('x')));  // predict: the height, for both
            return new Stored(n != null && n.mean().length == 3 ? n : imagenet, size);
        });
    }

    /**
     * The JVM's CPU cores as a fair read-write lock: decoding in any number of tasks holds it
     * shared, a CPU engine's forward holds it exclusively (so its threads have the cores to
     * themselves).
     */
    static ReadWriteLock cpuCores() { return CPU_CORES; }

    /** How many engines this JVM has created (tests: one per executor JVM and setting). */
    public static int enginesCreated() { return CREATED.get(); }

    /** Closes every cached engine (also run at JVM exit). */
    public static void closeAll() {
        ENGINES.values().forEach(Predictor::close);
        ENGINES.clear();
    }
}
