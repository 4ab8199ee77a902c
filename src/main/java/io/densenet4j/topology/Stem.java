package io.densenet4j.topology;

import io.densenet4j.DenseNetConfig;

/**
 * The network's first module ({@code features.conv0} ...), two variants (Huang et al. 2017):
 * ImageNet (Table 1): 7x7 conv stride 2 pad 3, BatchNorm, ReLU, 3x3 max pool stride 2 pad 1;
 * CIFAR (Sec. 3, "Implementation details"): one 3x3 conv, stride 1, pad 1, no BN.
 */
public final class Stem {
    private final DenseNetConfig.Stem kind;
    private final int inChannels;
    private final int outChannels;

    public Stem(DenseNetConfig.Stem kind, int inChannels, int outChannels) {
        this.kind = kind;
        this.inChannels = inChannels;
        this.outChannels = outChannels;
    }

    public DenseNetConfig.Stem kind() { return kind; }
    public int outChannels() { return outChannels; }

    public void params(ParamShapes p) {
        if (kind == DenseNetConfig.Stem.IMAGENET) {
            p.conv("features.conv0", outChannels, inChannels, 7);
            p.batchNorm("features.norm0", outChannels);
        } else {
            p.conv("features.conv0", outChannels, inChannels, 3);
        }
    }

    /** Size after the 7x7/2 conv (ImageNet stem only). */
    public Shape convShape(Shape in) {
        return new Shape(outChannels, (in.height() - 1) / 2 + 1, (in.width() - 1) / 2 + 1);
    }

    /** Output size for an input of size {@code in}; a dimension may come out 0 or less for tiny inputs. */
    public Shape outputShape(Shape in) {
        if (kind == DenseNetConfig.Stem.CIFAR) return new Shape(outChannels, in.height(), in.width());
        Shape c = convShape(in);
        return new Shape(outChannels, (c.height() - 1) / 2 + 1, (c.width() - 1) / 2 + 1);
    }

    /** Multiply-accumulates per image. */
    public long macs(Shape in) {
        if (kind == DenseNetConfig.Stem.CIFAR) return in.pixels() * outChannels * inChannels * 9L;
        return convShape(in).pixels() * outChannels * inChannels * 49L;
    }

    /** Emits the training-plan stem module (conv0, and for ImageNet norm0, ReLU, max pool). */
    public void emitTrain(Plan plan, String inputBuffer, String blockBuffer) {
        if (kind == DenseNetConfig.Stem.IMAGENET) {
            String s = plan.buffer("stem", convShape(plan.input()));
            plan.op("stem", "kind", "imagenet", "src", inputBuffer, "dst", Plan.slice(blockBuffer, 0, outChannels), "conv", "features.conv0",
                    "bn", "features.norm0", "mid", s);
        } else {
            plan.op("stem", "kind", "cifar", "src", inputBuffer, "dst", Plan.slice(blockBuffer, 0, outChannels), "conv", "features.conv0");
        }
    }

    /** Emits the stem: reads {@code inputBuffer}, writes channels [0, out) of {@code blockBuffer}. */
    public void emit(Plan plan, String inputBuffer, String blockBuffer) {
        if (kind == DenseNetConfig.Stem.IMAGENET) {
            String s = plan.buffer("stem", convShape(plan.input()));
            plan.op("conv", "src", inputBuffer, "dst", s, "weight", "features.conv0.weight", "k", 7, "stride", 2, "pad", 3,
                    "out_bn", "features.norm0", "out_relu", 1);
            plan.op("maxpool", "src", s, "dst", Plan.slice(blockBuffer, 0, outChannels), "k", 3, "stride", 2, "pad", 1);
        } else {
            plan.op("conv", "src", inputBuffer, "dst", Plan.slice(blockBuffer, 0, outChannels), "weight", "features.conv0.weight",
                    "k", 3, "stride", 1, "pad", 1);
        }
    }
}
