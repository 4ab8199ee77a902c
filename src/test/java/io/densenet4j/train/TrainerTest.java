package io.densenet4j.train;

import io.densenet4j.DenseNet;
import io.densenet4j.DenseNetConfig;
import io.densenet4j.DenseNets;
import io.densenet4j.Initializers;
import io.densenet4j.data.ArrayDataset;
import io.densenet4j.data.Normalization;
import io.densenet4j.io.StateDict;
import io.densenet4j.io.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TrainerTest {
    static final PrintStream QUIET = new PrintStream(java.io.OutputStream.nullOutputStream());

    /** 96 random 1x10x10 images in 3 classes whose mean brightness depends on the class (learnable). */
    static ArrayDataset data(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n * 100];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = i % 3;
            for (int j = 0; j < 100; j++) x[i * 100 + j] = (float) Math.min(1, Math.max(0, r.nextDouble() * 0.5 + 0.25 * y[i]));
        }
        return new ArrayDataset(x, y, 1, 10, 10, 3);
    }

    static TrainSettings settings(long maxSteps) {
        return new TrainSettings(2, 16, 0.05, Schedule.COSINE, 0.9, true, 1e-4, 7, true, true, TrainingEngine.Memory.EFFICIENT, 2, maxSteps);
    }

    static final DenseNetConfig CFG = DenseNets.densenetBC(16, 4, 1, 3).withDropRate(0.2);

    static void assertSameState(StateDict a, StateDict b) {
        assertEquals(a.keys(), b.keys());
        for (String k : a.keys()) {
            Tensor x = a.get(k), y = b.get(k);
            if (x.kind() == Tensor.Kind.INT64) assertArrayEquals(x.longs(), y.longs(), k);
            else assertArrayEquals(x.floats(), y.floats(), k);  // bit for bit (NaN-aware, -0 != 0)
        }
    }

    @Test
    void aStoppedThenResumedRunEqualsAnUninterruptedOneBitForBit(@TempDir Path dir) {
        ArrayDataset train = data(1, 96), test = data(2, 30);
        Normalization norm = Normalization.compute(train);
        StateDict init = Initializers.torchvision(new DenseNet(CFG), 3);

        Trainer.Result full = new Trainer(CFG, settings(0), train, test, norm, dir.resolve("full"), QUIET).quiet().run(init, null);
        assertEquals(12, full.steps());

        for (long stopAt : new long[] {4, 6, 9}) {  // mid-epoch, at the epoch boundary, in the second epoch
            Path d = dir.resolve("stop" + stopAt);
            Trainer.Result part = new Trainer(CFG, settings(stopAt), train, test, norm, d, QUIET).quiet().run(init, null);
            assertTrue(part.stoppedEarly());
            Checkpoint ck = Checkpoint.read(d.resolve(Trainer.CHECKPOINT));
            assertEquals(stopAt, ck.step());
            Trainer.Result rest = new Trainer(CFG, settings(0), train, test, norm, d, QUIET).quiet().run(null, ck);
            assertEquals(12, rest.steps());
            assertSameState(full.state(), rest.state());
            assertEquals(full.test().correct(), rest.test().correct());
            assertEquals(List.of(1, 2), epochs(Metrics.parse(assertDoesNotThrowRead(d.resolve("metrics.csv")))), "stopped at step " + stopAt);
        }
        // the uninterrupted run really moved the weights, and BatchNorm counted every forward pass
        assertFalse(Arrays.equals(init.require("classifier.weight").floats(), full.state().require("classifier.weight").floats()));
        assertEquals(12L, full.state().require("features.norm5.num_batches_tracked").longs()[0]);
    }

    @Test
    void anInterruptMidEpochSavesAndResumesBitForBit(@TempDir Path dir) {
        ArrayDataset train = data(1, 96), test = data(2, 30);
        Normalization norm = Normalization.compute(train);
        StateDict init = Initializers.torchvision(new DenseNet(CFG), 3);
        Trainer.Result full = new Trainer(CFG, settings(0), train, test, norm, dir.resolve("full"), QUIET).quiet().run(init, null);

        Path d = dir.resolve("interrupted");
        Trainer t = new Trainer(CFG, settings(0), train, test, norm, d, QUIET).quiet();
        t.afterStep(step -> { if (step == 2) t.requestStop(); });  // as the signal handler does, mid-epoch (6 steps per epoch)
        Trainer.Result part = t.run(init, null);
        assertTrue(part.stoppedEarly() && part.interrupted());
        assertEquals(2, part.steps());
        Checkpoint ck = Checkpoint.read(d.resolve(Trainer.CHECKPOINT));
        assertEquals(0, ck.epoch());
        assertEquals(2, ck.batch(), "the sampler position");
        // metrics so far: the partial epoch in metrics.csv (and the plot), none in the checkpoint
        List<Metrics.Row> shown = Metrics.parse(assertDoesNotThrowRead(d.resolve("metrics.csv"))).rows();
        assertEquals(1, shown.size());
        assertEquals(2, shown.get(0).step());
        assertTrue(Files.exists(d.resolve("plot.png")));
        assertEquals(0, Metrics.parse(ck.run().get("metrics")).rows().size());

        Trainer.Result rest = new Trainer(CFG, settings(0), train, test, norm, d, QUIET).quiet().run(null, ck);
        assertFalse(rest.interrupted());
        assertSameState(full.state(), rest.state());
        List<Metrics.Row> rows = Metrics.parse(assertDoesNotThrowRead(d.resolve("metrics.csv"))).rows();
        assertEquals(List.of(1, 2), epochs(Metrics.parse(assertDoesNotThrowRead(d.resolve("metrics.csv")))));
        // throughput of the resumed epoch counts only the 4 batches of 16 run after the resume
        Metrics.Row first = rows.get(0);
        double timed = first.imagesPerSecond() * first.seconds();  // (img/s and seconds as rounded in the CSV)
        assertTrue(timed > 48 && timed < 80, "64 images timed in the resumed epoch, not the epoch's 96: " + timed);
    }

    @Test
    void checkpointEveryWritesWithinEpochs(@TempDir Path dir) {
        ArrayDataset train = data(1, 96);
        Normalization norm = Normalization.compute(train);
        long[] seenAt = new long[1];
        Trainer t = new Trainer(CFG, settings(0), train, null, norm, dir, QUIET).quiet().checkpointEvery(4);
        t.afterStep(step -> {
            if (step == 5) {
                seenAt[0] = Checkpoint.read(dir.resolve(Trainer.CHECKPOINT)).step();
                throw new IllegalStateException("stop here");
            }
        });
        org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> t.run(Initializers.torchvision(new DenseNet(CFG), 3), null));
        assertEquals(4, seenAt[0], "the step-4 checkpoint, mid-epoch 1 (6 steps per epoch)");
        assertEquals(0, Checkpoint.read(dir.resolve(Trainer.CHECKPOINT)).epoch());
        assertEquals(4, Checkpoint.read(dir.resolve(Trainer.CHECKPOINT)).batch());
    }

    @Test
    void checkpointRoundTripsEverything(@TempDir Path dir) {
        ArrayDataset train = data(3, 48);
        Normalization norm = Normalization.compute(train);
        new Trainer(CFG, settings(0), train, null, norm, dir, QUIET).quiet().run(Initializers.torchvision(new DenseNet(CFG), 1), null);
        Checkpoint ck = Checkpoint.read(dir.resolve(Trainer.CHECKPOINT));
        assertEquals(CFG, ck.config());
        assertEquals(settings(0), ck.settings());
        assertEquals(2, ck.epoch());
        assertEquals(0, ck.batch());
        assertEquals(6, ck.step());
        assertEquals(norm, ck.normalization());
        assertEquals(10, ck.height());
        assertEquals(train.classNames(), ck.classNames());
        assertEquals(new DenseNet(CFG).parameterCount(),
                ck.momentum().values().stream().mapToLong(v -> v.length).sum(), "one momentum buffer per parameter");
        // as plain weights the checkpoint loads too (optimizer.* ignored)
        StateDict weights = io.densenet4j.io.StateDicts.load(dir.resolve(Trainer.CHECKPOINT));
        try (io.densenet4j.Predictor p = io.densenet4j.Predictor.create(CFG, weights, new io.densenet4j.Predictor.Options("cpu", 1))) {
            assertEquals(3, p.forward(new float[100], 1, 10, 10).length);
        }
        // metrics: a header and one row per epoch, and the plot
        assertTrue(Files.exists(dir.resolve("plot.png")));
        assertEquals(2, Metrics.parse(ck.run().get("metrics")).rows().size(), "the checkpoint carries one metrics row per epoch");
        assertEquals(ck.run().get("metrics"), assertDoesNotThrowRead(dir.resolve("metrics.csv")));
        // epochs count from 1, as the log's "epoch 1/2" does (3 steps per epoch)
        List<String> csv = assertDoesNotThrowRead(dir.resolve("metrics.csv")).lines().toList();
        assertTrue(csv.get(1).startsWith("1,3,") && csv.get(2).startsWith("2,6,"), String.join("\n", csv));
    }

    @Test
    void resumingACheckpointWithZeroBasedMetricsCountsFromOne(@TempDir Path dir) {
        ArrayDataset train = data(1, 96);
        Normalization norm = Normalization.compute(train);
        new Trainer(CFG, settings(6), train, null, norm, dir, QUIET).quiet().run(Initializers.torchvision(new DenseNet(CFG), 3), null);
        Checkpoint ck = Checkpoint.read(dir.resolve(Trainer.CHECKPOINT));
        assertEquals(1, ck.epoch());
        Map<String, String> run = new LinkedHashMap<>(ck.run());
        run.put("metrics", run.get("metrics").replace("\n1,6,", "\n0,6,"));  // as written before epochs counted from 1
        assertTrue(run.get("metrics").contains("\n0,6,"), run.get("metrics"));
        Checkpoint old = new Checkpoint(ck.config(), ck.settings(), ck.model(), ck.momentum(), ck.epoch(), ck.batch(), ck.step(),
                ck.normalization(), ck.classNames(), ck.height(), ck.width(), run);
        Trainer.Result r = new Trainer(CFG, settings(0), train, null, norm, dir, QUIET).quiet().run(null, old);
        assertEquals(12, r.steps());
        assertEquals(List.of(1, 2), epochs(Metrics.parse(assertDoesNotThrowRead(dir.resolve("metrics.csv")))));
    }

    static List<Integer> epochs(Metrics m) {
        return m.rows().stream().map(Metrics.Row::epoch).toList();
    }

    static String assertDoesNotThrowRead(Path p) {
        try {
            return Files.readString(p);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void trainingLearnsASeparableProblem(@TempDir Path dir) {
        ArrayDataset train = data(5, 96), test = data(6, 60);
        TrainSettings s = new TrainSettings(4, 16, 0.1, Schedule.STEP, 0.9, true, 1e-4, 1, true, false, TrainingEngine.Memory.EFFICIENT, 2, 0);
        Trainer.Result r = new Trainer(DenseNets.densenetBC(16, 4, 1, 3), s, train, test, Normalization.compute(train), dir, QUIET).quiet()
                .run(Initializers.torchvision(new DenseNet(DenseNets.densenetBC(16, 4, 1, 3)), 2), null);
        assertTrue(r.test().accuracy() >= 0.9, "test accuracy " + r.test().accuracy());
    }

    @Test
    void schedules() {
        assertEquals(0.1, Schedule.STEP.rate(0.1, 0.49), 1e-12);
        assertEquals(0.01, Schedule.STEP.rate(0.1, 0.5), 1e-12);
        assertEquals(0.001, Schedule.STEP.rate(0.1, 0.75), 1e-12);
        assertEquals(0.1, Schedule.COSINE.rate(0.1, 0), 1e-12);
        assertEquals(0.05, Schedule.COSINE.rate(0.1, 0.5), 1e-12);
        assertEquals(0.0, Schedule.COSINE.rate(0.1, 1), 1e-12);
        assertEquals(0.1, Schedule.CONSTANT.rate(0.1, 0.9), 1e-12);
    }

    @Test
    void imagesTooSmallForTheNetworksPoolingAreRefusedAtConstruction(@TempDir Path dir) {
        DenseNetConfig imagenet = DenseNets.byName("densenet121").withInChannels(1).withNumClasses(3);
        ArrayDataset train = data(1, 96);
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new Trainer(imagenet, settings(0), train, null, Normalization.compute(train), dir.resolve("run"), QUIET));
        assertEquals("input 10x10 is too small for this network: every dense block needs at least 1x1 pixels, so the minimum input is 29x29",
                e.getMessage());
        assertFalse(Files.exists(dir.resolve("run")));
    }

    @Test
    void naiveModeRefusesWhatWouldNotFitWithItsEstimate() {
        DenseNetConfig deep = DenseNets.densenetBC(1000, 12);
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> TrainingEngine.create(deep, Initializers.torchvision(new DenseNet(deep), 1), 32, 32, TrainingEngine.Memory.NAIVE, 1, 64));
        assertTrue(e.getMessage().matches("naive memory mode would need about [0-9.]+ GB for batch 64.*"), e.getMessage());
    }
}
