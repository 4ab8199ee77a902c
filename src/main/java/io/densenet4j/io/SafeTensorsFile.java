package io.densenet4j.io;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The content of a safetensors file: its tensors in file order and its
 * {@code __metadata__} (string to string; empty when the file has none).
 *
 * @param tensors  the tensors, in the order the header lists them
 * @param metadata the header's {@code __metadata__} map in header order, unmodifiable
 */
public record SafeTensorsFile(StateDict tensors, Map<String, String> metadata) {
    public SafeTensorsFile {
        metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }
}
