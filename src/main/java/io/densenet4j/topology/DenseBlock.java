package io.densenet4j.topology;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A dense block (Huang et al. 2017, Sec. 3, Eq. 2): layer l sees the concatenation of the
 * block input and the outputs of layers 0..l-1. Its feature maps live in one shared NHWC
 * buffer of {@code inChannels + layers * k} channels; no concatenation ever copies.
 */
public final class DenseBlock {
    private final int index;
    private final int inChannels;
    private final int growthRate;
    private final List<DenseLayer> layers;

    /** Block {@code index} (1-based, as torchvision's {@code features.denseblock<index>}). */
    public DenseBlock(int index, int numLayers, int inChannels, int growthRate, int bnSize) {
        this.index = index;
        this.inChannels = inChannels;
        this.growthRate = growthRate;
        List<DenseLayer> l = new ArrayList<>();
        for (int i = 0; i < numLayers; i++) {
            l.add(new DenseLayer("features.denseblock" + index + ".denselayer" + (i + 1), inChannels + i * growthRate, growthRate, bnSize));
        }
        this.layers = Collections.unmodifiableList(l);
    }

    public int index() { return index; }
    public int inChannels() { return inChannels; }
    public List<DenseLayer> layers() { return layers; }
    /** Channels of the block's output (and its shared buffer): {@code C0 + n * k}. */
    public int outChannels() { return inChannels + layers.size() * growthRate; }

    public void params(ParamShapes p) { for (DenseLayer l : layers) l.params(p); }

    public long macs(long pixels) {
        long m = 0;
        for (DenseLayer l : layers) m += l.macs(pixels);
        return m;
    }

    /** The shared buffer's name in a plan. */
    public String bufferName() { return "block" + index; }

    /** Training: one module per dense layer. */
    public void emitTrain(Plan plan, double dropRate) {
        for (DenseLayer l : layers) l.emitTrain(plan, bufferName(), dropRate);
    }

    public void emit(Plan plan, Shape spatial) {
        String bottleneck = plan.buffer("bottleneck" + index,
                new Shape(layers.get(0).bottleneckChannels(), spatial.height(), spatial.width()));
        for (DenseLayer l : layers) l.emit(plan, bufferName(), bottleneck);
    }
}
