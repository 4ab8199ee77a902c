package io.densenet4j;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

import static io.densenet4j.BatchingPredictorTest.C;
import static io.densenet4j.BatchingPredictorTest.CFG;
import static io.densenet4j.BatchingPredictorTest.H;
import static io.densenet4j.BatchingPredictorTest.W;
import static io.densenet4j.BatchingPredictorTest.assertClose;
import static io.densenet4j.BatchingPredictorTest.assertManyThreadsGetTheirOwnLogits;
import static io.densenet4j.BatchingPredictorTest.direct;
import static io.densenet4j.BatchingPredictorTest.imagesCounted;
import static io.densenet4j.BatchingPredictorTest.weights;
import static io.densenet4j.BatchingPredictorTest.image;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The GPU engines' way of batching (BatchWorker: double buffering through submit/collect, and batches
 * padded to power-of-two sizes on one engine per size), forced on for a CPU engine so that it runs
 * here: the same logits as direct calls, whatever the padding rows hold. The overlap itself (uploads
 * on a copy stream) is the CUDA backend's, checked by scripts/gpu-check.
 */
class BatchingPipelineTest {
    @BeforeAll
    static void setUp() { BatchingPredictorTest.setUp(); }

    @AfterAll
    static void tearDown() { BatchingPredictorTest.tearDown(); }

    static BatchingPredictor pipelined(Predictor engine, BatchingPredictor.Options o) {
        return BatchingPredictor.of(List.of(engine), o, true);
    }

    @Test
    void manyThreadsGetTheirOwnLogitsThroughPaddedPipelinedBatches() throws Exception {
        Predictor engine = Predictor.create(CFG, weights, PredictorTest.CPU2);
        try (BatchingPredictor b = pipelined(engine, BatchingPredictor.Options.defaults().maxBatch(6).maxDelay(Duration.ofMillis(5)))) {
            assertManyThreadsGetTheirOwnLogits(b, 2000);
            Set<Integer> sizes = engine.fixedBatchSizes();
            assertTrue(!sizes.isEmpty() && Set.of(1, 2, 4, 6).containsAll(sizes), "engines only for 1, 2, 4 and maxBatch 6: " + sizes);
        }
    }

    @Test
    void batchesArePaddedToPowersOfTwoUpToMaxBatch() {
        Predictor engine = Predictor.create(CFG, weights, PredictorTest.CPU2);
        try (BatchingPredictor b = pipelined(engine, BatchingPredictor.Options.defaults().maxBatch(6))) {
            BatchWorker w = new BatchWorker(b, engine, true);
            int[] want = {0, 1, 2, 4, 4, 6, 6};
            for (int n = 1; n <= 6; n++) assertEquals(want[n], w.runSize(n), "batch of " + n);
            assertEquals(3, new BatchWorker(b, engine, false).runSize(3), "the CPU runs a batch at its own size");
        }
    }

    @Test
    void uint8BatchesAfterLargerOnesIgnoreTheStaleRows() {
        float[] mean = {0.4f, 0.5f, 0.6f}, std = {0.2f, 0.25f, 0.3f};
        Predictor engine = Predictor.create(CFG, weights, PredictorTest.CPU2);
        try (BatchingPredictor b = pipelined(engine, BatchingPredictor.Options.defaults().maxBatch(4).maxDelay(Duration.ofMillis(50)))) {
            // 4 queued together, then 3: the second batch runs padded to 4 over the first's last row
            for (int[] round : new int[][] {{0, 4}, {4, 7}}) {
                List<CompletableFuture<float[]>> fs = new ArrayList<>();
                for (int s = round[0]; s < round[1]; s++) fs.add(b.submitUint8(Uint8InputTest.randomBytes(H * W * C, s), H, W, mean, std));
                for (int s = round[0]; s < round[1]; s++) {
                    byte[] hwc = Uint8InputTest.randomBytes(H * W * C, s);
                    float[] want = direct.forward(Uint8InputTest.normalise(hwc, H, W, mean, std), 1, H, W);
                    assertClose(want, fs.get(s - round[0]).join(), 1e-5, "uint8 image " + s);
                }
            }
        }
    }

