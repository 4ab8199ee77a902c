package io.densenet4j.cli;

import io.densenet4j.DenseNetConfig;
import io.densenet4j.DenseNets;
import io.densenet4j.io.ConfigJson;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** How a command names an architecture: {@code --arch NAME} (with DenseNet-BC's depth and k) or {@code --config FILE}. */
final class ArchOptions {
    @Option(names = "--arch", description = "densenet121, densenet161, densenet169, densenet201, densenet264 or densenet-bc")
    String arch;

    @Option(names = "--depth", description = "DenseNet-BC depth L ((L - 4) divisible by 6)")
    Integer depth;

    @Option(names = "--growth-rate", description = "DenseNet-BC growth rate k (default 12)")
    Integer growthRate;

    @Option(names = "--in-channels", description = "input channels (default 3)")
    Integer inChannels;

    @Option(names = "--num-classes", description = "classes (default 1000 for ImageNet models, 10 for DenseNet-BC)")
    Integer numClasses;

    @Option(names = "--config", description = "architecture JSON (torchvision argument names, as ../shared/golden/*.json)")
    Path config;

    boolean given() { return arch != null || config != null; }

    /** The configuration named, or null when neither --arch nor --config was given. */
    DenseNetConfig resolve() {
        return resolve(-1);
    }

    /**
     * The same; with {@code bcDepth > 0}, {@code --depth} or {@code --growth-rate} alone name a
     * DenseNet-BC, and a DenseNet-BC without {@code --depth} has depth {@code bcDepth}, as
     * {@code train}'s default network.
     *
     * @throws IllegalArgumentException when --depth or --growth-rate would be ignored
     */
    DenseNetConfig resolve(int bcDepth) {
        if (arch != null && config != null) throw new IllegalArgumentException("give --arch or --config, not both");
        boolean bcOptions = depth != null || growthRate != null;
        if (bcOptions && arch == null && config == null && bcDepth > 0) arch = "densenet-bc";
        if (depth == null && "densenet-bc".equalsIgnoreCase(arch) && bcDepth > 0) depth = bcDepth;
        if (bcOptions && !"densenet-bc".equalsIgnoreCase(arch)) {
            throw new IllegalArgumentException("--depth and --growth-rate apply to --arch densenet-bc only");
        }
        DenseNetConfig c;
        if (config != null) {
            c = ConfigJson.read(config);
        } else if (arch == null) {
            return null;
        } else if (arch.equalsIgnoreCase("densenet-bc")) {
            if (depth == null) throw new IllegalArgumentException("--arch densenet-bc needs --depth L (e.g. 100)");
            c = DenseNets.densenetBC(depth, growthRate == null ? 12 : growthRate, 3, 10);
        } else {
            c = DenseNets.byName(arch);
        }
        if (inChannels != null) c = c.withInChannels(inChannels);
        if (numClasses != null) c = c.withNumClasses(numClasses);
        return c;
    }
}
