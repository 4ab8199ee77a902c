package io.densenet4j.cli;

import io.densenet4j.ArchitectureInference;
import io.densenet4j.DenseNet;
import io.densenet4j.DenseNetConfig;
import io.densenet4j.io.StateDicts;
import io.densenet4j.topology.DenseBlock;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;

/** {@code info}: architecture, depth, parameter count and GMACs at an input size. */
@Command(name = "info", mixinStandardHelpOptions = true, description = "Print an architecture, its parameter count and GMACs at its input size.")
final class InfoCommand implements Runnable {
    @Mixin ArchOptions arch;

    @Option(names = "--weights", description = "weights file (.pth or .safetensors); architecture inferred unless --arch/--config")
    Path weights;

    @Option(names = "--image", description = "input side in pixels (default 224 for ImageNet stems, 32 for CIFAR stems)")
    Integer image;

    @Override
    public void run() {
        DenseNetConfig cfg = arch.resolve();
        if (cfg == null && weights == null) throw new IllegalArgumentException("give --arch NAME, --config FILE or --weights FILE");
        io.densenet4j.train.Checkpoint ck = weights != null && io.densenet4j.io.WeightsFormat.detect(weights) == io.densenet4j.io.WeightsFormat.SAFETENSORS
                && io.densenet4j.train.Checkpoint.isCheckpoint(io.densenet4j.io.SafeTensors.readMetadata(weights))
                ? io.densenet4j.train.Checkpoint.read(weights) : null;
        io.densenet4j.io.StateDict sd = ck != null ? ck.model() : weights != null ? StateDicts.load(weights) : null;
        if (cfg == null) cfg = ck != null ? ck.config() : ArchitectureInference.infer(sd);
        DenseNet net = new DenseNet(cfg);
        if (sd != null) net.checkWeights(sd);  // --arch/--config with weights that do not fit: refused
        int side = image != null ? image : ck != null ? ck.height() : defaultImageSize(cfg);
        int sideW = image != null ? image : ck != null ? ck.width() : side;
        System.out.println("architecture: " + cfg);
        System.out.println("depth: " + net.depth());
        System.out.println("parameters: " + net.parameterCount());
        System.out.println("input: " + cfg.inChannels() + "x" + side + "x" + sideW + (ck != null && image == null ? " (as trained)" : ""));
        System.out.println(String.format(Locale.ROOT, "gmacs: %.3f", net.macs(side, sideW) / 1e9));
        int min = net.minimumInputSize();
        System.out.println("minimum_input: " + min + "x" + min);
        for (DenseBlock b : net.blocks()) {
            System.out.println("dense_block" + b.index() + ": " + b.layers().size() + " layers, " + b.inChannels() + " -> " + b.outChannels() + " channels");
        }
        if (ck != null) {
            System.out.println("checkpoint: " + ck.step() + " steps done; " + (ck.epoch() >= ck.settings().epochs()
                    ? "all " + ck.settings().epochs() + " epochs finished" : "continues at epoch " + (ck.epoch() + 1) + " of " + ck.settings().epochs()
                    + (ck.batch() > 0 ? ", batch " + ck.batch() : "")));
            if (ck.run().containsKey("dataset")) System.out.println("dataset: " + ck.run().get("dataset"));
            String spec = ck.run().get("normalize");
            String pairs = NormalizeSpec.describe(ck.normalization());
            System.out.println("normalize: " + (spec == null || spec.equals(pairs) ? pairs : spec.equals("none") ? "none" : spec + " (" + pairs + ")"));
            System.out.println("classes: " + String.join(", ", ck.classNames()));
        }
        String int8 = sd != null ? io.densenet4j.Calibrator.summary(net, sd) : null;
        if (int8 != null) System.out.println("int8_calibration: " + int8);
        try {
            System.out.println("cpu_kernels: " + io.densenet4j.internal.NativeLibrary.cpuIsaInfo());
        } catch (RuntimeException noNative) {
            System.out.println("cpu_kernels: unknown (" + Main.message(noNative) + ")");
        }
    }

    static int defaultImageSize(DenseNetConfig cfg) {
        return cfg.stem() == DenseNetConfig.Stem.IMAGENET ? 224 : 32;
    }
}
