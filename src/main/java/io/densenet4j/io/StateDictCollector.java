package io.densenet4j.io;

import io.densenet4j.io.PickledTensors.TensorRef;

import java.io.IOException;
import java.util.Map;

/**
 * Internal: from an unpickled root object to a {@link StateDict}: checks that it is a dict,
 * unwraps {@code {'state_dict': ...}} / {@code {'model': ...}}, keeps tensor values in order
 * and ignores everything else.
 */
final class StateDictCollector {
    private StateDictCollector() {}

    static StateDict collect(Object root, PthReader.Materializer materialize) throws IOException {
        if (!(root instanceof Map<?, ?> map)) {
            throw new FormatError("holds " + PickledTensors.describe(root) + ", not a state_dict (a dict of tensors)");
        }
        if (!hasTensors(map)) {
            for (String wrapper : new String[] {"state_dict", "model"}) {
                if (map.get(wrapper) instanceof Map<?, ?> inner && hasTensors(inner)) {
                    map = inner;
                    break;
                }
            }
        }
        StateDict out = new StateDict();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (!(e.getKey() instanceof String key) || !(e.getValue() instanceof TensorRef t)) continue;
            try {
                out.put(key, materialize.apply(key, t));
            } catch (FormatError ex) {
                throw new FormatError("tensor '" + key + "': " + ex.getMessage());
            }
        }
        return out;
    }

    private static boolean hasTensors(Map<?, ?> m) {
        for (Object v : m.values()) if (v instanceof TensorRef) return true;
        return false;
    }
}
