package io.densenet4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.densenet4j.DenseNetConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * DenseNet configurations as JSON with torchvision's argument names, as in
 * {@code ../shared/golden/*.json}: {@code growth_rate}, {@code block_config}, {@code num_init_features},
 * {@code bn_size}, {@code compression}, {@code stem} ({@code imagenet} or {@code cifar}),
 * {@code in_channels}, {@code num_classes}, {@code drop_rate}. Other keys are descriptive and ignored.
 * Defaults where absent: bn_size 4, compression 0.5, stem imagenet, in_channels 3, num_classes 1000, drop_rate 0.
 */
public final class ConfigJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ConfigJson() {}

    /** @throws IllegalArgumentException with one line naming the file and the problem */
    public static DenseNetConfig read(Path file) {
        JsonNode root;
        try {
            root = JSON.readTree(Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("config " + file + ": no such file");
        } catch (IOException e) {
            throw new IllegalArgumentException("config " + file + ": not valid JSON (" + e.getMessage().split("\n")[0] + ")");
        }
        try {
            return parse(root);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("config " + file + ": " + e.getMessage());
        }
    }

    /** Parses a JSON object; throws IllegalArgumentException naming a missing or mistyped key. */
    public static DenseNetConfig parse(JsonNode root) {
        if (root == null || !root.isObject()) throw new IllegalArgumentException("expected a JSON object");
        JsonNode blocks = root.get("block_config");
        if (blocks == null || !blocks.isArray()) throw new IllegalArgumentException("block_config must be a list of layer counts");
        List<Integer> b = new ArrayList<>();
        for (JsonNode n : blocks) {
            if (!n.canConvertToInt() || !n.isIntegralNumber()) throw new IllegalArgumentException("block_config entries must be integers");
            b.add(n.asInt());
        }
        return new DenseNetConfig(
                intKey(root, "growth_rate", null), b, intKey(root, "num_init_features", null), intKey(root, "bn_size", 4),
                doubleKey(root, "compression", 0.5), DenseNetConfig.Stem.parse(textKey(root, "stem", "imagenet")),
                intKey(root, "in_channels", 3), intKey(root, "num_classes", 1000), doubleKey(root, "drop_rate", 0.0));
    }

    /** The config as JSON text with torchvision's argument names. */
    public static String toJson(DenseNetConfig c) {
        ObjectNode o = JSON.createObjectNode();
        o.put("growth_rate", c.growthRate());
        c.blockConfig().forEach(o.putArray("block_config")::add);
        o.put("num_init_features", c.numInitFeatures());
        o.put("bn_size", c.bnSize());
        o.put("compression", c.compression());
        o.put("stem", c.stem().id());
        o.put("in_channels", c.inChannels());
        o.put("num_classes", c.numClasses());
        o.put("drop_rate", c.dropRate());
        return o.toString();
    }

    private static int intKey(JsonNode root, String key, Integer dflt) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            if (dflt == null) throw new IllegalArgumentException("missing key " + key);
            return dflt;
        }
        if (!n.isIntegralNumber() || !n.canConvertToInt()) throw new IllegalArgumentException(key + " must be an integer, got " + n);
        return n.asInt();
    }

    private static double doubleKey(JsonNode root, String key, double dflt) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return dflt;
        if (!n.isNumber()) throw new IllegalArgumentException(key + " must be a number, got " + n);
        return n.asDouble();
    }

    private static String textKey(JsonNode root, String key, String dflt) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return dflt;
        if (!n.isTextual()) throw new IllegalArgumentException(key + " must be a string, got " + n);
        return n.asText();
    }
}
