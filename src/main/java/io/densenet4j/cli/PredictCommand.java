package io.densenet4j.cli;

import io.densenet4j.DenseNetConfig;
import io.densenet4j.Predictor;
import io.densenet4j.io.SafeTensors;
import io.densenet4j.io.WeightsFormat;
import io.densenet4j.train.Checkpoint;
import io.densenet4j.image.ColorMode;
import io.densenet4j.image.Image;
import io.densenet4j.image.ImageDecoder;
import io.densenet4j.image.ImageNetClasses;
import io.densenet4j.image.ImageTransform;
import io.densenet4j.image.Labels;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.Map;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** {@code predict}: top-K classes for images (JPEG, PNG) through torchvision's eval transform. */
@Command(name = "predict", mixinStandardHelpOptions = true, description = "Classify images: torchvision's eval transform (resize 256, centre crop 224, ImageNet mean/std), top-K softmax.")
final class PredictCommand implements Runnable {
    @Mixin ArchOptions arch;
    @Mixin RunOptions run;

    @Option(names = "--weights", required = true, description = "weights (.pth or .safetensors)")
    Path weights;

    @Option(names = "--labels", description = "class names, one per line (default: ImageNet's for 1000-class models, else indices)")
    Path labels;

    @Option(names = "--top", description = "classes to print per image (default 5)")
    int top = 5;

    @Option(names = "--resize", description = "shorter side before the crop (default 256, or a checkpoint's training size; 0: no resize)")
    Integer resize;

    @Option(names = "--crop", description = "centre crop side (default 224, or a checkpoint's training size)")
    Integer crop;

    @Option(names = "--mean", split = ",", description = "per-channel mean (default ImageNet's)")
    float[] mean;

    @Option(names = "--std", split = ",", description = "per-channel std (default ImageNet's)")
    float[] std;

    @Option(names = "--normalize", description = "imagenet|none|MEAN,STD[;MEAN,STD...] (default: a checkpoint's, else ImageNet's for RGB and 0.5,0.5 for gray); instead of --mean/--std")
    String normalize;

    @Parameters(arity = "1..*", paramLabel = "IMAGE", description = "JPEG or PNG files")
    List<Path> images;

    @Override
    public void run() {
        if (top <= 0) throw new IllegalArgumentException("--top must be positive, got " + top);
        NormalizeSpec given = normalize != null ? NormalizeSpec.parse(normalize) : null;
        if (given != null && (mean != null || std != null)) throw new IllegalArgumentException("give --normalize or --mean/--std, not both");
        if (given != null && given.computed()) throw new IllegalArgumentException("--normalize computed needs a training split; predict takes imagenet, none or MEAN,STD (a checkpoint's own is the default)");
        // a densenet4j checkpoint says how training preprocessed: size, normalisation, class names
        Map<String, String> meta = WeightsFormat.detect(weights) == WeightsFormat.SAFETENSORS ? SafeTensors.readMetadata(weights) : Map.of();
        Checkpoint ck = Checkpoint.isCheckpoint(meta) ? Checkpoint.read(weights) : null;
        // plain weights from `quantize` store the normalisation their ranges were calibrated with
        io.densenet4j.data.Normalization stored = ck == null && meta.containsKey("quantization") ? Checkpoint.normalization(meta) : null;
        DenseNetConfig cfg = arch.resolve();
        if (cfg == null && ck != null) cfg = ck.config();
        try (Predictor p = ck != null ? Predictor.create(cfg, ck.model(), run.options()) : Predictor.load(weights, cfg, run.options())) {
            int channels = p.network().config().inChannels();
            if (channels != 1 && channels != 3) throw new IllegalArgumentException("predict reads gray or RGB images; this network takes " + channels + " channels");
            ColorMode mode = channels == 1 ? ColorMode.GRAY : ColorMode.RGB;
            if (given != null) {
                io.densenet4j.data.Normalization n = given.resolve(channels, () -> null);
                mean = n.mean();
                std = n.std();
            }
            io.densenet4j.data.Normalization dflt = ck != null ? ck.normalization() : stored != null ? stored : NormalizeSpec.photoDefault(channels);
            float[] m = mean != null ? mean : dflt.mean();
            float[] s = std != null ? std : dflt.std();
            int side = crop != null ? crop : ck != null ? ck.height() : 224;
            int shorter = resize != null ? resize : ck != null ? ck.height() : 256;
            ImageTransform tf = ImageTransform.builder().resize(shorter).crop(side).normalize(m, s).build();
            List<String> names = labels == null && ck != null && ck.classNames().size() == p.numClasses() ? ck.classNames() : classNames(p.numClasses());
            int k = Math.min(top, p.numClasses());
            int failed = 0;
            // in batches of 16 (memory stays bounded for many files); a file that cannot be read gets its own
            // error line and the others their results
            for (int from = 0; from < images.size(); from += 16) {
                List<Path> chunk = images.subList(from, Math.min(images.size(), from + 16));
                List<Path> good = new ArrayList<>();
                List<float[]> batch = new ArrayList<>();
                for (Path img : chunk) {
                    try {
                        batch.add(tf.apply(ImageDecoder.read(img, mode)));
                        good.add(img);
                    } catch (IllegalArgumentException | java.io.UncheckedIOException e) {
                        if (images.size() == 1) throw e;  // one file: its one error line
                        System.err.println("densenet4j: error: " + Main.message(e));
                        failed++;
                    }
                }
                if (good.isEmpty()) continue;
                float[] logits = p.forward(ImageTransform.stack(batch), good.size(), side, side);
                for (int i = 0; i < good.size(); i++) {
                    float[] prob = softmax(logits, i * p.numClasses(), p.numClasses());
                    System.out.println(good.get(i) + ":");
                    for (int idx : topK(prob, k)) {
                        System.out.println(String.format(Locale.ROOT, "  %6.2f%%  %s (%d)", prob[idx] * 100, names.get(idx), idx));
                    }
                }
                System.out.flush();
            }
            if (failed > 0) {
                throw new IllegalArgumentException(failed + " of " + images.size() + " image" + (images.size() == 1 ? "" : "s")
                        + " could not be read (see above); the others were classified");
            }
        }
    }

    private List<String> classNames(int classes) {
        if (labels != null) {
            List<String> l = Labels.read(labels);
            if (l.size() != classes) throw new IllegalArgumentException("--labels " + labels + " has " + l.size() + " names, the model has " + classes + " classes");
            return l;
        }
        if (classes == 1000) return ImageNetClasses.names();
        List<String> l = new ArrayList<>();
        for (int i = 0; i < classes; i++) l.add("class " + i);
        return l;
    }

    static float[] softmax(float[] logits, int off, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, logits[off + i]);
        double sum = 0;
        float[] p = new float[n];
        for (int i = 0; i < n; i++) sum += Math.exp(logits[off + i] - max);
        for (int i = 0; i < n; i++) p[i] = (float) (Math.exp(logits[off + i] - max) / sum);
        return p;
    }

    static int[] topK(float[] v, int k) {
        Integer[] idx = new Integer[v.length];
        for (int i = 0; i < v.length; i++) idx[i] = i;
        java.util.Arrays.sort(idx, (a, b) -> Float.compare(v[b], v[a]));
        int[] out = new int[k];
        for (int i = 0; i < k; i++) out[i] = idx[i];
        return out;
    }
}
