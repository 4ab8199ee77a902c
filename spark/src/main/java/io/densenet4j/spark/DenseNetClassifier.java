package io.densenet4j.spark;

import io.densenet4j.data.Normalization;
import io.densenet4j.image.ColorMode;
import io.densenet4j.image.Image;
import io.densenet4j.image.ImageDecoder;
import io.densenet4j.image.ImageTransform;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.DefaultParamsWriter;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWriter;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * A Spark ML {@link Transformer} that classifies images with a DenseNet: torchvision's eval
 * transform (resize, centre crop, normalise, as {@code densenet4j predict} does), then the native
 * engine, in batches of {@code batchSize} within each partition.
 *
 * <p>Input ({@code inputCol}): encoded file bytes ({@code binary}, e.g. the {@code content} column of
 * Spark's {@code binaryFile} source; the file name for messages comes from a {@code path} column if
 * there is one) or the image struct of Spark's {@code image} source ({@code origin, height, width,
 * nChannels, mode, data}, BGR(A) bytes). Output: the input columns plus {@code top1} (int),
 * {@code top1_prob} (float), {@code topk} (array&lt;int&gt;), {@code topk_prob} (array&lt;float&gt;),
 * optionally {@code logits} (array&lt;float&gt;), and {@code error} (string, null on success).
 *
 * <p>Per executor JVM the weights are read once and one engine per device is created once
 * ({@link EngineCache}), shared by the JVM's tasks and closed at JVM exit. {@code device=auto}
 * takes the GPU Spark assigned to the task ({@code TaskContext.resources()}, resource {@code gpu}),
 * else densenet4j's own choice (CUDA if usable, else the CPU).
 *
 * <p>{@code onError=fail} (default) fails the task, naming the file; {@code onError=null} gives that
 * row null results and the message in {@code error}, and the others their results.
 */
public final class DenseNetClassifier extends Transformer implements DefaultParamsWritable {
    private static final long serialVersionUID = 1L;

    private final String uid;
    private final Param<String> weightsPath;
    private final Param<String> configPath;
    private final Param<String> inputCol;
    private final Param<String> logitsCol;
    private final IntParam topK;
    /** The largest batchSize: 4096 images of 3x224x224 float32 are 2.3 GiB of input. */
    public static final int MAX_BATCH = 4096;
    private final IntParam batchSize;
    private final IntParam resize;
    private final IntParam crop;
    private final Param<String> normalize;
    private final Param<String> device;
    private final Param<String> dtype;
    private final IntParam threads;
    private final Param<String> onError;

    public DenseNetClassifier() { this(Identifiable$.MODULE$.randomUID("densenet")); }

    /** The constructor Spark's reader calls. */
    public DenseNetClassifier(String uid) {
        this.uid = uid;
        weightsPath = new Param<>(this, "weightsPath", "weights (.pth, .safetensors or a densenet4j checkpoint) on a path every executor can read");
        configPath = new Param<>(this, "configPath", "architecture JSON (torchvision argument names); empty: inferred from the weights");
        inputCol = new Param<>(this, "inputCol", "binary (encoded PNG/JPEG) or image-struct column");
        logitsCol = new Param<>(this, "logitsCol", "column for the logits (array<float>); empty: none");
        topK = new IntParam(this, "topK", "classes in topk/topk_prob (>= 1)");
        batchSize = new IntParam(this, "batchSize", "images per native batch, 1 to " + MAX_BATCH);
        resize = new IntParam(this, "resize", "shorter side before the crop (0: no resize)");
        crop = new IntParam(this, "crop", "centre crop side (>= 1)");
        normalize = new Param<>(this, "normalize", "auto (a densenet4j checkpoint's or quantized weights' own, else imagenet) or " + Normalization.SYNTAX);
        device = new Param<>(this, "device", "auto (the task's GPU, else densenet4j's choice), cpu, cuda or cuda:INDEX");
        dtype = new Param<>(this, "dtype", "fp32 or bf16 (CPU with AVX512_BF16, or CUDA), on CUDA tf32 or fp16, on the CPU int8 (weights from densenet4j quantize)");
        threads = new IntParam(this, "threads", "CPU threads per engine, 0 (all cores) to 1024");
        onError = new Param<>(this, "onError", "fail (the task fails naming the file) or null (null results and an error message)");
        setDefault(configPath, "");
        setDefault(inputCol, "content");
        setDefault(logitsCol, "");
        setDefault(topK, 5);
        setDefault(batchSize, 32);
        setDefault(resize, 256);
        setDefault(crop, 224);
        setDefault(normalize, "auto");
        setDefault(device, "auto");
        setDefault(dtype, "fp32");
        setDefault(threads, 0);
        setDefault(onError, "fail");
    }

    @Override public String uid() { return uid; }

