package io.densenet4j;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link BatchingPredictor} on a small DenseNet-BC (L=16, k=6) at 16x16 on the CPU, against direct {@link Predictor#forward} calls. */
class BatchingPredictorTest {
    static final DenseNetConfig CFG = DenseNets.densenetBC(16, 6);
    static final int H = 16, W = 16, C = 3;
    static io.densenet4j.io.StateDict weights;
    static Predictor direct;

    @BeforeAll
    static void setUp() {
        weights = PredictorTest.weights(new DenseNet(CFG), 11);
        direct = Predictor.create(CFG, weights, PredictorTest.CPU2);
    }

    @AfterAll
    static void tearDown() { direct.close(); }

    static BatchingPredictor batcher(BatchingPredictor.Options o) {
        return BatchingPredictor.create(CFG, weights, List.of(new Predictor.Options("cpu", 2)), o);
    }

    static float[] image(long seed) { return PredictorTest.random(C * H * W, seed); }

    static void assertClose(float[] want, float[] got, double tol, String what) {
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++) {
            assertTrue(Math.abs(want[i] - got[i]) <= tol, what + ": logit " + i + " is " + got[i] + ", alone " + want[i]);
        }
    }

    @Test
    void manyThreadsGetTheLogitsOfTheirOwnImage() throws Exception {
        try (BatchingPredictor b = batcher(BatchingPredictor.Options.defaults().maxBatch(6).maxDelay(Duration.ofMillis(5)))) {
            assertManyThreadsGetTheirOwnLogits(b, 1000);
        }
    }

    /**
     * 8 threads each submit 12 images (seeds from {@code base}) with random delays between submissions:
     * every result equals a direct forward of its image alone (1e-5), and the histogram counts each image once.
     */
    static void assertManyThreadsGetTheirOwnLogits(BatchingPredictor b, int base) throws Exception {
        int threads = 8, each = 12;
        float[][] want = new float[threads * each][];
        for (int i = 0; i < want.length; i++) want[i] = direct.forward(image(base + i), 1, H, W);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int t0 = t;
            done.add(pool.submit(() -> {
                SplittableRandom r = new SplittableRandom(t0);
                List<CompletableFuture<float[]>> mine = new ArrayList<>();
                for (int k = 0; k < each; k++) {
                    mine.add(b.submit(image(base + t0 * each + k), H, W));
                    if (r.nextInt(3) == 0) Thread.sleep(r.nextInt(4));  // random delays between submissions
                }
                for (int k = 0; k < each; k++) assertClose(want[t0 * each + k], mine.get(k).join(), 1e-5, "image " + (t0 * each + k));
                return null;
            }));
        }
        for (Future<?> f : done) f.get(120, TimeUnit.SECONDS);
        pool.shutdown();
        assertEquals(threads * each, imagesCounted(b), "every image ran exactly once, counted at its batch's own size");
    }

    /** Images the batch-size histogram accounts for. */
    static long imagesCounted(BatchingPredictor b) {
        long[] h = b.batchSizeHistogram();
        long images = 0;
        for (int i = 1; i < h.length; i++) images += i * h[i];
        return images;
    }

    @Test
    void queuedRequestsAreCoalescedIntoBatches() {
        try (BatchingPredictor b = batcher(BatchingPredictor.Options.defaults().maxBatch(8).maxDelay(Duration.ofMillis(20)))) {
            List<CompletableFuture<float[]>> fs = new ArrayList<>();
            for (int i = 0; i < 32; i++) fs.add(b.submit(image(i), H, W));
            for (int i = 0; i < 32; i++) assertClose(direct.forward(image(i), 1, H, W), fs.get(i).join(), 1e-5, "image " + i);
            long[] h = b.batchSizeHistogram();
            int largest = 0;
            for (int i = 1; i < h.length; i++) if (h[i] > 0) largest = i;
            assertTrue(largest > 1 && b.meanBatchSize() > 1, "32 queued requests should share batches: histogram " + java.util.Arrays.toString(h));
            assertTrue(largest <= 8, "no batch above maxBatch");
        }
    }

    @Test
    void aMalformedRequestFailsAloneAndTheEngineKeepsServing() {
        try (BatchingPredictor b = batcher(BatchingPredictor.Options.defaults().maxDelay(Duration.ofMillis(20)))) {
            CompletableFuture<float[]> good1 = b.submit(image(1), H, W);
            CompletableFuture<float[]> shortInput = b.submit(new float[10], H, W);
            CompletableFuture<float[]> tooSmall = b.submit(new float[C], 1, 1);
            CompletableFuture<float[]> nullInput = b.submit(null, H, W);
            CompletableFuture<float[]> badStd = b.submitUint8(new byte[H * W * C], H, W, new float[] {0, 0, 0}, new float[] {1, 0, 1});
            CompletableFuture<float[]> good2 = b.submit(image(2), H, W);
            assertClose(direct.forward(image(1), 1, H, W), good1.join(), 1e-5, "good request before the bad ones");
            assertClose(direct.forward(image(2), 1, H, W), good2.join(), 1e-5, "good request after the bad ones");
            for (CompletableFuture<float[]> bad : List.of(shortInput, tooSmall, nullInput, badStd)) {
                CompletionException e = assertThrows(CompletionException.class, bad::join);
                assertInstanceOf(IllegalArgumentException.class, e.getCause());
            }
            assertTrue(assertThrows(IllegalArgumentException.class, () -> b.predict(new float[10], H, W)).getMessage().contains("needs " + C * H * W));
            assertClose(direct.forward(image(3), 1, H, W), b.predict(image(3), H, W), 1e-5, "still serving");
        }
    }

    @Test
    void aFullQueueRejectsWithATypedException() {
        try (BatchingPredictor b = batcher(new BatchingPredictor.Options(1, Duration.ZERO, 2, false))) {
            List<CompletableFuture<float[]>> fs = new ArrayList<>();
            for (int i = 0; i < 60; i++) fs.add(b.submit(image(i), H, W));
            int ok = 0, full = 0;
            for (CompletableFuture<float[]> f : fs) {
                try {
                    f.join();
                    ok++;
                } catch (CompletionException e) {
                    assertInstanceOf(QueueFullException.class, e.getCause());
                    assertTrue(e.getCause().getMessage().contains("queue is full"));
                    full++;
                }
            }
            assertTrue(full > 0, "60 instant submissions into a queue of 2 must overflow");
            assertTrue(ok >= 2, "the queued requests still run");
        }
    }

    @Test
    void blockingWhenFullRunsEveryRequest() {
        try (BatchingPredictor b = batcher(new BatchingPredictor.Options(2, Duration.ZERO, 1, true))) {
            List<CompletableFuture<float[]>> fs = new ArrayList<>();
            for (int i = 0; i < 12; i++) fs.add(b.submit(image(i), H, W));
            for (int i = 0; i < 12; i++) assertClose(direct.forward(image(i), 1, H, W), fs.get(i).join(), 1e-5, "image " + i);
        }
    }

    @Test
    void closeDrainsAndCloseNowFailsButNoFutureHangs() {
        BatchingPredictor b = batcher(BatchingPredictor.Options.defaults().maxBatch(4));
        List<CompletableFuture<float[]>> fs = new ArrayList<>();
        for (int i = 0; i < 24; i++) fs.add(b.submit(image(i), H, W));
        b.close();
        for (int i = 0; i < 24; i++) assertClose(direct.forward(image(i), 1, H, W), fs.get(i).getNow(null), 1e-5, "drained image " + i);
        CompletionException after = assertThrows(CompletionException.class, () -> b.submit(image(0), H, W).join());
        assertInstanceOf(IllegalStateException.class, after.getCause());
        b.close();  // idempotent

        BatchingPredictor n = batcher(BatchingPredictor.Options.defaults().maxBatch(1).maxDelay(Duration.ZERO));
        List<CompletableFuture<float[]>> gs = new ArrayList<>();
        for (int i = 0; i < 40; i++) gs.add(n.submit(image(i), H, W));
        n.closeNow();
        int failed = 0;
        for (CompletableFuture<float[]> g : gs) {
            assertTrue(g.isDone(), "closeNow left a future pending");
            if (g.isCompletedExceptionally()) {
                CompletionException e = assertThrows(CompletionException.class, g::join);
                assertTrue(e.getCause().getMessage().contains("closed before this request ran"), e.getCause().getMessage());
                failed++;
            }
        }
        assertTrue(failed > 0, "40 queued single-image batches cannot all have run before closeNow");
    }

    @Test
    void uint8RequestsMatchTheFloatPath() {
        float[] mean = {0.4f, 0.5f, 0.6f}, std = {0.2f, 0.25f, 0.3f};
        try (BatchingPredictor b = batcher(BatchingPredictor.Options.defaults())) {
            for (int s = 0; s < 4; s++) {
                byte[] hwc = Uint8InputTest.randomBytes(H * W * C, s);
                float[] want = direct.forward(Uint8InputTest.normalise(hwc, H, W, mean, std), 1, H, W);
                assertClose(want, b.predictUint8(hwc, H, W, mean, std), 1e-5, "uint8 image " + s);
            }
        }
    }
}
