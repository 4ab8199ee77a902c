package io.densenet4j;

import io.densenet4j.data.Datasets;
import io.densenet4j.data.IdxDataset;
import io.densenet4j.data.Normalization;
import io.densenet4j.data.Subset;
import io.densenet4j.io.StateDict;
import io.densenet4j.train.Schedule;
import io.densenet4j.train.TrainSettings;
import io.densenet4j.train.Trainer;
import io.densenet4j.train.TrainingEngine;
import org.junit.jupiter.api.Assumptions;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.IntStream;

/**
 * A DenseNet-BC (L=22, k=8) trained for two epochs on the first 8,000 Fashion-MNIST training
 * images (about 15 s here), once per test JVM, for the reduced-precision accuracy tests: they
 * compare fp32 with bf16 or int8 on the first 1,000 test images. Skips (with the reason) where
 * Fashion-MNIST is not installed.
 */
final class TrainedFashionMnist {
    static final DenseNetConfig CONFIG = DenseNets.densenetBC(22, 8, 1, 10);
    private static TrainedFashionMnist model;

    final IdxDataset trainAll;
    final Subset train, test;
    final Normalization norm;
    final StateDict weights;

    private TrainedFashionMnist() throws java.io.IOException {
        Path fm = Path.of(Datasets.FASHION_MNIST_DIR);
        trainAll = Datasets.fashionMnist(fm, true);
        IdxDataset testAll = Datasets.fashionMnist(fm, false);
        train = new Subset(trainAll, IntStream.range(0, 8000).toArray());
        test = new Subset(testAll, IntStream.range(0, 1000).toArray());
        norm = Normalization.compute(train);
        StateDict init = Initializers.torchvision(new DenseNet(CONFIG), 11);
        TrainSettings s = new TrainSettings(2, 32, 0.1, Schedule.COSINE, 0.9, true, 1e-4, 5, true, false,
                TrainingEngine.Memory.EFFICIENT, 2, 0);
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
        Path dir = Files.createTempDirectory("dn4j-fmnist");
        try {
            weights = new Trainer(CONFIG, s, train, test, norm, dir, quiet).quiet().run(init, null).state();
        } finally {
            try (var files = Files.walk(dir)) {  // the weights are in memory; the run's files are not needed
                files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    static synchronized TrainedFashionMnist get() {
        Path fm = Path.of(Datasets.FASHION_MNIST_DIR);
        Assumptions.assumeTrue(Files.isRegularFile(fm.resolve("t10k-images-idx3-ubyte.gz")), "Fashion-MNIST not installed in " + fm);
        if (model == null) {
            try {
                model = new TrainedFashionMnist();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        return model;
    }

    /** fp32 against a reduced precision on the test images: correct predictions of each, and how many differ. */
    record Agreement(int rightFp32, int rightOther, int differ, String what) {}

    /** Compares the top-1 classes {@code fp32} and {@code other} (named {@code dtype}) on {@link #test}, and prints the figures. */
    Agreement agreement(String dtype, int[] fp32, int[] other) {
        int right32 = 0, rightOther = 0, differ = 0;
        for (int i = 0; i < fp32.length; i++) {
            if (fp32[i] == test.label(i)) right32++;
            if (other[i] == test.label(i)) rightOther++;
            if (fp32[i] != other[i]) differ++;
        }
        String what = "fp32 " + right32 * 100.0 / fp32.length + "%, " + dtype + " " + rightOther * 100.0 / fp32.length + "%, " + differ
                + " predictions differ";
        System.out.println(dtype + " against fp32, Fashion-MNIST " + fp32.length + " test images: " + what);
        return new Agreement(right32, rightOther, differ, what);
    }

    /** Images [from, from + n) of {@code d}, normalised, as one (n, 1, 28, 28) batch. */
    float[] batch(io.densenet4j.data.Dataset d, int from, int n) {
        float[] x = new float[n * 784];
        for (int i = 0; i < n; i++) {
            float[] img = d.image(from + i);
            norm.apply(img, 0, 28, 28);
            System.arraycopy(img, 0, x, i * 784, 784);
        }
        return x;
    }
}
