package io.densenet4j.topology;

import java.util.LinkedHashMap;
import java.util.Map;

/** Collects state_dict entries (torchvision key names and PyTorch shapes) in module order. */
public final class ParamShapes {
    private final LinkedHashMap<String, long[]> shapes = new LinkedHashMap<>();
    private final LinkedHashMap<String, Boolean> learnable = new LinkedHashMap<>();

    /** A learnable parameter (weight or bias). */
    public void param(String key, long... shape) {
        shapes.put(key, shape);
        learnable.put(key, true);
    }

    /** A buffer: running statistics, {@code num_batches_tracked}. */
    public void buffer(String key, long... shape) {
        shapes.put(key, shape);
        learnable.put(key, false);
    }

    /** BatchNorm2d {@code prefix} over {@code c} channels, as torchvision's state_dict lists it. */
    public void batchNorm(String prefix, int c) {
        param(prefix + ".weight", c);
        param(prefix + ".bias", c);
        buffer(prefix + ".running_mean", c);
        buffer(prefix + ".running_var", c);
        buffer(prefix + ".num_batches_tracked");
    }

    /** Conv2d weight {@code (out, in, k, k)} without bias. */
    public void conv(String prefix, int out, int in, int k) {
        param(prefix + ".weight", out, in, k, k);
    }

    public Map<String, long[]> all() { return shapes; }

    public boolean isLearnable(String key) { return learnable.getOrDefault(key, false); }
}
