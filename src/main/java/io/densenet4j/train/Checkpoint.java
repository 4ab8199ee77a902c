package io.densenet4j.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.densenet4j.DenseNetConfig;
import io.densenet4j.data.Normalization;
import io.densenet4j.io.ConfigJson;
import io.densenet4j.io.SafeTensors;
import io.densenet4j.io.SafeTensorsFile;
import io.densenet4j.io.StateDict;
import io.densenet4j.io.Tensor;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A training checkpoint as one safetensors file (DESIGN.md): the model's tensors under
 * torchvision's key names, the optimizer's momentum buffers as {@code optimizer.momentum.<param>},
 * and string metadata: {@code format}, {@code config} (JSON, torchvision argument names),
 * {@code settings} (JSON), {@code epoch} and {@code batch} (where training continues), {@code step},
 * {@code seed} (the RNG state: every random draw is a pure function of seed, epoch, step and sample),
 * {@code normalization.mean}/{@code normalization.std}, {@code class_names} (JSON) and
 * {@code input_size} (HxW), and {@code run.*}: where the data came from ({@code run.dataset},
 * {@code run.val_split}, {@code run.test_dataset}), the metrics so far ({@code run.metrics}, CSV) and the
 * running sums of an epoch stopped midway. Written to a temporary file and renamed: never half-written.
 * Loading it as weights ({@code StateDicts.load}) ignores {@code optimizer.*}.
 */
public record Checkpoint(DenseNetConfig config, TrainSettings settings, StateDict model, Map<String, float[]> momentum,
                         int epoch, int batch, long step, Normalization normalization, List<String> classNames,
                         int height, int width, Map<String, String> run) {
    public static final String FORMAT = "densenet4j-checkpoint-1";
    public static final String MOMENTUM_PREFIX = "optimizer.momentum.";
    public static final String RUN_PREFIX = "run.";
    private static final ObjectMapper JSON = new ObjectMapper();

    public void write(Path file) {
        StateDict all = new StateDict(model.asMap());
        for (Map.Entry<String, float[]> e : momentum.entrySet()) {
            long[] shape = model.require(e.getKey()).shape();
            all.put(MOMENTUM_PREFIX + e.getKey(), Tensor.ofFloats(shape, e.getValue()));
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("config", ConfigJson.toJson(config));
        meta.put("settings", settings.toJson());
        meta.put("epoch", Integer.toString(epoch));
        meta.put("batch", Integer.toString(batch));
        meta.put("step", Long.toString(step));
        meta.put("seed", Long.toString(settings.seed()));
        meta.put("normalization.mean", floats(normalization.mean()));
        meta.put("normalization.std", floats(normalization.std()));
        try {
            meta.put("class_names", JSON.writeValueAsString(classNames));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        meta.put("input_size", height + "x" + width);
        run.forEach((k, v) -> meta.put(RUN_PREFIX + k, v));
        SafeTensors.write(file, all, meta);
    }

    /** Whether a safetensors file's metadata marks it as a densenet4j checkpoint. */
    public static boolean isCheckpoint(Map<String, String> metadata) { return FORMAT.equals(metadata.get("format")); }

    /**
     * Reads a checkpoint written by {@link #write}.
     *
     * @throws IllegalArgumentException if the file is not such a checkpoint (one line naming it)
     */
    public static Checkpoint read(Path file) {
        if (java.nio.file.Files.isDirectory(file)) {
            throw new IllegalArgumentException(file + " is a directory; a checkpoint is the " + Trainer.CHECKPOINT + " that train writes in its --out folder"
                    + (java.nio.file.Files.isRegularFile(file.resolve(Trainer.CHECKPOINT)) ? " (" + file.resolve(Trainer.CHECKPOINT) + " exists)" : ""));
        }
        if (!java.nio.file.Files.exists(file)) {
            throw new IllegalArgumentException(file + ": no such file; a checkpoint is the " + Trainer.CHECKPOINT + " that train writes in its --out folder");
        }
        io.densenet4j.io.WeightsFormat kind;
        try {
            kind = io.densenet4j.io.WeightsFormat.detect(file);
        } catch (RuntimeException e) {
            kind = null;
        }
        if (kind != null && kind != io.densenet4j.io.WeightsFormat.SAFETENSORS) {
            throw new IllegalArgumentException(file + " is PyTorch weights, not a densenet4j checkpoint (" + Trainer.CHECKPOINT
                    + "); to start training from these weights use --weights " + file);
        }
        SafeTensorsFile f;
        try {
            f = SafeTensors.read(file);
        } catch (io.densenet4j.io.WeightsException e) {
            throw new IllegalArgumentException(file + " is not a densenet4j checkpoint (a .safetensors file that train writes): "
                    + e.getMessage().replace(file + ": ", ""), e);
        }
        Map<String, String> m = f.metadata();
        if (!isCheckpoint(m)) {
            throw new IllegalArgumentException(file + " holds safetensors weights but is not a densenet4j checkpoint (no format=" + FORMAT
                    + " metadata); to start training from these weights use --weights " + file);
        }
        try {
            StateDict model = new StateDict();
            Map<String, float[]> mom = new LinkedHashMap<>();
            for (Map.Entry<String, Tensor> e : f.tensors().asMap().entrySet()) {
                if (e.getKey().startsWith(MOMENTUM_PREFIX)) mom.put(e.getKey().substring(MOMENTUM_PREFIX.length()), e.getValue().floats());
                else model.put(e.getKey(), e.getValue());
            }
            String[] hw = m.get("input_size").split("x");
            List<String> names = Arrays.asList(JSON.readValue(m.get("class_names"), String[].class));
            Map<String, String> run = new LinkedHashMap<>();
            m.forEach((k, v) -> {
                if (k.startsWith(RUN_PREFIX)) run.put(k.substring(RUN_PREFIX.length()), v);
            });
            return new Checkpoint(ConfigJson.parse(JSON.readTree(m.get("config"))), TrainSettings.fromJson(m.get("settings")), model, mom,
                    Integer.parseInt(m.get("epoch")), Integer.parseInt(m.get("batch")), Long.parseLong(m.get("step")),
                    normalization(m), names, Integer.parseInt(hw[0]), Integer.parseInt(hw[1]), run);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage());
        } catch (Exception e) {
            throw new IllegalArgumentException(file + ": damaged checkpoint metadata (" + e.getMessage() + ")");
        }
    }

    /** The normalisation stored in checkpoint metadata, or null. */
    public static Normalization normalization(Map<String, String> m) {
        if (!m.containsKey("normalization.mean")) return null;
        return new Normalization(parseFloats(m.get("normalization.mean")), parseFloats(m.get("normalization.std")));
    }

    static String floats(float[] v) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < v.length; i++) sb.append(i == 0 ? "" : ",").append(v[i]);
        return sb.toString();
    }

    static float[] parseFloats(String s) {
        String[] p = s.split(",");
        float[] v = new float[p.length];
        for (int i = 0; i < p.length; i++) v[i] = Float.parseFloat(p[i].trim());
        return v;
    }
}