    @Test
    void aBatchFailingNativelyIsRerunOneByOneWhileAnotherIsInFlight() {
        float poison = 12345f;  // a batch holding an image that starts with this fails at submission
        Predictor engine = Predictor.create(CFG, weights, PredictorTest.CPU2);
        int per = C * H * W;
        engine.submitFault = (buf, n) -> {
            for (int i = 0; i < n; i++) if (((FloatBuffer) buf).get(i * per) == poison) return true;
            return false;
        };
        try (BatchingPredictor b = pipelined(engine, BatchingPredictor.Options.defaults().maxBatch(4).maxDelay(Duration.ofMillis(50)))) {
            List<CompletableFuture<float[]>> fs = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                float[] x = image(4000 + i);
                if (i == 5) x[0] = poison;
                fs.add(b.submit(x, H, W));
            }
            for (int i = 0; i < 12; i++) {
                if (i == 5) {
                    Exception e = assertThrows(java.util.concurrent.CompletionException.class, fs.get(i)::join);
                    assertTrue(e.getCause().getMessage().contains("injected fault"), e.getCause().getMessage());
                } else {
                    assertClose(direct.forward(image(4000 + i), 1, H, W), fs.get(i).join(), 1e-5, "image " + i);
                }
            }
            assertEquals(12, imagesCounted(b), "every request counted once, the culprit's batch-mates alone");
        }
    }

    @Test
    void closeRunsEveryQueuedRequestThroughThePipeline() {
        Predictor engine = Predictor.create(CFG, weights, PredictorTest.CPU2);
        List<CompletableFuture<float[]>> fs = new ArrayList<>();
        BatchingPredictor b = pipelined(engine, BatchingPredictor.Options.defaults().maxBatch(3));
        for (int i = 0; i < 20; i++) fs.add(b.submit(image(3000 + i), H, W));
        b.close();
        for (int i = 0; i < 20; i++) {
            assertTrue(fs.get(i).isDone(), "request " + i + " left hanging");
            assertClose(direct.forward(image(3000 + i), 1, H, W), fs.get(i).join(), 1e-5, "image " + i);
        }
    }

    @Test
    void theEngineHoldsTwoBatchesInFlightAndRefusesAThird() {
        try (Predictor p = Predictor.create(CFG, weights, PredictorTest.CPU2)) {
            int per = C * H * W, k = p.numClasses();
            FloatBuffer in = Predictor.allocateFloats(2 * per), out = Predictor.allocateFloats(2 * k);
            in.put(0, image(1)).put(per, image(2));
            Predictor.Pending a = p.submit(in, 2, H, W, null, null, false);
            in.put(0, image(3));  // the input may be reused once submit returns
            Predictor.Pending c = p.submit(in.slice(0, per), 1, H, W, null, null, false);
            RuntimeException third = assertThrows(RuntimeException.class, () -> p.submit(in.slice(0, per), 1, H, W, null, null, false));
            assertTrue(third.getMessage().contains("2 batches are in flight"), third.getMessage());
            p.collect(c, out);  // out of order
            float[] got = new float[k];
            out.get(0, got);
            assertArrayEquals(direct.forward(image(3), 1, H, W), got, 1e-5f, "second batch");
            p.collect(a, out);
            float[] both = new float[2 * k];
            out.get(0, both);
            float[] want = direct.forward(concat(image(1), image(2)), 2, H, W);
            assertArrayEquals(want, both, 1e-5f, "first batch");
            RuntimeException again = assertThrows(RuntimeException.class, () -> p.collect(a, out));
            assertTrue(again.getMessage().contains("is not in flight"), again.getMessage());
            // uint8 through the same calls
            byte[] hwc = Uint8InputTest.randomBytes(H * W * C, 9);
            float[] mean = {0.4f, 0.5f, 0.6f}, std = {0.2f, 0.25f, 0.3f};
            ByteBuffer b8 = ByteBuffer.allocateDirect(hwc.length).put(0, hwc);
            p.collect(p.submit(b8, 1, H, W, mean, std, true), out);
            out.get(0, got);
            assertArrayEquals(direct.forward(Uint8InputTest.normalise(hwc, H, W, mean, std), 1, H, W), got, 1e-5f, "uint8 batch");
            assertEquals(Set.of(1), p.fixedBatchSizes(), "the fixed-size engine for batches of 1");
        }
    }

    static float[] concat(float[] a, float[] b) {
        float[] out = new float[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

}
