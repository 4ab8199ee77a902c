package io.densenet4j.topology;

/**
 * A transition layer (Huang et al. 2017, Sec. 3, "Pooling layers" and "Compression"):
 * BN-ReLU-Conv(1x1) to {@code floor(theta * m)} channels, then 2x2 average pool, stride 2.
 * torchvision keys {@code features.transition<i>.norm, conv}. At inference the pool runs
 * before the conv (both are linear, so the result is the same for a quarter of the work).
 */
public final class Transition {
    private final int index;
    private final int inChannels;
    private final int outChannels;

    public Transition(int index, int inChannels, int outChannels) {
        this.index = index;
        this.inChannels = inChannels;
        this.outChannels = outChannels;
    }

    public String prefix() { return "features.transition" + index; }
    public int inChannels() { return inChannels; }
    public int outChannels() { return outChannels; }

    public void params(ParamShapes p) {
        p.batchNorm(prefix() + ".norm", inChannels);
        p.conv(prefix() + ".conv", outChannels, inChannels, 1);
    }

    /** MACs as PyTorch counts them: the conv at full resolution. */
    public long macs(long pixels) { return pixels * inChannels * outChannels; }

    /** The pooled output size (floor, as AvgPool2d(2, 2)). */
    public static Shape pooled(Shape s, int channels) { return new Shape(channels, s.height() / 2, s.width() / 2); }

    public void emitTrain(Plan plan, String from, String to) {
        plan.op("transition", "src", from, "dst", Plan.slice(to, 0, outChannels), "prefix", prefix());
    }

    public void emit(Plan plan, String from, String to) {
        plan.op("conv", "src", from, "dst", Plan.slice(to, 0, outChannels), "weight", prefix() + ".conv.weight", "k", 1,
                "in_bnrelu", prefix() + ".norm", "pool", "avg2");
    }
}
