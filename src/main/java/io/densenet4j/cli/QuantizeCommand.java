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
import io.densenet4j.image.ColorMode;
import io.densenet4j.image.ImageDecoder;
import io.densenet4j.image.ImageTransform;
import io.densenet4j.io.SafeTensors;
import io.densenet4j.io.SafeTensorsFile;
import io.densenet4j.io.StateDict;
import io.densenet4j.io.StateDicts;
import io.densenet4j.io.WeightsFormat;
import io.densenet4j.train.Checkpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code quantize}: post-training static quantization for {@code --dtype int8} on the CPU. Runs
 * the fp32 network over calibration images (a dataset's training split, or photos through
 * torchvision's eval transform) and writes the weights with the per-channel input ranges of every
 * conv that int8 takes ({@link Calibrator}).
 */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = "Calibrate weights for CPU int8 inference (--dtype int8): fp32 forwards over calibration images record the input ranges of every conv int8 takes (each dense layer's 1x1 and 3x3, each transition's), written beside the weights.")
final class QuantizeCommand implements Runnable {
    @Mixin ArchOptions arch;

    @Option(names = "--weights", required = true, description = "checkpoint or weights (.pth / .safetensors), fp32")
    Path weights;

    @Option(names = "--calibration", description = "where the calibration images come from: a dataset (" + Datasets.SPECS
            + "; its training split where it has one), or images:DIR (every JPEG/PNG under DIR through torchvision's eval transform, as predict;"
            + " for ImageNet weights). Default: a checkpoint's own dataset, else fashion-mnist")
    String calibration;

    @Option(names = "--data-dir", description = "where the dataset's files are")
    Path dataDir;

    @Option(names = "--images", description = "calibration images, drawn at random (seed 0) (default 512)")
    int images = 512;

    @Option(names = "--batch", description = "batch size (default 64)")
    int batch = 64;

    @Option(names = "--normalize", description = "computed|imagenet|none|MEAN,STD[;MEAN,STD...] (default: a checkpoint's; for plain weights as evaluate does (computed from the training split; none for tensors:), for images:DIR as predict does (ImageNet's for RGB))")
    String normalize;

    @Option(names = "--resize", description = "images:DIR only: shorter side before the crop (default 256, or a checkpoint's training size)")
    Integer resize;

    @Option(names = "--crop", description = "images:DIR only: centre crop side (default 224, or a checkpoint's training size)")
    Integer crop;

    @Option(names = "--threads", description = "CPU threads, 0 (all cores, the default) to 1024")
    int threads = 0;

    @Option(names = "--out", required = true, description = "the calibrated weights (.safetensors): the fp32 tensors, the ranges (<conv>.input_max), the normalisation used and a checkpoint's metadata and optimizer state")
    Path out;

    @Override
    public void run() {
        if (images <= 0) throw new IllegalArgumentException("--images must be positive, got " + images);
        if (batch <= 0) throw new IllegalArgumentException("--batch must be positive, got " + batch);
        RunOptions.checkThreads(threads);
        if (out.toString().isEmpty()) throw new IllegalArgumentException("--out is empty; give a file name such as int8.safetensors");
        ForwardCommand.refuseOverwrite("--out", out, "--weights", weights);  // nothing of the input may be lost
        if (Files.isDirectory(out)) throw new IllegalArgumentException("--out " + out + " is a directory; give a file name such as " + out.resolve("int8.safetensors"));
        NormalizeSpec given = normalize != null ? NormalizeSpec.parse(normalize) : null;
        SafeTensorsFile file = WeightsFormat.detect(weights) == WeightsFormat.SAFETENSORS ? SafeTensors.read(weights) : null;
        Map<String, String> meta = file != null ? file.metadata() : Map.of();
        boolean checkpoint = Checkpoint.isCheckpoint(meta);
        if (calibration == null) calibration = meta.getOrDefault(Checkpoint.RUN_PREFIX + "dataset", "fashion-mnist");
        boolean photos = calibration.startsWith("images:");
        if (!photos && (resize != null || crop != null)) throw new IllegalArgumentException("--resize and --crop apply to --calibration images:DIR only");
        DenseNetConfig cfg = arch.resolve();
        StateDict sd;
        Checkpoint ck = null;
        if (checkpoint) {
            ck = Checkpoint.read(weights);
            sd = ck.model();
            if (cfg == null) cfg = ck.config();
        } else {
            sd = StateDicts.load(weights);
            if (cfg == null) cfg = ArchitectureInference.infer(sd);
        }
        DenseNet net = new DenseNet(cfg);
        net.checkWeights(sd);  // a wrong --arch is named before anything about the data
        int channels = cfg.inChannels();
        List<String> notes = new ArrayList<>();
        Source src = photos ? photos(ck, given, channels) : dataset(ck, given, channels);
        if (ck != null && given != null) {
            notes.add("note: --normalize " + given.text() + " replaces the checkpoint's normalisation (" + NormalizeSpec.describe(ck.normalization())
                    + ") in " + out + ": int8 there runs with it");
        }
        net.checkInputSize(src.height, src.width);
        long t0 = System.nanoTime();
        StateDict q;
        int ranges;
        int n;
        try (Calibrator c = Calibrator.create(cfg, sd, threads)) {
            n = src.feed.applyAsInt(c);
            q = c.quantizedWeights();
            ranges = (int) q.keys().stream().filter(k -> k.endsWith(Calibrator.RANGE_SUFFIX)).count();
        }
        if (file != null) {  // a checkpoint's optimizer state goes along: resuming from this file loses nothing
            for (Map.Entry<String, io.densenet4j.io.Tensor> e : file.tensors().asMap().entrySet()) {
                if (e.getKey().startsWith(Checkpoint.MOMENTUM_PREFIX)) q.put(e.getKey(), e.getValue());
            }
        }
        Map<String, String> outMeta = new LinkedHashMap<>(checkpoint ? meta : Map.of());
        outMeta.put("quantization", "int8 calibration ranges (<conv>.input_max): per-channel maxima of the input of each conv int8 takes, over "
                + n + " images of " + calibration + src.what + ", normalised " + NormalizeSpec.describe(src.norm));
        if (checkpoint && given != null) outMeta.put(Checkpoint.RUN_PREFIX + "normalize", given.text());
        outMeta.put("normalization.mean", floats(src.norm.mean()));
        outMeta.put("normalization.std", floats(src.norm.std()));
        SafeTensors.write(out, q, outMeta);
        notes.forEach(System.err::println);
        System.out.println(String.format(Locale.ROOT, "calibrated on %d images of %s%s in %.1f s (normalize %s): %d ranges -> %s",
                n, calibration, src.what, (System.nanoTime() - t0) / 1e9, NormalizeSpec.describe(src.norm), ranges, out));
        System.out.println("run it with --dtype int8 --device cpu, e.g. densenet4j " + (photos ? "predict" : "evaluate") + " --weights " + out + " --dtype int8"
                + (photos ? " IMAGE..." : ""));
    }

