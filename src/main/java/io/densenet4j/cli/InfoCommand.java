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
        if (cfg == null) {
            if (weights == null) throw new IllegalArgumentException("give --arch NAME, --config FILE or --weights FILE");
            cfg = ArchitectureInference.infer(StateDicts.load(weights));
        }
        DenseNet net = new DenseNet(cfg);
        int side = image != null ? image : defaultImageSize(cfg);
        System.out.println("architecture: " + cfg);
        System.out.println("depth: " + net.depth());
        System.out.println("parameters: " + net.parameterCount());
        System.out.println("input: " + cfg.inChannels() + "x" + side + "x" + side);
        System.out.println(String.format(Locale.ROOT, "gmacs: %.3f", net.macs(side, side) / 1e9));
        int min = net.minimumInputSize();
        System.out.println("minimum_input: " + min + "x" + min);
        for (DenseBlock b : net.blocks()) {
            System.out.println("dense_block" + b.index() + ": " + b.layers().size() + " layers, " + b.inChannels() + " -> " + b.outChannels() + " channels");
        }
    }

    static int defaultImageSize(DenseNetConfig cfg) {
        return cfg.stem() == DenseNetConfig.Stem.IMAGENET ? 224 : 32;
    }
}
