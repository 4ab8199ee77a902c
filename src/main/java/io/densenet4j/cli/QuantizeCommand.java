package io.densenet4j.cli;

import io.densenet4j.ArchitectureInference;
import io.densenet4j.Calibrator;
import io.densenet4j.DenseNet;
import io.densenet4j.DenseNetConfig;
import io.densenet4j.data.Batch;
import io.densenet4j.data.BatchLoader;
import io.densenet4j.data.Dataset;
import io.densenet4j.data.Datasets;
import io.densenet4j.data.Normalization;
import io.densenet4j.data.Subset;
import io.densenet4j.io.SafeTensors;
import io.densenet4j.io.StateDict;
import io.densenet4j.io.StateDicts;
import io.densenet4j.io.WeightsFormat;
import io.densenet4j.train.Checkpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * {@code quantize}: post-training static quantization for {@code --dtype int8} on the CPU. Runs
 * the fp32 network over calibration images from a dataset's training split and writes the weights
 * with per-channel input ranges of every 1x1 conv ({@link Calibrator}).
 */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = "Calibrate weights for CPU int8 inference (--dtype int8): fp32 forwards over a training split's images record each 1x1 conv's input ranges, written beside the weights.")
final class QuantizeCommand implements Runnable {
    @Mixin ArchOptions arch;

    @Option(names = "--weights", required = true, description = "checkpoint or weights (.pth / .safetensors), fp32")
    Path weights;

    @Option(names = "--calibration", description = "dataset whose training split gives the calibration images: " + Datasets.SPECS
            + " (default: a checkpoint's own dataset, else fashion-mnist)")
    String calibration;

    @Option(names = "--data-dir", description = "where the dataset's files are")
    Path dataDir;

    @Option(names = "--images", description = "calibration images, drawn at random (seed 0) from the training split (default 512)")
    int images = 512;

    @Option(names = "--batch", description = "batch size (default 64)")
    int batch = 64;

    @Option(names = "--normalize", description = "computed|imagenet|none|MEAN,STD[;MEAN,STD...] (default: the checkpoint's; for plain weights computed from the training split)")
    String normalize;

    @Option(names = "--threads", description = "CPU threads, 0 (all cores, the default) to 1024")
    int threads = 0;

    @Option(names = "--out", required = true, description = "the calibrated weights (.safetensors): the fp32 tensors, the ranges (<conv>.input_max) and a checkpoint's metadata")
    Path out;

    @Override
    public void run() {
        if (images <= 0) throw new IllegalArgumentException("--images must be positive, got " + images);
        if (batch <= 0) throw new IllegalArgumentException("--batch must be positive, got " + batch);
        if (threads < 0 || threads > io.densenet4j.Predictor.MAX_THREADS) {
            throw new IllegalArgumentException("--threads must be from 0 (all cores) to " + io.densenet4j.Predictor.MAX_THREADS + ", got " + threads);
        }
        ForwardCommand.refuseOverwrite("--out", out, "--weights", weights);  // a checkpoint's optimizer state would be lost
        if (Files.isDirectory(out)) throw new IllegalArgumentException("--out " + out + " is a directory; give a file name such as " + out.resolve("int8.safetensors"));
        NormalizeSpec given = normalize != null ? NormalizeSpec.parse(normalize) : null;
        Map<String, String> meta = WeightsFormat.detect(weights) == WeightsFormat.SAFETENSORS ? SafeTensors.read(weights).metadata() : Map.of();
        boolean checkpoint = Checkpoint.isCheckpoint(meta);
        if (calibration == null) calibration = meta.getOrDefault(Checkpoint.RUN_PREFIX + "dataset", "fashion-mnist");
        Dataset train = Datasets.open(calibration, dataDir, true);
        DenseNetConfig cfg = arch.resolve();
        StateDict sd;
        Normalization norm = null;
        if (checkpoint) {
            Checkpoint ck = Checkpoint.read(weights);
            sd = ck.model();
            if (cfg == null) cfg = ck.config();
            if (given == null) norm = ck.normalization();
        } else {
            sd = StateDicts.load(weights);
            if (cfg == null) cfg = ArchitectureInference.infer(sd);
        }
        if (norm == null) {
            NormalizeSpec spec = given != null ? given : NormalizeSpec.COMPUTED;
            norm = spec.resolve(train.channels(), () -> train);
        }
        if (cfg.inChannels() != train.channels()) {
            throw new IllegalArgumentException("the network takes " + cfg.inChannels() + " input channels, " + calibration + " has " + train.channels());
        }
        new DenseNet(cfg).checkInputSize(train.height(), train.width());
        int n = Math.min(images, train.size());
        if (n == 0) throw new IllegalArgumentException(calibration + " has no training images to calibrate on");
        java.util.Random rnd = new java.util.Random(0);
        int[] all = new int[train.size()];
        for (int i = 0; i < all.length; i++) all[i] = i;
        for (int i = 0; i < n; i++) {  // the first n of a seeded shuffle
            int j = i + rnd.nextInt(all.length - i);
            int t = all[i];
            all[i] = all[j];
            all[j] = t;
        }
        Dataset calib = new Subset(train, java.util.Arrays.copyOf(all, n));
        long t0 = System.nanoTime();
        StateDict q;
        int ranges;
        try (Calibrator c = Calibrator.create(cfg, sd, threads);
             BatchLoader loader = BatchLoader.builder(calib, batch).normalization(norm).build()) {
            for (Batch b : loader) c.observe(b.input(), b.n(), train.height(), train.width());
            q = c.quantizedWeights();
            ranges = c.ranges().size();
        }
        Map<String, String> outMeta = new LinkedHashMap<>(checkpoint ? meta : Map.of());
        outMeta.put("quantization", "int8 calibration ranges (<conv>.input_max): per-channel maxima of each 1x1 conv's input over "
                + n + " images of " + calibration + " (training split, seed 0)");
        if (!checkpoint) {
            outMeta.put("normalization.mean", floats(norm.mean()));
            outMeta.put("normalization.std", floats(norm.std()));
        }
        SafeTensors.write(out, q, outMeta);
        System.out.println(String.format(Locale.ROOT, "calibrated on %d images of %s (training split) in %.1f s: %d ranges -> %s",
                n, calibration, (System.nanoTime() - t0) / 1e9, ranges, out));
        System.out.println("run it with --dtype int8 --device cpu, e.g. densenet4j evaluate --weights " + out + " --dtype int8");
    }

    private static String floats(float[] v) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < v.length; i++) b.append(i > 0 ? "," : "").append(v[i]);
        return b.toString();
    }
}
