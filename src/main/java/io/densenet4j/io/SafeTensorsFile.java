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
 * @param dtypes   each tensor's dtype as the file stores it ({@code F32}, {@code F64}, {@code I64}, ...)
 *                 before the conversion to float32 / int64
 */
public record SafeTensorsFile(StateDict tensors, Map<String, String> metadata, Map<String, String> dtypes) {
    public SafeTensorsFile {
        metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
        dtypes = Collections.unmodifiableMap(new LinkedHashMap<>(dtypes));
    }

    /** Without stored dtypes (written here: F32 and I64). */
    public SafeTensorsFile(StateDict tensors, Map<String, String> metadata) {
        this(tensors, metadata, Map.of());
    }
}
