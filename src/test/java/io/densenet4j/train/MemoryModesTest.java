package io.densenet4j.train;

import io.densenet4j.DenseNet;
import io.densenet4j.DenseNetConfig;
import io.densenet4j.Initializers;
import io.densenet4j.io.StateDict;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Efficient (recomputing) and naive (storing) modes agree; dropout replays; memory is linear in depth. */
class MemoryModesTest {

    static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
        return x;
    }

    @Test
    void efficientAndNaiveAgreeOnLossesAndEveryGradient() {
        // blocks of 3 and 4 layers, both stems' code paths covered elsewhere; dropout on so the mask must replay
        for (DenseNetConfig.Stem stem : DenseNetConfig.Stem.values()) {
            DenseNetConfig cfg = new DenseNetConfig(4, List.of(3, 4), 8, 4, 0.5, stem, 3, 5, 0.2);
            StateDict init = Initializers.torchvision(new DenseNet(cfg), 3);
            int n = 4, side = stem == DenseNetConfig.Stem.IMAGENET ? 40 : 16;
            float[] x = random(n * 3 * side * side, 5);
            long[] y = {0, 1, 4, 2};
            try (TrainingEngine eff = TrainingEngine.create(cfg, init, side, side, TrainingEngine.Memory.EFFICIENT, 2, n);
                 TrainingEngine nai = TrainingEngine.create(cfg, init, side, side, TrainingEngine.Memory.NAIVE, 2, n)) {
                for (int step = 0; step < 2; step++) {
                    double a = eff.forwardBackward(x, y, n, 100 + step, null);
                    double b = nai.forwardBackward(x, y, n, 100 + step, null);
                    assertTrue(Math.abs(a - b) <= 1e-5 * Math.abs(b), "loss " + a + " vs " + b);
                    for (String p : eff.parameterNames()) {
                        double e = GoldenTrainingTest.relL2(nai.gradient(p), eff.gradient(p));
                        assertTrue(e <= 1e-5, stem + " step " + step + " " + p + ": relative L2 " + e);
                    }
                    eff.sgdStep(0.05f, 0.9f, 1e-4f, true);
                    nai.sgdStep(0.05f, 0.9f, 1e-4f, true);
                }
                assertTrue(eff.estimateBytes(n) < nai.estimateBytes(n), "efficient mode should need less memory");
            }
        }
    }

    @Test
    void dropoutMasksDependOnTheSeedOnly() {
        DenseNetConfig cfg = new DenseNetConfig(4, List.of(3), 8, 4, 0.5, DenseNetConfig.Stem.CIFAR, 3, 5, 0.5);
        StateDict init = Initializers.torchvision(new DenseNet(cfg), 7);
        float[] x = random(2 * 3 * 8 * 8, 9);
        long[] y = {1, 3};
        try (TrainingEngine t = TrainingEngine.create(cfg, init, 8, 8, TrainingEngine.Memory.EFFICIENT, 2, 2)) {
            float[] l1 = new float[10], l2 = new float[10], l3 = new float[10];
            t.forwardBackward(x, y, 2, 42, l1);
            t.forwardBackward(x, y, 2, 42, l2);
            t.forwardBackward(x, y, 2, 43, l3);
            // running stats change between calls but train-mode logits use batch statistics only
            assertArrayEquals(l1, l2);
            assertFalse(java.util.Arrays.equals(l1, l3), "another seed should drop other features");
        }
    }

    @Test
    void aStepThatCannotFitIsRefusedUpFrontInEitherMode() {
        // DenseNet-BC L=100 on 224x224 (CIFAR stem: no downsampling before block 1) at batch 4096:
        // block 1 alone is 4096 x 224 x 224 x 216 floats, about 177 GB, far over any test machine
        DenseNetConfig cfg = io.densenet4j.DenseNets.densenetBC(100, 12, 3, 10);
        StateDict init = Initializers.torchvision(new DenseNet(cfg), 1);
        long avail = TrainingEngine.availableBytes();
        org.junit.jupiter.api.Assumptions.assumeTrue(avail > 0 && avail < 100e9, "this machine's available memory is unknown or huge");
        for (TrainingEngine.Memory m : TrainingEngine.Memory.values()) {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> TrainingEngine.create(cfg, init, 224, 224, m, 1, 4096, "cpu"));
            assertTrue(e.getMessage().startsWith(m.id() + " memory mode would need about "), e.getMessage());
            assertTrue(e.getMessage().contains("use a smaller batch"), e.getMessage());
        }
    }

    @Test
    void efficientMemoryGrowsLinearlyWithDepth() {
        long[] bytes = new long[3];
        int[] depths = {40, 76, 112};
        for (int i = 0; i < depths.length; i++) {
            DenseNetConfig cfg = io.densenet4j.DenseNets.densenetBC(depths[i], 12);
            try (TrainingEngine t = TrainingEngine.create(cfg, Initializers.torchvision(new DenseNet(cfg), 1), 32, 32,
                    TrainingEngine.Memory.EFFICIENT, 1, 64)) {
                bytes[i] = t.estimateBytes(64);
            }
        }
        // equal steps in depth add (nearly) equal bytes: second differences small against the first
        long d1 = bytes[1] - bytes[0], d2 = bytes[2] - bytes[1];
        assertTrue(d1 > 0 && Math.abs(d2 - d1) < 0.1 * d1, "increments " + d1 + ", " + d2);
    }
}
