package io.densenet4j;

import java.util.Arrays;
import java.util.List;

/**
 * The architecture of a DenseNet, in the terms of Huang et al., "Densely Connected
 * Convolutional Networks" (CVPR 2017), with torchvision's argument names.
 *
 * @param growthRate      k in the paper: channels each dense layer adds
 * @param blockConfig     number of dense layers in each dense block
 * @param numInitFeatures channels the stem produces (2k for DenseNet-BC, 64 for ImageNet models)
 * @param bnSize          bottleneck width factor: the 1x1 conv outputs {@code bnSize * k} channels (Sec. 3, "Bottleneck layers")
 * @param compression     theta in the paper: a transition outputs {@code floor(theta * m)} channels (Sec. 3, "Compression")
 * @param stem            {@link Stem#IMAGENET} (7x7/2 conv, BN, ReLU, 3x3/2 max pool) or {@link Stem#CIFAR} (one 3x3 conv)
 * @param inChannels      channels of the input image
 * @param numClasses      outputs of the linear classifier
 * @param dropRate        dropout rate on each dense layer's new features (training only; torchvision's placement)
 */
public record DenseNetConfig(int growthRate, List<Integer> blockConfig, int numInitFeatures, int bnSize,
                             double compression, Stem stem, int inChannels, int numClasses, double dropRate) {

    /** The two stems of the paper: ImageNet (Table 1) and the CIFAR/SVHN one (Sec. 4.2). */
    public enum Stem {
        IMAGENET, CIFAR;

        /** Parses {@code imagenet} or {@code cifar} (case-insensitive). */
        public static Stem parse(String s) {
            for (Stem v : values()) if (v.name().equalsIgnoreCase(s)) return v;
            throw new IllegalArgumentException("unknown stem '" + s + "' (expected imagenet or cifar)");
        }

        public String id() { return name().toLowerCase(); }
    }

    /** Upper bounds that keep every size, count and index within Java's and the core's integer ranges. */
    public static final int MAX_GROWTH_RATE = 4096, MAX_LAYERS = 10_000, MAX_BLOCKS = 64, MAX_FEATURES = 65_536, MAX_BN_SIZE = 64,
            MAX_CLASSES = 1_000_000, MAX_IN_CHANNELS = 4096;

    public DenseNetConfig {
        blockConfig = List.copyOf(blockConfig);
        if (blockConfig.size() > MAX_BLOCKS) throw new IllegalArgumentException("at most " + MAX_BLOCKS + " dense blocks, got " + blockConfig.size());
        long layers = 0;
        for (int n : blockConfig) layers += Math.max(0, n);
        if (layers > MAX_LAYERS) throw new IllegalArgumentException("at most " + MAX_LAYERS + " dense layers in all, got " + layers);
        if (growthRate > MAX_GROWTH_RATE) throw new IllegalArgumentException("growth_rate must be at most " + MAX_GROWTH_RATE + ", got " + growthRate);
        if (numInitFeatures > MAX_FEATURES) throw new IllegalArgumentException("num_init_features must be at most " + MAX_FEATURES + ", got " + numInitFeatures);
        if (bnSize > MAX_BN_SIZE) throw new IllegalArgumentException("bn_size must be at most " + MAX_BN_SIZE + ", got " + bnSize);
        if (numClasses > MAX_CLASSES) throw new IllegalArgumentException("num_classes must be at most " + MAX_CLASSES + ", got " + numClasses);
        if (inChannels > MAX_IN_CHANNELS) throw new IllegalArgumentException("in_channels must be at most " + MAX_IN_CHANNELS + ", got " + inChannels);
        if (growthRate <= 0) throw new IllegalArgumentException("growth_rate must be positive, got " + growthRate);
        if (blockConfig.isEmpty()) throw new IllegalArgumentException("block_config must name at least one dense block");
        for (int n : blockConfig) {
            if (n <= 0) throw new IllegalArgumentException("every dense block needs at least one layer, got block_config " + blockConfig);
        }
        if (numInitFeatures <= 0) throw new IllegalArgumentException("num_init_features must be positive, got " + numInitFeatures);
        if (bnSize <= 0) throw new IllegalArgumentException("bn_size must be positive, got " + bnSize);
        if (!(compression > 0 && compression <= 1)) throw new IllegalArgumentException("compression must be in (0, 1], got " + compression);
        if (stem == null) throw new IllegalArgumentException("stem must be imagenet or cifar");
        if (inChannels <= 0) throw new IllegalArgumentException("in_channels must be positive, got " + inChannels);
        if (numClasses <= 0) throw new IllegalArgumentException("num_classes must be positive, got " + numClasses);
        if (!(dropRate >= 0 && dropRate < 1)) throw new IllegalArgumentException("drop_rate must be in [0, 1), got " + dropRate);
    }

    /** A copy with another number of classes. */
    public DenseNetConfig withNumClasses(int n) {
        return new DenseNetConfig(growthRate, blockConfig, numInitFeatures, bnSize, compression, stem, inChannels, n, dropRate);
    }

    /** A copy with another number of input channels. */
    public DenseNetConfig withInChannels(int c) {
        return new DenseNetConfig(growthRate, blockConfig, numInitFeatures, bnSize, compression, stem, c, numClasses, dropRate);
    }

    /** A copy with another dropout rate. */
    public DenseNetConfig withDropRate(double p) {
        return new DenseNetConfig(growthRate, blockConfig, numInitFeatures, bnSize, compression, stem, inChannels, numClasses, p);
    }

    /** Channels that leave transition/compression of {@code m} input channels: {@code floor(theta * m)}, at least 1. */
    public int compressed(int m) {
        return Math.max(1, (int) Math.floor(m * compression));
    }

    @Override
    public String toString() {
        return "DenseNet(k=" + growthRate + ", blocks=" + Arrays.toString(blockConfig.toArray()) + ", init=" + numInitFeatures
                + ", bn_size=" + bnSize + ", theta=" + compression + ", stem=" + stem.id() + ", in=" + inChannels
                + ", classes=" + numClasses + (dropRate > 0 ? ", drop=" + dropRate : "") + ")";
    }
}