    /** Calibration images: how many were fed (feed), their size and normalisation, and how the summary names them. */
    private record Source(java.util.function.ToIntFunction<Calibrator> feed, int height, int width, Normalization norm, String what) {}

    private Source dataset(Checkpoint ck, NormalizeSpec given, int channels) {
        Dataset train = Datasets.open(calibration, dataDir, true);
        boolean named = !calibration.startsWith("folder:") && !calibration.startsWith("tensors:");
        if (channels != train.channels()) {
            throw new IllegalArgumentException("the network takes " + channels + " input channels, " + calibration + " has " + train.channels()
                    + (channels == 3 ? "; for ImageNet weights calibrate on photos: --calibration images:DIR" : ""));
        }
        Normalization norm;
        if (ck != null && given == null) {
            norm = ck.normalization();
        } else {
            NormalizeSpec spec = given != null ? given : calibration.startsWith("tensors:") ? NormalizeSpec.NONE : NormalizeSpec.COMPUTED;
            norm = spec.resolve(train.channels(), () -> train);
        }
        int n = Math.min(images, train.size());
        if (n == 0) throw new IllegalArgumentException(calibration + " has no images to calibrate on");
        Dataset calib = new Subset(train, draw(train.size(), n));
        Normalization used = norm;
        return new Source(c -> {
            try (BatchLoader loader = BatchLoader.builder(calib, batch).normalization(used).build()) {
                for (Batch b : loader) c.observe(b.input(), b.n(), train.height(), train.width());
            }
            return n;
        }, train.height(), train.width(), norm, named ? " (training split)" : "");
    }

    private Source photos(Checkpoint ck, NormalizeSpec given, int channels) {
        if (calibration.length() == "images:".length()) throw new IllegalArgumentException("--calibration images: names no path; give images:DIR");
        Path dir = Path.of(calibration.substring("images:".length()));
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException("--calibration " + calibration + ": " + dir + " is not a directory");
        List<Path> all;
        try (java.util.stream.Stream<Path> walk = Files.walk(dir)) {
            all = walk.filter(Files::isRegularFile).filter(f -> f.getFileName().toString().toLowerCase(Locale.ROOT).matches(".*\\.(jpe?g|png)"))
                    .sorted().toList();
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("--calibration " + calibration + ": cannot list " + dir + " (" + e.getMessage() + ")");
        }
        if (all.isEmpty()) throw new IllegalArgumentException("--calibration " + calibration + ": no JPEG or PNG files under " + dir);
        if (given != null && given.computed()) throw new IllegalArgumentException("--normalize computed needs a training split; images:DIR takes imagenet, none or MEAN,STD");
        Normalization norm = given != null ? given.resolve(channels, () -> null)
                : ck != null ? ck.normalization()
                : NormalizeSpec.photoDefault(channels);
        int side = crop != null ? crop : ck != null ? ck.height() : 224;
        int shorter = resize != null ? resize : ck != null ? ck.height() : 256;
        ImageTransform tf = ImageTransform.builder().resize(shorter).crop(side).normalize(norm.mean(), norm.std()).build();
        ColorMode mode = channels == 1 ? ColorMode.GRAY : ColorMode.RGB;
        int n = Math.min(images, all.size());
        int[] pick = draw(all.size(), n);
        return new Source(c -> {
            for (int i = 0; i < n; i += batch) {
                List<float[]> b = new ArrayList<>();
                for (int j = i; j < Math.min(n, i + batch); j++) b.add(tf.apply(ImageDecoder.read(all.get(pick[j]), mode)));  // an unreadable file is named
                c.observe(ImageTransform.stack(b), b.size(), side, side);
            }
            return n;
        }, side, side, norm, "");
    }

    /** The first n of a seeded (0) shuffle of 0..size-1. */
    private static int[] draw(int size, int n) {
        java.util.Random rnd = new java.util.Random(0);
        int[] all = new int[size];
        for (int i = 0; i < size; i++) all[i] = i;
        for (int i = 0; i < n; i++) {
            int j = i + rnd.nextInt(size - i);
            int t = all[i];
            all[i] = all[j];
            all[j] = t;
        }
        return java.util.Arrays.copyOf(all, n);
    }

    private static String floats(float[] v) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < v.length; i++) b.append(i > 0 ? "," : "").append(v[i]);
        return b.toString();
    }
}
