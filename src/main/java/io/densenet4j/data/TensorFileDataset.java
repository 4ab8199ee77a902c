package io.densenet4j.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.densenet4j.io.SafeTensors;
import io.densenet4j.io.SafeTensorsFile;
import io.densenet4j.io.Tensor;
import io.densenet4j.io.WeightsException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A dataset stored as tensors in one {@code .safetensors} file:
 * <ul>
 *   <li>{@code input}: float (F32; F16/BF16/F64 are converted to float32), shape (N, C, H, W);
 *       the images, used as they are: no scaling to [0, 1], no clipping;</li>
 *   <li>{@code labels}: integer (I64; other integer dtypes are widened), shape (N), each in
 *       {@code [0, numClasses)}.</li>
 * </ul>
 * Optional {@code __metadata__}: {@code num_classes} (decimal integer, at least
 * {@code max(label) + 1}; without it the class count is {@code max(label) + 1}) and
 * {@code class_names} (a JSON array of strings, one per class; without it {@code "class i"}).
 *
 * <p>Written from PyTorch with
 * {@code safetensors.torch.save_file({"input": x.float().contiguous(), "labels": y.long()}, f, metadata={"num_classes": "10"})}.
 *
 * <p>Errors ({@link IllegalArgumentException}, one line naming the file): unreadable or malformed
 * file, a missing tensor, wrong rank or element kind, N differing between the two, a negative
 * label or one {@code >= num_classes}, a bad {@code num_classes} or {@code class_names}.
 */
public final class TensorFileDataset extends ArrayDataset {
    private final String inputDtype;
    private final Path file;

    /** What a file holds, validated: images, labels, sizes, class names. */
    private record Contents(float[] input, int[] labels, int channels, int height, int width, List<String> classNames, String inputDtype) {}

    /**
     * Reads the whole file into memory.
     *
     * @param file a {@code .safetensors} file with tensors {@code input} and {@code labels}
     * @throws IllegalArgumentException see the class comment
     */
    public TensorFileDataset(Path file) {
        this(file, read(Objects.requireNonNull(file, "file")));
    }

    private TensorFileDataset(Path file, Contents c) {
        super(c.input(), c.labels(), c.channels(), c.height(), c.width(), c.classNames());
        this.file = file;
        this.inputDtype = c.inputDtype();
    }

    /**
     * The dtype {@code input} is stored in ({@code F32}, or {@code F16}/{@code BF16}/{@code F64}, converted
     * to float32 on reading: F64 rounds to the nearest float).
     */
    public String inputDtype() { return inputDtype; }

    private static Contents read(Path file) {
        SafeTensorsFile st;
        try {
            st = SafeTensors.read(file);
        } catch (WeightsException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        Tensor in = st.tensors().get("input");
        Tensor lab = st.tensors().get("labels");
        if (in == null || lab == null) {
            throw new IllegalArgumentException(file + ": a tensor dataset needs tensors 'input' (N,C,H,W float) and"
                    + " 'labels' (N, int64); missing " + (in == null ? "'input'" : "'labels'") + ", found "
                    + st.tensors().keys());
        }
        if (in.kind() != Tensor.Kind.FLOAT32 || in.rank() != 4) {
            throw new IllegalArgumentException(file + ": 'input' must be a float tensor of shape (N,C,H,W), got "
                    + in.kind() + " " + Arrays.toString(in.shape()));
        }
        if (lab.kind() != Tensor.Kind.INT64 || lab.rank() != 1) {
            throw new IllegalArgumentException(file + ": 'labels' must be an integer tensor of shape (N), got "
                    + lab.kind() + " " + Arrays.toString(lab.shape()));
        }
        long n = in.dim(0);
        if (lab.dim(0) != n) {
            throw new IllegalArgumentException(file + ": 'input' has N=" + n + " images but 'labels' has "
                    + lab.dim(0) + " labels");
        }
        if (in.dim(1) < 1 || in.dim(2) < 1 || in.dim(3) < 1) {
            throw new IllegalArgumentException(file + ": 'input' has an empty image shape "
                    + Arrays.toString(in.shape()));
        }
        long[] l = lab.longs();
        long max = -1;
        for (int i = 0; i < l.length; i++) {
            if (l[i] < 0) {
                throw new IllegalArgumentException(file + ": label " + l[i] + " of sample " + i + " is negative");
            }
            max = Math.max(max, l[i]);
        }
        Map<String, String> meta = st.metadata();
        long classes = max + 1;
        String nc = meta.get("num_classes");
        if (nc != null) {
            try {
                classes = Long.parseLong(nc.strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(file + ": metadata num_classes '" + nc + "' is not an integer", e);
            }
            if (classes < 1) {
                throw new IllegalArgumentException(file + ": metadata num_classes must be positive, got " + classes);
            }
        }
        if (classes > 1_000_000) {
            throw new IllegalArgumentException(file + ": " + classes + " classes is implausible (labels up to " + max
                    + ")");
        }
        for (int i = 0; i < l.length; i++) {
            if (l[i] >= classes) {
                throw new IllegalArgumentException(file + ": label " + l[i] + " of sample " + i
                        + " is out of range for num_classes=" + classes);
            }
        }
        int k = (int) classes;
        String cn = meta.get("class_names");
        int[] labels = new int[l.length];
        for (int i = 0; i < l.length; i++) {
            labels[i] = (int) l[i];
        }
        return new Contents(in.floats(), labels, (int) in.dim(1), (int) in.dim(2), (int) in.dim(3),
                cn != null ? parseNames(file, cn, k) : DataFiles.defaultNames(k), st.dtypes().getOrDefault("input", "F32"));
    }

    private static List<String> parseNames(Path file, String json, int k) {
        JsonNode node;
        try {
            node = new ObjectMapper().readTree(json);
        } catch (Exception e) {
            throw new IllegalArgumentException(file + ": metadata class_names is not a JSON array of strings", e);
        }
        if (node == null || !node.isArray() || node.size() != k) {
            throw new IllegalArgumentException(file + ": metadata class_names must be a JSON array of " + k
                    + " strings");
        }
        List<String> names = new ArrayList<>(k);
        for (JsonNode e : node) {
            if (!e.isTextual()) {
                throw new IllegalArgumentException(file + ": metadata class_names must hold strings, found " + e);
            }
            names.add(e.asText());
        }
        return Collections.unmodifiableList(names);
    }

    /** @return the file this dataset was read from */
    public Path file() {
        return file;
    }

    @Override
    public String toString() {
        return "TensorFileDataset[" + file + ", N=" + size() + ", " + channels() + "x" + height() + "x" + width()
                + ", classes=" + numClasses() + "]";
    }
}
