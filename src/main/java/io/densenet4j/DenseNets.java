package io.densenet4j;

import java.util.List;

/**
 * Factories for the named DenseNets: the paper's ImageNet models (Huang et al. 2017, Table 1:
 * k = 32, 64 initial features, bn_size 4, theta 0.5), torchvision's densenet161, and
 * DenseNet-BC for CIFAR by depth L and growth rate k (Sec. 4.2).
 */
public final class DenseNets {
    private DenseNets() {}

    /** Names accepted by {@link #byName(String)}. */
    public static final List<String> NAMES = List.of("densenet121", "densenet161", "densenet169", "densenet201", "densenet264");

    private static DenseNetConfig imagenet(int k, List<Integer> blocks, int init) {
        return new DenseNetConfig(k, blocks, init, 4, 0.5, DenseNetConfig.Stem.IMAGENET, 3, 1000, 0.0);
    }

    /** DenseNet-121: blocks 6-12-24-16, k = 32 (7,978,856 parameters). */
    public static DenseNetConfig densenet121() { return imagenet(32, List.of(6, 12, 24, 16), 64); }
    /** DenseNet-161 (torchvision): blocks 6-12-36-24, k = 48, 96 initial features. */
    public static DenseNetConfig densenet161() { return imagenet(48, List.of(6, 12, 36, 24), 96); }
    /** DenseNet-169: blocks 6-12-32-32, k = 32. */
    public static DenseNetConfig densenet169() { return imagenet(32, List.of(6, 12, 32, 32), 64); }
    /** DenseNet-201: blocks 6-12-48-32, k = 32. */
    public static DenseNetConfig densenet201() { return imagenet(32, List.of(6, 12, 48, 32), 64); }
    /** DenseNet-264: blocks 6-12-64-48, k = 32. */
    public static DenseNetConfig densenet264() { return imagenet(32, List.of(6, 12, 64, 48), 64); }

    /**
     * DenseNet-BC of depth L and growth rate k (Sec. 4.2): CIFAR stem with 2k channels, three
     * dense blocks of (L - 4) / 6 bottleneck layers, compression 0.5.
     *
     * @throws IllegalArgumentException unless (L - 4) is a positive multiple of 6
     */
    public static DenseNetConfig densenetBC(int depth, int growthRate, int inChannels, int numClasses) {
        if (depth < 10 || (depth - 4) % 6 != 0 || depth > 6 * (DenseNetConfig.MAX_LAYERS / 3) + 4) {
            throw new IllegalArgumentException("DenseNet-BC depth L must satisfy (L - 4) % 6 == 0 and L >= 10 (e.g. 40, 100, 190, 250) and L <= " + (6 * (DenseNetConfig.MAX_LAYERS / 3) + 4) + ", got " + depth);
        }
        int n = (depth - 4) / 6;
        return new DenseNetConfig(growthRate, List.of(n, n, n), 2 * growthRate, 4, 0.5, DenseNetConfig.Stem.CIFAR, inChannels, numClasses, 0.0);
    }

    /** DenseNet-BC with 3 input channels and 10 classes. */
    public static DenseNetConfig densenetBC(int depth, int growthRate) { return densenetBC(depth, growthRate, 3, 10); }

    /** One of {@link #NAMES}; throws {@link IllegalArgumentException} listing them otherwise. */
    public static DenseNetConfig byName(String name) {
        switch (name.toLowerCase()) {
            case "densenet121": return densenet121();
            case "densenet161": return densenet161();
            case "densenet169": return densenet169();
            case "densenet201": return densenet201();
            case "densenet264": return densenet264();
            default:
                throw new IllegalArgumentException("unknown architecture '" + name + "' (known: " + String.join(", ", NAMES) + ", densenet-bc)");
        }
    }

    /**
     * A short name: {@code densenet121} (etc.) for torchvision's configurations, else
     * {@code DenseNet(k=.., blocks=[..], init=.., classes=..)} with bn_size, theta, stem,
     * input channels and dropout only where they differ from torchvision's defaults.
     */
    public static String describe(DenseNetConfig c) {
        for (String n : NAMES) if (byName(n).equals(c)) return n;
        StringBuilder sb = new StringBuilder("DenseNet(k=").append(c.growthRate()).append(", blocks=")
                .append(c.blockConfig().toString().replace(" ", "")).append(", init=").append(c.numInitFeatures());
        if (c.bnSize() != 4) sb.append(", bn_size=").append(c.bnSize());
        if (c.compression() != 0.5) sb.append(", theta=").append(c.compression());
        if (c.stem() != DenseNetConfig.Stem.IMAGENET) sb.append(", stem=").append(c.stem().id());
        if (c.inChannels() != 3) sb.append(", in=").append(c.inChannels());
        sb.append(", classes=").append(c.numClasses());
        if (c.dropRate() > 0) sb.append(", drop=").append(c.dropRate());
        return sb.append(')').toString();
    }
}
