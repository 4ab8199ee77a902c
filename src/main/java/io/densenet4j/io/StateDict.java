package io.densenet4j.io;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * An ordered map from torchvision state_dict key names (e.g.
 * {@code features.denseblock1.denselayer1.norm1.weight}) to tensors, in file order.
 */
public final class StateDict {
    private final LinkedHashMap<String, Tensor> tensors = new LinkedHashMap<>();

    public StateDict() {}

    public StateDict(Map<String, Tensor> entries) { tensors.putAll(entries); }

    public void put(String key, Tensor t) { tensors.put(key, t); }
    public Tensor get(String key) { return tensors.get(key); }
    public boolean contains(String key) { return tensors.containsKey(key); }
    public Tensor remove(String key) { return tensors.remove(key); }
    public Set<String> keys() { return Collections.unmodifiableSet(tensors.keySet()); }
    public Map<String, Tensor> asMap() { return Collections.unmodifiableMap(tensors); }
    public int size() { return tensors.size(); }

    /** The tensor under {@code key}; throws {@link IllegalArgumentException} naming it if absent. */
    public Tensor require(String key) {
        Tensor t = tensors.get(key);
        if (t == null) throw new IllegalArgumentException("state_dict has no tensor '" + key + "'");
        return t;
    }
}