    private int i(IntParam p) { return (Integer) $(p); }

    public Param<String> weightsPath() { return weightsPath; }
    public Param<String> configPath() { return configPath; }
    public Param<String> inputCol() { return inputCol; }
    public Param<String> logitsCol() { return logitsCol; }
    public IntParam topK() { return topK; }
    public IntParam batchSize() { return batchSize; }
    public IntParam resize() { return resize; }
    public IntParam crop() { return crop; }
    public Param<String> normalize() { return normalize; }
    public Param<String> device() { return device; }
    public Param<String> dtype() { return dtype; }
    public IntParam threads() { return threads; }
    public Param<String> onError() { return onError; }

    public DenseNetClassifier setWeightsPath(String v) { set(weightsPath, v); return this; }
    public DenseNetClassifier setConfigPath(String v) { set(configPath, v); return this; }
    public DenseNetClassifier setInputCol(String v) { set(inputCol, v); return this; }
    public DenseNetClassifier setLogitsCol(String v) { set(logitsCol, v); return this; }
    public DenseNetClassifier setTopK(int v) { set(topK, v); return this; }
    public DenseNetClassifier setBatchSize(int v) { set(batchSize, v); return this; }
    public DenseNetClassifier setResize(int v) { set(resize, v); return this; }
    public DenseNetClassifier setCrop(int v) { set(crop, v); return this; }
    public DenseNetClassifier setNormalize(String v) { set(normalize, v); return this; }
    public DenseNetClassifier setDevice(String v) { set(device, v); return this; }
    public DenseNetClassifier setDtype(String v) { set(dtype, v); return this; }
    public DenseNetClassifier setThreads(int v) { set(threads, v); return this; }
    public DenseNetClassifier setOnError(String v) { set(onError, v); return this; }

    /** The settings an executor needs, checked on the driver (before any task runs). */
    record Settings(String weights, String config, String input, boolean inputIsImageStruct, int pathIndex, int inputIndex,
                    boolean logits, int topK, int batch, int resize, int crop, float[] mean, float[] std, String device, String dtype,
                    int threads, boolean nullOnError) implements java.io.Serializable {}

    private Settings settings(StructType schema) {
        if (!isDefined(weightsPath) || $(weightsPath).isBlank()) throw new IllegalArgumentException("weightsPath is not set");
        String in = $(inputCol);
        if (!java.util.Arrays.asList(schema.fieldNames()).contains(in)) {
            throw new IllegalArgumentException("inputCol '" + in + "' is not a column of " + schema.simpleString());
        }
        DataType t = schema.apply(in).dataType();
        boolean struct = t instanceof StructType st && java.util.Arrays.asList(st.fieldNames()).containsAll(List.of("height", "width", "nChannels", "data"));
        if (!struct && !t.equals(DataTypes.BinaryType)) {
            throw new IllegalArgumentException("inputCol '" + in + "' must be binary (encoded image bytes) or Spark's image struct, got " + t.simpleString());
        }
        if (i(topK) < 1 || i(batchSize) < 1 || i(crop) < 1 || i(resize) < 0) {
            throw new IllegalArgumentException("topK, batchSize and crop must be >= 1 and resize >= 0");
        }
        if (i(batchSize) > MAX_BATCH) throw new IllegalArgumentException("batchSize must be at most " + MAX_BATCH + ", got " + i(batchSize));
        if (!$(onError).equals("fail") && !$(onError).equals("null")) throw new IllegalArgumentException("onError must be fail or null, got " + $(onError));
        // auto: resolved where the weights are read (the executor; EngineCache.stored)
        Normalization n = $(normalize).equals("auto") ? null : Normalization.parse($(normalize), 3);
        List<String> names = java.util.Arrays.asList(schema.fieldNames());
        return new Settings($(weightsPath), $(configPath), in, struct, names.indexOf("path"), names.indexOf(in), !$(logitsCol).isEmpty(), i(topK),
                i(batchSize), isSet(resize) ? i(resize) : -1, isSet(crop) ? i(crop) : -1, n == null ? null : n.mean(), n == null ? null : n.std(), $(device), $(dtype), i(threads), $(onError).equals("null"));
    }

    /**
     * Builds (or finds) this JVM's engine for these params now, in the calling thread, so that bad
     * weights, config, device, dtype or threads fail here with their own exception instead of
     * inside the first task. In local mode the executors are this JVM and reuse the engine (it is
     * created once either way). A network whose input is not RGB (3 channels) is refused: rows are
     * decoded to RGB.
     *
     * @throws IllegalArgumentException bad params, or a network that does not take 3 channels
     * @throws io.densenet4j.io.WeightsException unreadable weights
     * @throws io.densenet4j.DenseNetException no such device, or a native error
     */
    public void checkEngine(StructType schema) {
        Settings s = settings(schema);
        io.densenet4j.Predictor p = engineFor(s);
        int c = p.network().config().inChannels();
        if (c != 3) throw new IllegalArgumentException("the network takes " + c + "-channel input; images are classified as RGB (3 channels)");
    }

