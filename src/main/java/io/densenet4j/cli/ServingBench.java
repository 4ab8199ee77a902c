package io.densenet4j.cli;

import io.densenet4j.BatchingPredictor;
import io.densenet4j.DenseNetConfig;
import io.densenet4j.Predictor;
import io.densenet4j.image.ImageTransform;
import io.densenet4j.internal.NativeLibrary;
import io.densenet4j.io.StateDict;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code bench --clients N}: N client threads, each submitting one image at a time through a
 * {@link BatchingPredictor} and waiting for its logits (a closed loop, as callers of a service),
 * for a fixed time; throughput, per-request latency percentiles and the mean batch formed.
 */
final class ServingBench {
    /** Per-request latencies of one client, ns. */
    private static final class Latencies {
        long[] ns = new long[1024];
        int n;
        long lastDone;

        void add(long v) {
            if (n == ns.length) ns = Arrays.copyOf(ns, n * 2);
            ns[n++] = v;
        }
    }

    /** The normalisation uint8 inputs get: ImageNet's for 3 channels, else mean 0.5, std 0.25. */
    static float[][] uint8Normalization(int channels) {
        if (channels == 3) return new float[][] {ImageTransform.IMAGENET_MEAN, ImageTransform.IMAGENET_STD};
        float[] m = new float[channels], s = new float[channels];
        Arrays.fill(m, 0.5f);
        Arrays.fill(s, 0.25f);
        return new float[][] {m, s};
    }

    static byte[] randomBytes(int count, long seed) {
        byte[] b = new byte[count];
        new SplittableRandom(seed).nextBytes(b);
        return b;
    }

    /** Latency percentile {@code q} (0..1) of sorted ns values, in ms. */
    static double percentileMs(long[] sorted, int n, double q) {
        if (n == 0) return 0;
        int i = (int) Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1));
        return sorted[i] / 1e6;
    }

    static String run(DenseNetConfig cfg, StateDict sd, Predictor.Options engine, int side, int clients, int maxBatch,
                      double maxDelayMs, boolean uint8, double seconds, int warmup, String name, String threads, boolean json) {
        BatchingPredictor.Options opts = new BatchingPredictor.Options(maxBatch, Duration.ofNanos((long) (maxDelayMs * 1e6)),
                Math.max(1024, 4 * clients), true);
        int c = cfg.inChannels();
        float[][] norm = uint8Normalization(c);
        try (BatchingPredictor b = BatchingPredictor.create(cfg, sd, List.of(engine), opts)) {
            Object[] images = new Object[clients];
            for (int i = 0; i < clients; i++) {
                images[i] = uint8 ? randomBytes(c * side * side, i) : randomFloats(c * side * side, i);
            }
            Latencies[] lat = new Latencies[clients];
            AtomicReference<Throwable> error = new AtomicReference<>();
            List<Thread> ts = new ArrayList<>();
            // warm-up: every client's first requests, with the engine's first batches (compilation, first touch)
            long warmEnd = System.nanoTime() + 200_000_000L;
            long start = warmEnd, end = start + (long) (seconds * 1e9);
            for (int i = 0; i < clients; i++) {
                int id = i;
                lat[i] = new Latencies();
                Thread t = new Thread(() -> {
                    try {
                        for (int w = 0; w < Math.max(1, warmup) || System.nanoTime() < start; w++) call(b, images[id], side, uint8, norm);
                        while (true) {
                            long t0 = System.nanoTime();
                            if (t0 >= end) break;
                            call(b, images[id], side, uint8, norm);
                            long t1 = System.nanoTime();
                            lat[id].add(t1 - t0);
                            lat[id].lastDone = t1;
                        }
                    } catch (Throwable e) {
                        error.compareAndSet(null, e);
                    }
                }, "bench-client-" + i);
                ts.add(t);
            }
            long[] before = b.batchSizeHistogram();
            ts.forEach(Thread::start);
            for (Thread t : ts) {
                try {
                    t.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted");
                }
            }
            if (error.get() instanceof RuntimeException re) throw re;
            if (error.get() != null) throw new IllegalStateException(error.get().getMessage(), error.get());
            int total = 0;
            for (Latencies l : lat) total += l.n;
            long[] all = new long[total];
            int k = 0;
            for (Latencies l : lat) {
                System.arraycopy(l.ns, 0, all, k, l.n);
                k += l.n;
            }
            Arrays.sort(all);
            long last = start;
            for (Latencies l : lat) last = Math.max(last, l.lastDone);
            double elapsed = Math.max(1e-9, (last - start) / 1e9);
            double ips = total / elapsed;
            double p50 = percentileMs(all, total, 0.50), p99 = percentileMs(all, total, 0.99);
            long[] after = b.batchSizeHistogram();
            long batches = 0, imgs = 0;
            for (int i = 1; i < after.length; i++) {
                batches += after[i] - before[i];
                imgs += i * (after[i] - before[i]);
            }
            double meanBatch = batches == 0 ? 0 : (double) imgs / batches;
            long peak = NativeLibrary.nativeBytesPeak();
            long rss = BenchCommand.peakRss();
            String device = b.devices().get(0);
            if (json) {
                return String.format(Locale.ROOT,
                        "{\"arch\":\"%s\",\"clients\":%d,\"max_batch\":%d,\"max_delay_ms\":%.3f,\"input\":\"%s\",\"image\":%d,\"threads\":%s,\"device\":\"%s\","
                                + "\"dtype\":\"%s\",\"requests\":%d,\"seconds\":%.3f,\"img_per_s\":%.2f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"mean_batch\":%.2f,"
                                + "\"peak_native_bytes\":%d,\"peak_rss_bytes\":%d}",
                        name, clients, maxBatch, maxDelayMs, uint8 ? "uint8" : "float", side, threads, device, engine.dtype(), total, elapsed, ips,
                        p50, p99, meanBatch, peak, rss);
            }
            return String.format(Locale.ROOT,
                    "arch=%s clients=%d max_batch=%d max_delay_ms=%.3f input=%s image=%d threads=%s device=%s dtype=%s requests=%d img_per_s=%.2f "
                            + "p50_ms=%.3f p99_ms=%.3f mean_batch=%.2f peak_native_bytes=%d peak_rss_bytes=%d",
                    name, clients, maxBatch, maxDelayMs, uint8 ? "uint8" : "float", side, threads, device, engine.dtype(), total, ips, p50, p99,
                    meanBatch, peak, rss);
        }
    }

    private static void call(BatchingPredictor b, Object image, int side, boolean uint8, float[][] norm) {
        if (uint8) b.predictUint8((byte[]) image, side, side, norm[0], norm[1]);
        else b.predict((float[]) image, side, side);
    }

    static float[] randomFloats(int count, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        float[] x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (float) (rng.nextDouble() * 2 - 1);
        return x;
    }
}
