package io.densenet4j.topology;

/**
 * A dense layer with bottleneck (DenseNet-B, Huang et al. 2017, Sec. 3 "Bottleneck layers"):
 * BN-ReLU-Conv(1x1) to {@code bnSize * k} channels, then BN-ReLU-Conv(3x3, pad 1) to k
 * new channels. It reads every earlier feature map of its block (channels {@code [0, inChannels)}
 * of the block's shared buffer) and writes its k channels at offset {@code inChannels}.
 * torchvision keys: {@code <prefix>.norm1, conv1, norm2, conv2}.
 */
public final class DenseLayer {
    private final String prefix;
    private final int inChannels;
    private final int growthRate;
    private final int bnSize;

    public DenseLayer(String prefix, int inChannels, int growthRate, int bnSize) {
        this.prefix = prefix;
        this.inChannels = inChannels;
        this.growthRate = growthRate;
        this.bnSize = bnSize;
    }

    public String prefix() { return prefix; }
    public int inChannels() { return inChannels; }
    public int growthRate() { return growthRate; }
    /** Width of the bottleneck: {@code bnSize * k}. */
    public int bottleneckChannels() { return bnSize * growthRate; }

    public void params(ParamShapes p) {
        p.batchNorm(prefix + ".norm1", inChannels);
        p.conv(prefix + ".conv1", bottleneckChannels(), inChannels, 1);
        p.batchNorm(prefix + ".norm2", bottleneckChannels());
        p.conv(prefix + ".conv2", growthRate, bottleneckChannels(), 3);
    }

    public long macs(long pixels) {
        return pixels * ((long) inChannels * bottleneckChannels() + 9L * bottleneckChannels() * growthRate);
    }

    /** Training: one module (its backward pass recomputes BN1-ReLU-Conv1x1 and BN2-ReLU in efficient mode). */
    public void emitTrain(Plan plan, String block, double dropRate) {
        plan.op("dense_layer", "block", block, "cin", inChannels, "k", growthRate, "width", bottleneckChannels(), "prefix", prefix,
                "drop", dropRate);
    }

    /** Inference: fused BN1-ReLU-Conv1x1 with BN2 folded and ReLU epilogue, then the 3x3 conv into the slice. */
    public void emit(Plan plan, String block, String bottleneck) {
        plan.op("conv", "src", Plan.slice(block, 0, inChannels), "dst", bottleneck, "weight", prefix + ".conv1.weight", "k", 1,
                "in_bnrelu", prefix + ".norm1", "out_bn", prefix + ".norm2", "out_relu", 1);
        plan.op("conv", "src", bottleneck, "dst", Plan.slice(block, inChannels, growthRate), "weight", prefix + ".conv2.weight",
                "k", 3, "stride", 1, "pad", 1);
    }
}