    /** This JVM's engine for these settings, on the task's device (on the driver: the device as set). */
    static io.densenet4j.Predictor engineFor(Settings s) {
        // int8 runs on the CPU only: auto then means the CPU even where Spark assigned a GPU
        return EngineCache.engine(s, s.dtype().equals("int8") && s.device().equals("auto") ? "cpu" : Batches.taskDevice(s.device()));
    }

    @Override
    public StructType transformSchema(StructType schema) {
        settings(schema);
        StructType out = schema
                .add("top1", DataTypes.IntegerType, true)
                .add("top1_prob", DataTypes.FloatType, true)
                .add("topk", DataTypes.createArrayType(DataTypes.IntegerType, false), true)
                .add("topk_prob", DataTypes.createArrayType(DataTypes.FloatType, false), true);
        if (!$(logitsCol).isEmpty()) out = out.add($(logitsCol), DataTypes.createArrayType(DataTypes.FloatType, false), true);
        return out.add("error", DataTypes.StringType, true);
    }

    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        StructType outSchema = transformSchema(dataset.schema());
        Settings s = settings(dataset.schema());
        return dataset.toDF().mapPartitions((MapPartitionsFunction<Row, Row>) rows -> new Batches(rows, s), Encoders.row(outSchema));
    }

    @Override
    public DenseNetClassifier copy(ParamMap extra) { return (DenseNetClassifier) defaultCopy(extra); }

    @Override
    public MLWriter write() { return new DefaultParamsWriter(this); }

    public static MLReader<DenseNetClassifier> read() { return new DefaultParamsReader<>(); }

    public static DenseNetClassifier load(String path) { return read().load(path); }

    /** Rows in, rows out, forwarded {@code batch} at a time. */
    static final class Batches implements Iterator<Row> {
        private final Iterator<Row> in;
        private final Settings s;
        private final ImageTransform tf;
        private final int side;
        private final List<Row> ready = new ArrayList<>();
        private int next;

        Batches(Iterator<Row> in, Settings s) {
            this.in = in;
            this.s = s;
            // resize 0: no resize (the crop is taken from the image as it is)
            // what is not set is what predict takes: a checkpoint's own (training size, normalisation), else ImageNet's eval transform
            EngineCache.Stored st = s.mean() != null && s.resize() >= 0 && s.crop() >= 0 ? null : EngineCache.stored(s.weights());
            Normalization n = s.mean() != null ? new Normalization(s.mean(), s.std()) : st.normalization();
            this.side = s.crop() >= 0 ? s.crop() : st.size() > 0 ? st.size() : 224;
            int shorter = s.resize() >= 0 ? s.resize() : st.size() > 0 ? st.size() : 256;
            this.tf = ImageTransform.builder().resize(shorter).crop(side).normalize(n.mean(), n.std()).build();
        }

        @Override
        public boolean hasNext() {
            if (next < ready.size()) return true;
            ready.clear();
            next = 0;
            if (!in.hasNext()) return false;
            fill();
            return !ready.isEmpty();
        }

        @Override
        public Row next() {
            if (!hasNext()) throw new NoSuchElementException();
            return ready.get(next++);
        }

        private void fill() {
            List<Row> rows = new ArrayList<>();
            List<float[]> images = new ArrayList<>();
            List<Integer> good = new ArrayList<>();
            Map<Integer, String> errors = new java.util.HashMap<>();
            io.densenet4j.Predictor p = engineFor(s);
            // On the CPU a forward uses every core it was given; decoders in the JVM's other tasks
            // sharing those cores would slow its OpenMP team about 2x (measured), so decoding
            // (shared) pauses while a forward (exclusive) runs. A GPU forward leaves the cores free.
            boolean cpu = p.device().startsWith("cpu");
            java.util.concurrent.locks.ReadWriteLock cores = EngineCache.cpuCores();
            while (rows.size() < s.batch() && in.hasNext()) {
                Row r = in.next();
                int i = rows.size();
                rows.add(r);
                if (cpu) cores.readLock().lock();
                try {
                    images.add(tf.apply(decode(r)));
                    good.add(i);
                } catch (RuntimeException e) {
                    if (!s.nullOnError()) throw new IllegalArgumentException(e.getMessage(), e);
                    errors.put(i, e.getMessage());
                } finally {
                    if (cpu) cores.readLock().unlock();
                }
            }
            float[] logits = null;
            int classes = p.numClasses();
            if (!images.isEmpty()) {
                float[] input = ImageTransform.stack(images);
                if (cpu) cores.writeLock().lock();
                try {
                    logits = p.forward(input, images.size(), side, side);
                } finally {
                    if (cpu) cores.writeLock().unlock();
                }
            }
            int g = 0;
            for (int i = 0; i < rows.size(); i++) {
                Row r = rows.get(i);
                List<Object> v = new ArrayList<>(r.size() + 6);
                for (int c = 0; c < r.size(); c++) v.add(r.get(c));
                if (g < good.size() && good.get(g) == i) {
                    addResult(v, logits, g * classes, classes);
                    g++;
                    v.add(null);
                } else {
                    for (int k = 0; k < (s.logits() ? 5 : 4); k++) v.add(null);
                    v.add(errors.get(i));
                }
                ready.add(RowFactory.create(v.toArray()));
            }
        }

        private void addResult(List<Object> v, float[] logits, int off, int classes) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < classes; j++) max = Math.max(max, logits[off + j]);
            double sum = 0;
            for (int j = 0; j < classes; j++) sum += Math.exp(logits[off + j] - max);
            float[] prob = new float[classes];
            for (int j = 0; j < classes; j++) prob[j] = (float) (Math.exp(logits[off + j] - max) / sum);
            int k = Math.min(s.topK(), classes);
            Integer[] idx = new Integer[classes];
            for (int j = 0; j < classes; j++) idx[j] = j;
            java.util.Arrays.sort(idx, (a, b) -> Float.compare(prob[b], prob[a]));  // stable: ties keep the lower index first
            int[] top = new int[k];
            float[] topP = new float[k];
            for (int j = 0; j < k; j++) {
                top[j] = idx[j];
                topP[j] = prob[idx[j]];
            }
            v.add(top[0]);
            v.add(topP[0]);
            v.add(scala.jdk.javaapi.CollectionConverters.asScala(java.util.Arrays.stream(top).boxed().toList()).toSeq());
            List<Float> pl = new ArrayList<>(k);
            for (float f : topP) pl.add(f);
            v.add(scala.jdk.javaapi.CollectionConverters.asScala(pl).toSeq());
            if (s.logits()) {
                List<Float> l = new ArrayList<>(classes);
                for (int j = 0; j < classes; j++) l.add(logits[off + j]);
                v.add(scala.jdk.javaapi.CollectionConverters.asScala(l).toSeq());
            }
        }

        private Image decode(Row r) {
            String name = s.pathIndex() >= 0 && !r.isNullAt(s.pathIndex()) ? r.getString(s.pathIndex()) : "(row without a path column)";
            if (r.isNullAt(s.inputIndex())) throw new IllegalArgumentException(name + ": the image column is null");
            if (!s.inputIsImageStruct()) return ImageDecoder.decode((byte[]) r.get(s.inputIndex()), name, ColorMode.RGB);
            Row im = r.getStruct(s.inputIndex());
            String origin = fieldOr(im, "origin", name);
            int h = im.getInt(im.fieldIndex("height")), w = im.getInt(im.fieldIndex("width")), c = im.getInt(im.fieldIndex("nChannels"));
            byte[] data = (byte[]) im.get(im.fieldIndex("data"));
            if (h <= 0 || w <= 0 || (c != 1 && c != 3 && c != 4) || data == null || data.length != h * w * c) {
                throw new IllegalArgumentException(origin + ": not a decodable image (" + w + "x" + h + "x" + c + ", "
                        + (data == null ? 0 : data.length) + " bytes)");
            }
            // Spark's image source: rows of BGR(A) bytes, channels interleaved; to (3, H, W) RGB, 0..255
            float[] chw = new float[3 * h * w];
            for (int i = 0; i < h * w; i++) {
                for (int k = 0; k < 3; k++) {
                    int src = c == 1 ? 0 : 2 - k;  // B G R -> R G B
                    chw[k * h * w + i] = data[i * c + src] & 0xff;
                }
            }
            return new Image(3, h, w, chw);
        }

        private static String fieldOr(Row r, String field, String dflt) {
            try {
                int i = r.fieldIndex(field);
                return r.isNullAt(i) ? dflt : r.getString(i);
            } catch (IllegalArgumentException absent) {
                return dflt;
            }
        }

        /** auto: the GPU Spark assigned to this task, if any. */
        private static String taskDevice(String device) {
            if (!device.equals("auto")) return device;
            org.apache.spark.TaskContext tc = org.apache.spark.TaskContext.get();
            if (tc == null) return device;
            scala.Option<org.apache.spark.resource.ResourceInformation> gpu = tc.resources().get("gpu");
            if (gpu.isDefined() && gpu.get().addresses().length > 0) return "cuda:" + gpu.get().addresses()[0];
            return device;
        }
    }
}
