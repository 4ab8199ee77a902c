package io.densenet4j.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads and writes the safetensors format (https://github.com/huggingface/safetensors):
 * an 8-byte little-endian header length {@code N}, {@code N} bytes of JSON mapping each
 * tensor name to {@code {"dtype", "shape", "data_offsets": [begin, end]}} (offsets relative to
 * the data section that follows) plus an optional {@code "__metadata__"} string-to-string map,
 * then the raw little-endian tensor data.
 *
 * <p>Reading accepts dtypes F32, F16, BF16, F64 (converted to float32) and I64, I32, I16, I8,
 * U8, BOOL (converted to int64). Writing emits F32 and I64, a header padded with spaces to a
 * multiple of 8 bytes, to a temporary file in the target's folder that is then renamed
 * atomically over the target, so a reader never sees a half-written file.
 *
 * <p>Every problem (missing, empty or truncated file, header length that does not fit the
 * file, malformed JSON, unknown dtype, offsets out of range or inconsistent with
 * shape x dtype size, I/O errors) is reported as a {@link WeightsException} naming the file.
 */
public final class SafeTensors {
    /** Largest header accepted, as the reference implementation does (100 MB). */
    static final long MAX_HEADER = 100_000_000L;
    static final String METADATA = "__metadata__";
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private static final SecureRandom RANDOM = new SecureRandom();

    private SafeTensors() {}

    /**
     * Reads a safetensors file.
     *
     * @return the tensors in header order and the {@code __metadata__} map
     * @throws WeightsException naming the file if it is missing, empty, truncated or malformed
     */
    public static SafeTensorsFile read(Path file) {
        return withFile(file, ch -> read(file, ch));
    }

    /**
     * Reads only a safetensors file's {@code __metadata__} map (the header, not the tensors): what
     * a densenet4j checkpoint or quantized weights say about themselves.
     *
     * @return the metadata, empty if the header has none
     * @throws WeightsException naming the file if it is missing, empty, truncated or malformed
     */
    public static Map<String, String> readMetadata(Path file) {
        return withFile(file, ch -> {
            Map<String, String> metadata = new LinkedHashMap<>();
            JsonNode m = header(ch).root().get(METADATA);
            if (m != null) readMetadata(m, metadata);
            return metadata;
        });
    }

    private interface ChannelRead<T> {
        T apply(FileChannel ch) throws IOException;
    }

    /** Runs {@code r} on the open file; every failure becomes a {@link WeightsException} naming the file. */
    private static <T> T withFile(Path file, ChannelRead<T> r) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return r.apply(ch);
        } catch (WeightsException e) {
            throw e;
        } catch (FormatError e) {
            throw new WeightsException(file, e.getMessage());
        } catch (NoSuchFileException e) {
            throw new WeightsException(file, "no such file");
        } catch (IOException e) {
            throw new WeightsException(file, "cannot read safetensors file: " + io.densenet4j.io.IoErrors.reason(e), e);
        } catch (OutOfMemoryError e) {
            throw new WeightsException(file, "a tensor does not fit in the Java heap (raise -Xmx)");
        } catch (RuntimeException e) {
            throw new WeightsException(file, "corrupt safetensors file (" + e.getClass().getSimpleName() + ")", e);
        }
    }

    /** The header's JSON object, and where the data section starts. */
    private record Header(JsonNode root, long dataStart) {}

    /** Reads the header, checked against the file's size. */
    private static Header header(FileChannel ch) throws IOException {
        long fileSize = ch.size();
        if (fileSize == 0) throw new FormatError("the file is empty (0 bytes), not a safetensors file");
        if (fileSize < 8) throw new FormatError("truncated: " + fileSize + " bytes, shorter than the 8-byte header length");
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        new ChannelStorage(ch, 0, 8).read(0, lenBuf);
        long headerLen = lenBuf.getLong(0);
        if (headerLen < 2 || headerLen > MAX_HEADER || headerLen > fileSize - 8) {
            throw new FormatError("header length " + Long.toUnsignedString(headerLen) + " does not fit a file of "
                    + fileSize + " bytes (truncated, or not a safetensors file)");
        }
        ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
        new ChannelStorage(ch, 8, headerLen).read(0, hb);
        JsonNode root;
        try {
            root = JSON.readTree(hb.array());
        } catch (JsonProcessingException e) {
            throw new FormatError("header is not valid JSON (" + e.getOriginalMessage() + ")");
        }
        if (root == null || !root.isObject()) throw new FormatError("header is not a JSON object");
        return new Header(root, 8 + headerLen);
    }

    private static SafeTensorsFile read(Path file, FileChannel ch) throws IOException {
        Header h = header(ch);
        JsonNode root = h.root();
        long fileSize = ch.size();
        long dataStart = h.dataStart();
        long dataLen = fileSize - dataStart;

        Map<String, String> metadata = new LinkedHashMap<>();
        Map<String, String> dtypes = new LinkedHashMap<>();
        StateDict tensors = new StateDict();
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            String name = e.getKey();
            if (name.equals(METADATA)) {
                readMetadata(e.getValue(), metadata);
                continue;
            }
            tensors.put(name, readTensor(ch, name, e.getValue(), dataStart, dataLen));
            dtypes.put(name, e.getValue().get("dtype").asText());
        }
        return new SafeTensorsFile(tensors, metadata, dtypes);
    }

    private static void readMetadata(JsonNode node, Map<String, String> out) {
        if (node.isNull()) return;
        if (!node.isObject()) throw new FormatError("__metadata__ is not a JSON object");
        for (Map.Entry<String, JsonNode> m : node.properties()) {
            if (!m.getValue().isTextual()) {
                throw new FormatError("__metadata__ value of '" + m.getKey() + "' is not a string");
            }
            out.put(m.getKey(), m.getValue().asText());
        }
    }

    private static Tensor readTensor(FileChannel ch, String name, JsonNode info, long dataStart, long dataLen)
            throws IOException {
        String where = "tensor '" + name + "': ";
        if (!info.isObject()) throw new FormatError(where + "header entry is not a JSON object");
        JsonNode dt = info.get("dtype");
        if (dt == null || !dt.isTextual()) throw new FormatError(where + "no dtype");
        ElementType type = ElementType.ofSafetensors(dt.asText());
        if (type == null) {
            throw new FormatError(where + "unsupported dtype " + dt.asText()
                    + " (supported: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)");
        }
        long[] shape = longs(info.get("shape"), where + "shape");
        long[] offs = longs(info.get("data_offsets"), where + "data_offsets");
        if (offs.length != 2) throw new FormatError(where + "data_offsets must be [begin, end], got " + Arrays.toString(offs));
        long begin = offs[0], end = offs[1];
        if (begin > end || end > dataLen) {
            throw new FormatError(where + "data_offsets " + Arrays.toString(offs) + " lie outside the data section of "
                    + dataLen + " bytes (truncated file?)");
        }
        long numel;
        try {
            numel = Tensor.numel(shape);
            if (Math.multiplyExact(numel, type.size) != end - begin) {
                throw new FormatError(where + "shape " + Arrays.toString(shape) + " of " + type + " needs "
                        + numel * type.size + " bytes but data_offsets " + Arrays.toString(offs) + " span " + (end - begin));
            }
        } catch (ArithmeticException ex) {
            throw new FormatError(where + "shape " + Arrays.toString(shape) + " is too large");
        }
        long[] stride = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            stride[i] = s;
            s *= Math.max(shape[i], 1);
        }
        StorageReader src = new ChannelStorage(ch, dataStart + begin, end - begin);
        try {
            return TensorDecoder.decode(type, ByteOrder.LITTLE_ENDIAN, src, numel, 0, shape, stride);
        } catch (FormatError ex) {
            throw new FormatError(where + ex.getMessage());
        }
    }

    private static long[] longs(JsonNode node, String what) {
        if (node == null || !node.isArray()) throw new FormatError(what + " is missing or not a list");
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = node.get(i);
            if (!v.canConvertToExactIntegral() || !v.canConvertToLong() || v.asLong() < 0) {
                throw new FormatError(what + " holds " + v + ", not a non-negative integer");
            }
            out[i] = v.asLong();
        }
        return out;
    }

    /**
     * Writes {@code tensors} (float32 as F32, int64 as I64, in their order) and {@code metadata}
     * (may be {@code null} or empty) to {@code file}: first to a temporary file in the same
     * folder, flushed to disk, then renamed over {@code file} atomically (replacing an
     * existing file). On failure the temporary file is removed and {@code file} is untouched.
     *
     * @throws WeightsException naming the file if a tensor is named {@code __metadata__} or on I/O errors
     */
    public static void write(Path requested, StateDict tensors, Map<String, String> metadata) {
        Path file = writableTarget(requested);
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = header.putObject(METADATA);
            metadata.forEach((k, v) -> {
                if (k == null || v == null) throw new WeightsException(file, "metadata keys and values must not be null");
                meta.put(k, v);
            });
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.asMap().entrySet()) {
            if (e.getKey().equals(METADATA)) throw new WeightsException(file, "a tensor may not be named " + METADATA);
            Tensor t = e.getValue();
            long bytes = t.numel() * 4L * (t.kind() == Tensor.Kind.INT64 ? 2 : 1);
            ObjectNode info = header.putObject(e.getKey());
            info.put("dtype", t.kind() == Tensor.Kind.INT64 ? "I64" : "F32");
            ArrayNode shape = info.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            info.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] json;
        try {
            json = JSON.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new WeightsException(file, "cannot encode the safetensors header: " + e.getOriginalMessage(), e);
        }
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) head.put((byte) ' ');
        head.flip();

        Path target = file.toAbsolutePath();
        Path dir = target.getParent();
        Path tmp = null;
        try {
            // not Files.createTempFile: that one makes the file (and so the checkpoint) owner-only
            tmp = dir.resolve("." + target.getFileName() + "." + Long.toHexString(RANDOM.nextLong()) + ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW)) {
                writeFully(ch, head);
                writeData(ch, tensors);
                ch.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            tmp = null;
        } catch (IOException e) {
            throw new WeightsException(file, "cannot write safetensors file: " + io.densenet4j.io.IoErrors.reason(e), e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the original error is the one worth reporting
                }
            }
        }
    }

    private static void writeData(FileChannel ch, StateDict tensors) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
        for (Tensor t : tensors.asMap().values()) {
            if (t.kind() == Tensor.Kind.FLOAT32) {
                float[] f = t.floats();
                for (int i = 0; i < f.length; ) {
                    int n = Math.min(f.length - i, buf.capacity() / 4);
                    buf.clear();
                    buf.asFloatBuffer().put(f, i, n);
                    buf.limit(n * 4);
                    writeFully(ch, buf);
                    i += n;
                }
            } else {
                long[] l = t.longs();
                for (int i = 0; i < l.length; ) {
                    int n = Math.min(l.length - i, buf.capacity() / 8);
                    buf.clear();
                    buf.asLongBuffer().put(l, i, n);
                    buf.limit(n * 8);
                    writeFully(ch, buf);
                    i += n;
                }
            }
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }

    /**
     * The path to write: a symbolic link is followed to its target (the link stays a link), and
     * anything that exists but is not a regular file (a device, a folder) is refused, since the
     * atomic rename would replace it.
     */
    static Path writableTarget(Path file) {
        Path target = file;
        try {
            if (Files.isSymbolicLink(file)) target = file.toRealPath();
        } catch (IOException e) {
            throw new WeightsException(file, "cannot resolve the link (" + e.getClass().getSimpleName() + ")");
        }
        if (file.toString().isEmpty()) throw new WeightsException(file, "an empty file name");
        if (Files.exists(target) && !Files.isRegularFile(target)) {
            throw new WeightsException(file, "exists and is not a regular file; refusing to replace it");
        }
        Path parent = target.toAbsolutePath().getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            throw new WeightsException(file, "folder " + parent + " does not exist");
        }
        if (!Files.isWritable(parent)) throw new WeightsException(file, "folder " + parent + " is not writable");
        return target;
    }
}
