package io.densenet4j.io;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Helpers between weights files and models: loading any supported file, normalising key
 * names to torchvision's current ones, and checking a state_dict against the shapes a model
 * expects.
 */
public final class StateDicts {
    /** torchvision's {@code _load_state_dict} pattern for the old dense-layer names ({@code norm.1} for {@code norm1}). */
    private static final Pattern LEGACY_DENSE_LAYER =
            Pattern.compile("^(.*denselayer\\d+\\.(?:norm|relu|conv))\\.((?:[12])\\.(?:weight|bias|running_mean|running_var))$");
    private static final String DATA_PARALLEL = "module.";
    /** Checkpoint entries that are not model weights (optimizer momentum buffers). */
    static final String OPTIMIZER_PREFIX = "optimizer.";

    private StateDicts() {}

    /**
     * Loads the tensors of a weights file, told by content (not by extension): a zip or legacy
     * PyTorch {@code .pth} (see {@link PthReader}) or a safetensors file (see {@link SafeTensors};
     * its metadata is dropped here), then {@link #normalize}s the keys.
     *
     * @throws WeightsException naming the file if it is missing, empty, of an unknown format, or unreadable
     */
    public static StateDict load(Path file) {
        StateDict raw = switch (WeightsFormat.detect(file)) {
            case SAFETENSORS -> SafeTensors.read(file).tensors();
            case PTH_ZIP, PTH_LEGACY -> PthReader.read(file);
        };
        try {
            return normalize(raw);
        } catch (WeightsException e) {
            throw new WeightsException(file, e.getMessage());
        }
    }

    /**
     * A copy of {@code sd} with torchvision's current key names: every leading {@code module.}
     * (added by {@code nn.DataParallel}) is stripped, and old dense-layer names are renamed as
     * torchvision does ({@code features.denseblock1.denselayer1.norm.1.weight} becomes
     * {@code features.denseblock1.denselayer1.norm1.weight}). Order is kept.
     *
     * @throws WeightsException if two keys become the same name
     */
    public static StateDict normalize(StateDict sd) {
        StateDict out = new StateDict();
        for (Map.Entry<String, Tensor> e : sd.asMap().entrySet()) {
            String key = normalizeKey(e.getKey());
            if (out.contains(key)) {
                throw new WeightsException("state_dict keys collide after normalisation: '" + e.getKey() + "' becomes '"
                        + key + "', which is already present");
            }
            out.put(key, e.getValue());
        }
        return out;
    }

    /** One key with {@code module.} prefixes stripped and old dense-layer names renamed. */
    public static String normalizeKey(String key) {
        String k = key;
        while (k.startsWith(DATA_PARALLEL)) k = k.substring(DATA_PARALLEL.length());
        Matcher m = LEGACY_DENSE_LAYER.matcher(k);
        return m.matches() ? m.group(1) + m.group(2) : k;
    }

    /**
     * Suffix of the int8 calibration ranges ({@code io.densenet4j.Calibrator}) stored beside the weights:
     * {@code <conv>.input_max}, (C_in) float32; {@link #check} accepts them as extra keys.
     */
    public static final String RANGE_SUFFIX = ".input_max";

    /**
     * Checks {@code actual} against the shapes a model expects and throws one exception that
     * lists every missing, unexpected and mis-shaped key (with shapes). Keys in
     * {@code optionalKeys} and keys ending in {@code num_batches_tracked} may be missing;
     * entries under {@code optimizer.} (checkpoint momentum buffers) are not weights and are ignored.
     *
     * @param expected     key to shape, e.g. from the model's parameter and buffer list
     * @param optionalKeys keys that may be absent (may be {@code null})
     * @throws WeightsMismatchException "state_dict does not match the model: COUNTS (first: KEY ...)" if anything
     *                                   differs; its {@link WeightsMismatchException#details()} list every key
     */
    public static void check(Map<String, long[]> expected, StateDict actual, Set<String> optionalKeys) {
        List<String> missing = new ArrayList<>();
        List<String> unexpected = new ArrayList<>();
        List<String> misshaped = new ArrayList<>();
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            String key = e.getKey();
            Tensor t = actual.get(key);
            if (t == null) {
                boolean optional = key.endsWith("num_batches_tracked") || (optionalKeys != null && optionalKeys.contains(key));
                if (!optional) missing.add(key + " " + Arrays.toString(e.getValue()));
            } else if (!t.sameShape(e.getValue())) {
                misshaped.add(key + " (expected " + Arrays.toString(e.getValue()) + ", got " + Arrays.toString(t.shape()) + ")");
            }
        }
        for (Map.Entry<String, Tensor> e : actual.asMap().entrySet()) {
            if (!expected.containsKey(e.getKey()) && !e.getKey().startsWith(OPTIMIZER_PREFIX) && !e.getKey().endsWith(RANGE_SUFFIX)) {
                unexpected.add(e.getKey() + " " + Arrays.toString(e.getValue().shape()));
            }
        }
        if (missing.isEmpty() && unexpected.isEmpty() && misshaped.isEmpty()) return;
        List<String> details = new ArrayList<>();
        missing.forEach(k -> details.add("missing: " + k));
        unexpected.forEach(k -> details.add("unexpected: " + k));
        misshaped.forEach(k -> details.add("wrong shape: " + k));
        List<String> counts = new ArrayList<>();
        if (!missing.isEmpty()) counts.add(missing.size() + " missing");
        if (!unexpected.isEmpty()) counts.add(unexpected.size() + " unexpected");
        if (!misshaped.isEmpty()) counts.add(misshaped.size() + " with the wrong shape");
        String first = !misshaped.isEmpty() ? misshaped.get(0) : details.get(0);
        throw new WeightsMismatchException("state_dict does not match the model: " + String.join(", ", counts) + " (first: " + first + ")", details);
    }
}
