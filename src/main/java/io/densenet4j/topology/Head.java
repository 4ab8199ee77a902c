package io.densenet4j.topology;

/**
 * The classifier: BatchNorm ({@code features.norm5}), ReLU, global average pool, and a
 * linear layer ({@code classifier}) to the class logits, as torchvision's DenseNet.forward.
 */
public final class Head {
    private final int channels;
    private final int numClasses;

    public Head(int channels, int numClasses) {
        this.channels = channels;
        this.numClasses = numClasses;
    }

    public int channels() { return channels; }
    public int numClasses() { return numClasses; }

    public void params(ParamShapes p) {
        p.batchNorm("features.norm5", channels);
        p.param("classifier.weight", numClasses, channels);
        p.param("classifier.bias", numClasses);
    }

    public long macs() { return (long) channels * numClasses; }

    public void emitTrain(Plan plan, String from) {
        plan.op("head", "src", from, "bn", "features.norm5", "fc", "classifier", "classes", numClasses);
    }

    public void emit(Plan plan, String from) {
        plan.op("head", "src", from, "bnrelu", "features.norm5", "fc", "classifier", "classes", numClasses);
    }
}
