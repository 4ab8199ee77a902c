package io.densenet4j;

import io.densenet4j.io.StateDict;
import io.densenet4j.io.StateDicts;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Dynamic batching for services: many threads submit single images, and the requests that wait
 * together are coalesced into one native batch per engine, as Triton's dynamic batcher and
 * TorchServe's batching do, inside the jar with no server to run.
 *
 * <p>How a batch forms: an engine's worker takes the oldest request, then gathers further requests
 * of the same kind and size (float {@code (C, H, W)}, or uint8 {@code (H, W, C)} with the same
 * normalisation) until it holds {@link Options#maxBatch()} of them or {@link Options#maxDelay()} has
 * passed since the oldest arrived. It waits for more only while requests arrive faster than one per
 * {@code maxDelay} (a moving average of the gaps between submissions), so a lone caller pays no delay.
 * Results are split back to each request's future in order; the logits equal a direct
 * {@link Predictor#forward} of the image alone (BatchNorm in eval mode has no batch coupling).
 *
 * <p>Back-pressure: at most {@link Options#queueCapacity()} requests wait; beyond that
 * {@link #submit} fails the new request with {@link QueueFullException} (or blocks, with
 * {@link Options#blockWhenFull()}). A malformed request (wrong length, too small, bad normalisation)
 * fails alone, at submission; if a batch fails natively, its requests are retried one by one so only
 * the culprit fails. The engines keep serving.
 *
 * <p>The submitted array is read when its batch runs, not copied at submission: do not change it
 * until its future completes. Each worker gathers its batch into its own direct staging buffers
 * (reused, no per-batch garbage), which the engine reads in place.
 *
 * <p>On a GPU engine ({@code cuda}, {@code cuda:I}) a worker double-buffers: it submits batch i+1
 * (the engine copies it into a pinned staging slot and uploads it on a copy stream) before it
 * collects batch i, so the upload overlaps batch i's compute, and collects at once when no request
 * waits. It also runs a batch of n padded to the next power of two (at most {@code maxBatch}) on a
 * native engine kept for that size, since a CUDA engine re-plans, re-tunes cuDNN and re-captures its
 * CUDA Graph whenever its batch size changes; the padding rows' logits are dropped. On the CPU a
 * batch runs at its own size, one at a time.
 *
 * <p>Thread-safe. {@link #close()} stops accepting requests, runs every queued one to completion,
 * then frees the engines; {@link #closeNow()} fails the queued ones instead. No future is left hanging.
 */
public final class BatchingPredictor implements AutoCloseable {
    /**
     * @param maxBatch      largest native batch (1 to 4096); larger batches give more throughput per
     *                      engine, up to the engine's best batch size, at more latency per request (on a
     *                      GPU, also one engine, with its weights, per power of two up to it)
     * @param maxDelay      longest time the oldest request of a forming batch waits for batch-mates
     *                      (0 to 10 s); more delay gives fuller batches under moderate load
     * @param queueCapacity requests that may wait (1 to 2^20); a full queue rejects or blocks
     * @param blockWhenFull on a full queue, {@link #submit} blocks until there is room instead of
     *                      failing the request with {@link QueueFullException}
     */
    public record Options(int maxBatch, Duration maxDelay, int queueCapacity, boolean blockWhenFull) {
        public Options {
            if (maxBatch < 1 || maxBatch > 4096) throw new IllegalArgumentException("maxBatch must be from 1 to 4096, got " + maxBatch);
            Objects.requireNonNull(maxDelay, "maxDelay");
            if (maxDelay.isNegative() || maxDelay.compareTo(Duration.ofSeconds(10)) > 0) {
                throw new IllegalArgumentException("maxDelay must be from 0 to 10 s, got " + maxDelay.toMillis() + " ms");
            }
            if (queueCapacity < 1 || queueCapacity > (1 << 20)) {
                throw new IllegalArgumentException("queueCapacity must be from 1 to " + (1 << 20) + ", got " + queueCapacity);
            }
        }

        /** maxBatch 8, maxDelay 2 ms, queueCapacity 1024, reject when full. */
        public static Options defaults() { return new Options(8, Duration.ofMillis(2), 1024, false); }

        public Options maxBatch(int b) { return new Options(b, maxDelay, queueCapacity, blockWhenFull); }
        public Options maxDelay(Duration d) { return new Options(maxBatch, d, queueCapacity, blockWhenFull); }
        public Options queueCapacity(int q) { return new Options(maxBatch, maxDelay, q, blockWhenFull); }
        public Options blockWhenFull(boolean b) { return new Options(maxBatch, maxDelay, queueCapacity, b); }
    }

    private final List<Predictor> engines;
    private final Options options;
    private final int inChannels;
    private final int classes;
    private final DenseNet net;
    private final ArrayBlockingQueue<BatchRequest> queue;
    private final List<Thread> workers = new ArrayList<>();
    private final ReentrantReadWriteLock state = new ReentrantReadWriteLock();
    private volatile boolean closed;
    private volatile boolean failPending;
    private final AtomicLongArray histogram;
    private final AtomicLong lastArrival = new AtomicLong();
    private volatile double arrivalGapNanos = Double.MAX_VALUE;

    private BatchingPredictor(List<Predictor> engines, Options options, Boolean asynchronous) {
        if (engines.isEmpty()) throw new IllegalArgumentException("a BatchingPredictor needs at least one engine");
        this.engines = List.copyOf(engines);
        this.options = options;
        this.net = engines.get(0).network();
        this.inChannels = net.config().inChannels();
        this.classes = engines.get(0).numClasses();
        for (Predictor p : engines) {
            if (!p.network().config().equals(net.config())) throw new IllegalArgumentException("all engines must run the same network");
        }
        this.queue = new ArrayBlockingQueue<>(options.queueCapacity());
        this.histogram = new AtomicLongArray(options.maxBatch() + 1);
        for (int i = 0; i < this.engines.size(); i++) {
            Predictor p = this.engines.get(i);
            boolean async = asynchronous != null ? asynchronous : p.overlaps();
            Thread t = new Thread(() -> new BatchWorker(this, p, async).run(), "densenet4j-batcher-" + i);
            t.setDaemon(true);
            workers.add(t);
        }
        workers.forEach(Thread::start);
    }

    /**
     * A batcher over {@code engines} (one worker thread each; they may sit on different devices),
     * which it owns and closes. On the CPU one engine with all cores is usually best; several
     * engines should split the cores ({@link Predictor.Options#threads()}).
     */
    public static BatchingPredictor of(List<Predictor> engines, Options options) {
        return new BatchingPredictor(engines, options, null);
    }

    /**
     * For tests: {@code asynchronous} forces the GPU engines' way of batching (double buffering and
     * power-of-two batch sizes, see BatchWorker) on or off; {@code null} takes it from each engine.
     */
    static BatchingPredictor of(List<Predictor> engines, Options options, Boolean asynchronous) {
        return new BatchingPredictor(engines, options, asynchronous);
    }

    /**
     * {@code engineCount} predictors for {@code config} and {@code weights}, one per entry of
     * {@code engineOptions} (e.g. {@code cuda:0}, {@code cuda:1}), under one queue.
     *
     * @throws io.densenet4j.io.WeightsException if the weights do not fit the config
     */
    public static BatchingPredictor create(DenseNetConfig config, StateDict weights, List<Predictor.Options> engineOptions, Options options) {
        List<Predictor> made = new ArrayList<>();
        try {
            for (Predictor.Options o : engineOptions) made.add(Predictor.create(config, weights, o));
            return new BatchingPredictor(made, options, null);
        } catch (RuntimeException e) {
            made.forEach(Predictor::close);
            throw e;
        }
    }

    /** One engine from a weights file ({@code .pth} or {@code .safetensors}; {@code config == null} infers it). */
    public static BatchingPredictor load(Path weightsFile, DenseNetConfig config, Predictor.Options engine, Options options) {
        StateDict sd = StateDicts.load(weightsFile);
        return create(config != null ? config : ArchitectureInference.infer(sd), sd, List.of(engine), options);
    }

    /**
     * Queues one image.
     *
     * @param image {@code (C, height, width)} float32, CHW, normalised as the network expects
     * @return the image's {@code classes} float32 logits; fails with {@link IllegalArgumentException}
     *         for a malformed image, {@link QueueFullException} on a full queue,
     *         {@link IllegalStateException} after {@link #close()}, or the engine's error
     */
    public CompletableFuture<float[]> submit(float[] image, int height, int width) {
        if (image == null) return CompletableFuture.failedFuture(new IllegalArgumentException("image is null"));
        return enqueue(image, null, height, width, null, null, image.length, "floats", "(" + inChannels + ", " + height + ", " + width + ")");
    }

    /**
     * Queues one uint8 image, normalised natively ({@link Predictor#forwardUint8}).
     *
     * @param image {@code (height, width, C)} uint8, channels last, values 0..255
     * @param mean  C means on the 0..1 scale; {@code std}: C finite, positive standard deviations
     * @return the image's logits (failures as for {@link #submit(float[], int, int)})
     */
    public CompletableFuture<float[]> submitUint8(byte[] image, int height, int width, float[] mean, float[] std) {
        if (image == null) return CompletableFuture.failedFuture(new IllegalArgumentException("image is null"));
        return enqueue(null, image, height, width, mean, std, image.length, "bytes", "(" + height + ", " + width + ", " + inChannels + ") uint8");
    }

    /** {@link #submit(float[], int, int)}, waiting for the result; its failure is thrown as is. */
    public float[] predict(float[] image, int height, int width) { return join(submit(image, height, width)); }

    /** {@link #submitUint8}, waiting for the result; its failure is thrown as is. */
    public float[] predictUint8(byte[] image, int height, int width, float[] mean, float[] std) {
        return join(submitUint8(image, height, width, mean, std));
    }

    /** Batches run so far, by size: element {@code b} counts batches of {@code b} images (0 unused). */
    public long[] batchSizeHistogram() {
        long[] h = new long[histogram.length()];
        for (int i = 0; i < h.length; i++) h[i] = histogram.get(i);
        return h;
    }

    /** Images per batch so far (0 before the first batch). */
    public double meanBatchSize() {
        long batches = 0, images = 0;
        for (int i = 1; i < histogram.length(); i++) {
            batches += histogram.get(i);
            images += i * histogram.get(i);
        }
        return batches == 0 ? 0 : (double) images / batches;
    }

    /** Requests waiting now. */
    public int queued() { return queue.size(); }

    public int numClasses() { return classes; }
    /** The device of each engine ({@code cpu}, {@code cuda} or {@code cuda:INDEX}), in worker order. */
    public List<String> devices() { return engines.stream().map(Predictor::device).toList(); }
    public Options options() { return options; }
    public DenseNet network() { return net; }

    /** Stops accepting requests, runs every queued request to completion, waits for the workers, frees the engines. */
    @Override
    public void close() { shutdown(false); }

    /** Stops accepting requests and fails every queued one ("closed before it ran"); running batches finish. */
    public void closeNow() { shutdown(true); }

    private void shutdown(boolean now) {
        state.writeLock().lock();
        try {
            if (now) failPending = true;
            closed = true;
        } finally {
            state.writeLock().unlock();
        }
        boolean interrupted = false;
        for (Thread t : workers) {
            while (t.isAlive()) {
                try {
                    t.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        for (BatchRequest r; (r = queue.poll()) != null; ) r.fail(closedBeforeRun());
        synchronized (this) {
            engines.forEach(Predictor::close);
        }
        if (interrupted) Thread.currentThread().interrupt();
    }

    // ------------------------------------------------------------------ for BatchWorker

    BatchRequest poll(long nanos) throws InterruptedException {
        return nanos <= 0 ? queue.poll() : queue.poll(nanos, TimeUnit.NANOSECONDS);
    }

    /** Whether requests have lately arrived closer together than maxDelay (worth waiting for). */
    boolean busy() { return arrivalGapNanos < options.maxDelay().toNanos(); }

    boolean closed() { return closed; }
    boolean failPending() { return failPending; }
    int classes() { return classes; }
    void record(int batch) { histogram.incrementAndGet(batch); }

    static IllegalStateException closedBeforeRun() {
        return new IllegalStateException("the BatchingPredictor was closed before this request ran");
    }

    // ------------------------------------------------------------------ submission

    private CompletableFuture<float[]> enqueue(float[] f, byte[] u8, int height, int width, float[] mean, float[] std,
                                               long have, String unit, String shape) {
        BatchRequest r;
        try {
            long want = (long) inChannels * height * width;
            if (height <= 0 || width <= 0 || have != want) {
                throw new IllegalArgumentException("image has " + have + " " + unit + "; " + shape + " needs " + (height <= 0 || width <= 0 ? "positive sides" : Long.toString(want)));
            }
            net.checkInputSize(height, width);
            if (u8 != null) Predictor.checkNormalization(inChannels, mean, std);
            r = new BatchRequest(new BatchRequest.Key(u8 != null, height, width, mean, std), f, u8, System.nanoTime());
        } catch (RuntimeException bad) {
            return CompletableFuture.failedFuture(bad);
        }
        noteArrival(r.arrivalNanos);
        if (!state.readLock().tryLock()) return CompletableFuture.failedFuture(new IllegalStateException("the BatchingPredictor is closed"));
        try {
            if (closed) return CompletableFuture.failedFuture(new IllegalStateException("the BatchingPredictor is closed"));
            if (options.blockWhenFull()) {
                try {
                    queue.put(r);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return CompletableFuture.failedFuture(new IllegalStateException("interrupted while waiting for room in the queue"));
                }
            } else if (!queue.offer(r)) {
                return CompletableFuture.failedFuture(new QueueFullException("the batching queue is full (" + options.queueCapacity()
                        + " requests waiting); retry later or raise queueCapacity"));
            }
        } finally {
            state.readLock().unlock();
        }
        return r.future;
    }

    /** Moving average (weight 1/8) of the gaps between submissions. */
    private void noteArrival(long now) {
        long prev = lastArrival.getAndSet(now);
        if (prev == 0) return;
        double gap = now - prev;
        double old = arrivalGapNanos;
        arrivalGapNanos = old == Double.MAX_VALUE ? gap : old + (gap - old) / 8;
    }

    private static float[] join(CompletableFuture<float[]> f) {
        try {
            return f.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException re) throw re;
            if (e.getCause() instanceof Error err) throw err;
            throw e;
        }
    }
}
