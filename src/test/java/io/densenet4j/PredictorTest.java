package io.densenet4j;

import io.densenet4j.internal.NativeCore;
import io.densenet4j.internal.NativeLibrary;
import io.densenet4j.io.StateDict;
import io.densenet4j.io.Tensor;
import io.densenet4j.topology.DenseBlock;
import io.densenet4j.topology.Plan;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PredictorTest {
    static final Predictor.Options CPU2 = new Predictor.Options("cpu", 2);

    static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextDouble() * 4 - 2);
        return x;
    }

    /** Weights with non-trivial BatchNorm statistics, so that every BN matters. */
    static StateDict weights(DenseNet net, long seed) {
        StateDict sd = Initializers.torchvision(net, seed);
        SplittableRandom r = new SplittableRandom(seed + 1);
        for (String k : sd.keys()) {
            Tensor t = sd.get(k);
            if (t.kind() != Tensor.Kind.FLOAT32 || t.rank() != 1 || k.startsWith("classifier")) continue;
            float[] v = t.floats();
            for (int i = 0; i < v.length; i++) {
                if (k.endsWith(".weight")) v[i] = (float) (0.5 + r.nextDouble());
                else if (k.endsWith(".bias") || k.endsWith("running_mean")) v[i] = (float) (0.4 * r.nextDouble() - 0.2);
                else if (k.endsWith("running_var")) v[i] = (float) (0.5 + r.nextDouble());
            }
        }
        return sd;
    }

    /**
     * Runs the plan up to each dense layer with every buffer poisoned (NaN) before its first use:
     * after layer l of a block, exactly channels [0, C0 + (l+1)k) of the block buffer are written.
     */
    static void assertLayersWriteOnlyTheirSlice(DenseNetConfig cfg, int n, int h, int w) {
        DenseNet net = new DenseNet(cfg);
        try (Predictor p = Predictor.create(cfg, weights(net, 3), CPU2)) {
            Plan plan = net.inferencePlan(h, w);
            float[] x = random(n * cfg.inChannels() * h * w, 5);
            // ops: to_nhwc, stem (1 or 2 ops), then per layer 2 ops, per transition 1 op
            int ops = cfg.stem() == DenseNetConfig.Stem.IMAGENET ? 3 : 2;
            for (DenseBlock b : net.blocks()) {
                for (int l = 0; l < b.layers().size(); l++) {
                    ops += 2;
                    try (NativeCore.Engine e = new NativeCore.Engine(plan.text(ops), p.weightStore(), "cpu", 2)) {
                        e.set_poison(true);
                        e.forward(x, n, null);
                        float[] buf = new float[(int) e.buffer_size(b.bufferName())];
                        e.read_buffer(b.bufferName(), buf);
                        int c = b.outChannels();
                        int written = b.inChannels() + (l + 1) * cfg.growthRate();
                        for (int i = 0; i < buf.length; i++) {
                            boolean nan = Float.isNaN(buf[i]);
                            int ch = i % c;
                            if (ch < written && nan) throw new AssertionError(b.bufferName() + " layer " + (l + 1) + ": channel " + ch + " unwritten at " + i);
                            if (ch >= written && !nan) throw new AssertionError(b.bufferName() + " layer " + (l + 1) + ": channel " + ch + " written early at " + i);
                        }
                    }
                }
                ops += 1; // transition (or head)
            }
            // the whole network on poisoned buffers gives the same, finite logits
            float[] clean = p.forward(x, n, h, w);
            NativeCore.Engine e = p.engine(h, w);
            e.set_poison(true);
            float[] poisoned = p.forward(x, n, h, w);
            e.set_poison(false);
            for (float v : poisoned) assertFalse(Float.isNaN(v));
            assertArrayEquals(clean, poisoned);
        }
    }

    @Test
    void eachLayerWritesOnlyItsChannelSlice() {
        DenseNetConfig cfg = new DenseNetConfig(3, List.of(3, 2), 5, 2, 0.5, DenseNetConfig.Stem.IMAGENET, 3, 4, 0);
        assertLayersWriteOnlyTheirSlice(cfg, 3, 37, 41);
    }

    @Test
    void sliceSentinelWhenChannelsEqualHeightAndWidth() {
        // block 1 buffer is 8 x 8 x 8 (C == H == W) and the batch is 8, so a mixed-up axis cannot hide
        DenseNetConfig cfg = new DenseNetConfig(2, List.of(2, 2), 4, 2, 0.5, DenseNetConfig.Stem.CIFAR, 8, 3, 0);
        assertEquals(8, new DenseNet(cfg).blocks().get(0).outChannels());
        assertLayersWriteOnlyTheirSlice(cfg, 8, 8, 8);
    }

    @Test
    void sampleAloneEqualsSampleInABatchOfEightAndRepeatsBitForBit() {
        DenseNetConfig cfg = DenseNets.densenetBC(22, 6, 3, 7);
        DenseNet net = new DenseNet(cfg);
        StateDict sd = weights(net, 11);
        float[] batch = random(8 * 3 * 20 * 20, 13);
        try (Predictor p = Predictor.create(cfg, sd, CPU2)) {
            float[] all = p.forward(batch, 8, 20, 20);
            for (int i = 0; i < 8; i++) {
                float[] one = java.util.Arrays.copyOfRange(batch, i * 1200, (i + 1) * 1200);
                float[] got = p.forward(one, 1, 20, 20);
                for (int j = 0; j < 7; j++) assertEquals(all[i * 7 + j], got[j], 1e-5, "sample " + i + " logit " + j);
                assertArrayEquals(got, p.forward(one, 1, 20, 20), "sample " + i + " again: bit for bit");
            }
            assertArrayEquals(all, p.forward(batch, 8, 20, 20), "the batch again: bit for bit");
        }
    }

    @Test
    void inferenceNeverChangesBatchNormStatistics() {
        DenseNetConfig cfg = DenseNets.densenetBC(16, 4, 1, 10);
        DenseNet net = new DenseNet(cfg);
        StateDict sd = weights(net, 17);
        float[] mean = sd.get("features.denseblock1.denselayer1.norm1.running_mean").floats().clone();
        float[] var = sd.get("features.norm5.running_var").floats().clone();
        float[] x = random(4 * 28 * 28, 19);
        try (Predictor p = Predictor.create(cfg, sd, CPU2)) {
            float[] first = p.forward(x, 4, 28, 28);
            for (int i = 0; i < 5; i++) assertArrayEquals(first, p.forward(x, 4, 28, 28), "forward " + i);
        }
        assertArrayEquals(mean, sd.get("features.denseblock1.denselayer1.norm1.running_mean").floats());
        assertArrayEquals(var, sd.get("features.norm5.running_var").floats());
    }

    @Test
    void tenThousandForwardsLeaveNativeMemoryFlat() {
        DenseNetConfig cfg = DenseNets.densenetBC(10, 2, 1, 3);
        float[] x = random(2 * 12 * 12, 23);
        try (Predictor p = Predictor.create(cfg, weights(new DenseNet(cfg), 29), new Predictor.Options("cpu", 1))) {
            for (int i = 0; i < 100; i++) p.forward(x, 2, 12, 12);
            long inUse = NativeLibrary.nativeBytesInUse();
            NativeLibrary.resetPeak();
            for (int i = 0; i < 10_000; i++) p.forward(x, 2, 12, 12);
            assertEquals(inUse, NativeLibrary.nativeBytesInUse(), "bytes in use after 10,000 forwards");
            assertEquals(inUse, NativeLibrary.nativeBytesPeak(), "peak after 10,000 forwards");
        }
    }

    @Test
    void closeFreesEverything() {
        long before = NativeLibrary.nativeBytesInUse();
        DenseNetConfig cfg = DenseNets.densenetBC(16, 4, 3, 10);
        Predictor p = Predictor.create(cfg, weights(new DenseNet(cfg), 31), CPU2);
        p.forward(random(2 * 3 * 32 * 32, 37), 2, 32, 32);
        p.forward(random(3 * 16 * 16, 37), 1, 16, 16);
        assertTrue(NativeLibrary.nativeBytesInUse() > before);
        p.close();
        assertEquals(before, NativeLibrary.nativeBytesInUse());
        assertThrows(IllegalStateException.class, () -> p.forward(new float[3 * 32 * 32], 1, 32, 32));
    }

    @Test
    void aSharedPredictorServesSeveralThreads() throws Exception {
        DenseNetConfig cfg = DenseNets.densenetBC(16, 4, 3, 5);
        try (Predictor p = Predictor.create(cfg, weights(new DenseNet(cfg), 41), CPU2);
             Predictor q = Predictor.create(cfg, weights(new DenseNet(cfg), 41), CPU2)) {
            List<float[]> inputs = new ArrayList<>();
            List<float[]> want = new ArrayList<>();
            for (int t = 0; t < 6; t++) {
                inputs.add(random(2 * 3 * 24 * 24, 100 + t));
                want.add(p.forward(inputs.get(t), 2, 24, 24));
            }
            ExecutorService pool = Executors.newFixedThreadPool(6);
            try {
                List<Future<Boolean>> results = new ArrayList<>();
                for (int t = 0; t < 6; t++) {
                    int id = t;
                    Predictor which = t % 2 == 0 ? p : q;
                    results.add(pool.submit(() -> {
                        for (int r = 0; r < 30; r++) {
                            if (!java.util.Arrays.equals(want.get(id), which.forward(inputs.get(id), 2, 24, 24))) return false;
                        }
                        return true;
                    }));
                }
                for (Future<Boolean> f : results) assertTrue(f.get(), "a thread saw different logits");
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void badInputGivesClearErrors() {
        DenseNetConfig cfg = DenseNets.densenet121();
        try (Predictor p = Predictor.create(cfg, Initializers.torchvision(new DenseNet(cfg), 1), CPU2)) {
            IllegalArgumentException small = assertThrows(IllegalArgumentException.class, () -> p.forward(new float[3 * 28 * 28], 1, 28, 28));
            assertTrue(small.getMessage().contains("minimum input is 29x29"), small.getMessage());
            float[] ok = p.forward(random(3 * 29 * 29, 1), 1, 29, 29);
            assertEquals(1000, ok.length);
            IllegalArgumentException len = assertThrows(IllegalArgumentException.class, () -> p.forward(new float[10], 1, 29, 29));
            assertTrue(len.getMessage().contains("needs"), len.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> new Predictor.Options("tpu", 0));
    }
}
