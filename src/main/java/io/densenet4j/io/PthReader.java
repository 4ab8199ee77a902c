package io.densenet4j.io;

import io.densenet4j.io.PickledTensors.StorageRef;
import io.densenet4j.io.PickledTensors.TensorRef;
import net.razorvine.pickle.PickleException;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * Reads a state_dict written by PyTorch's {@code torch.save}, in either layout:
 * <ul>
 *   <li><b>zip</b> (the default since PyTorch 1.6): entries {@code <prefix>/data.pkl} (the pickled
 *       dict), {@code <prefix>/data/<key>} (one raw storage each), optionally {@code <prefix>/byteorder}
 *       and {@code <prefix>/version};</li>
 *   <li><b>legacy</b> ({@code _use_new_zipfile_serialization=False}, and torchvision's original
 *       DenseNet downloads): pickles of torch's magic number, the protocol version and sys_info,
 *       then the object pickle (persistent ids {@code ('storage', type, key, location, numel[, view])}),
 *       a pickle of the storage keys, then per key an int64 little-endian element count and the
 *       little-endian raw elements.</li>
 * </ul>
 * Unpickling is restricted: only {@code collections.OrderedDict}, {@code torch._utils._rebuild_tensor[_v2]},
 * {@code torch._utils._rebuild_parameter} and the torch storage classes may be named; any other global
 * (e.g. {@code os.system}) is refused before anything is built. Tensor views (storage offset,
 * size, stride) are gathered into dense row-major tensors; float types become float32, integer
 * and bool types int64. A dict that wraps the state_dict under {@code state_dict} or {@code model}
 * is unwrapped; values that are not tensors are ignored. Keys are returned as stored (see
 * {@link StateDicts#normalize}).
 *
 * <p>Errors are {@link WeightsException}s naming the file: missing, empty or truncated files, a
 * TorchScript archive ({@code torch.jit.save}, refused: save the state_dict instead), a refused global,
 * a corrupt pickle, a storage too small for its tensor, a safetensors file passed here.
 */
public final class PthReader {
    /** torch.serialization.MAGIC_NUMBER, the first pickle of a legacy file. */
    static final BigInteger MAGIC = new BigInteger("1950a86a20f9469cfc6c", 16);
    static final int LEGACY_PROTOCOL = 1001;
    private static final long MAX_PICKLE = 1L << 30;

    private PthReader() {}

    /**
     * Reads the state_dict in {@code file} (zip or legacy layout, told from its content).
     *
     * @return the tensors in file order, keys as stored
     * @throws WeightsException naming the file for every problem (see the class description)
     */
    public static StateDict read(Path file) {
        WeightsFormat format = WeightsFormat.detect(file);
        try {
            switch (format) {
                case PTH_ZIP: return readZip(file);
                case PTH_LEGACY: return readLegacy(file);
                default: throw new FormatError("is a safetensors file, not a PyTorch .pth file "
                        + "(read it with SafeTensors.read or StateDicts.load)");
            }
        } catch (WeightsException e) {
            throw e;
        } catch (FormatError e) {
            throw new WeightsException(file, e.getMessage());
        } catch (NoSuchFileException e) {
            throw new WeightsException(file, "no such file");
        } catch (ZipException e) {
            throw new WeightsException(file, "truncated or corrupt zip archive (" + e.getMessage() + ")", e);
        } catch (EOFException e) {
            throw new WeightsException(file, "truncated: the data ends early"
                    + (e.getMessage() != null ? " (" + e.getMessage() + ")" : ""), e);
        } catch (IOException e) {
            String m = String.valueOf(e.getMessage());
            if (m.contains("premature end") || m.contains("expected more bytes")) {
                throw new WeightsException(file, "truncated or corrupt pickle (" + m + ")", e);
            }
            throw new WeightsException(file, "cannot read: " + io.densenet4j.io.IoErrors.reason(e), e);
        } catch (PickleException e) {
            throw new WeightsException(file, "corrupt pickle (" + String.valueOf(e.getMessage()).strip() + ")", e);
        } catch (OutOfMemoryError e) {
            throw new WeightsException(file, "a tensor does not fit in the Java heap (raise -Xmx), or the file is corrupt");
        } catch (RuntimeException e) {
            // e.g. a ClassCastException inside Pyrolite when an opcode finds the wrong value on its stack
            throw new WeightsException(file, "corrupt .pth file: malformed pickle or tensor data ("
                    + e.getClass().getSimpleName() + ")", e);
        }
    }

    // ------------------------------------------------------------------ zip layout

    private static StateDict readZip(Path file) throws IOException {
        long fileSize = Files.size(file);
        try (ZipFile zip = new ZipFile(file.toFile())) {
            String pkl = null;
            boolean constants = false;
            for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements(); ) {
                String name = en.nextElement().getName();
                constants |= name.equals("constants.pkl") || name.endsWith("/constants.pkl");
                if ((name.equals("data.pkl") || name.endsWith("/data.pkl"))
                        && (pkl == null || depth(name) < depth(pkl))) {
                    pkl = name;
                }
            }
            String prefix = pkl == null ? "" : pkl.substring(0, pkl.length() - "data.pkl".length());
            if ((pkl == null && constants) || (pkl != null && isTorchScript(zip, prefix))) {
                throw new FormatError("is a TorchScript archive (torch.jit.save), not a state_dict: save the "
                        + "weights with torch.save(model.state_dict(), path) instead");
            }
            if (pkl == null) throw new FormatError("zip archive without a data.pkl entry: not a torch.save file");
            ByteOrder order = byteOrder(zip, prefix);
            byte[] pickle = readEntry(zip, zip.getEntry(pkl), MAX_PICKLE);

            Map<String, ZipEntry> entries = new HashMap<>();
            TorchUnpickler u = new TorchUnpickler(ref -> {
                ZipEntry e = zip.getEntry(prefix + "data/" + ref.key());
                if (e == null) throw new FormatError("storage '" + ref.key() + "' is missing from the archive (truncated?)");
                long need = Math.multiplyExact(ref.rootNumel(), (long) ref.type().size);
                if (e.getMethod() == ZipEntry.STORED && e.getSize() > fileSize) {
                    throw new FormatError("entry " + e.getName() + " claims " + e.getSize() + " bytes, more than the whole file");
                }
                if (e.getSize() >= 0 && e.getSize() < need) {
                    throw new FormatError("storage '" + ref.key() + "' holds " + e.getSize() + " bytes, needs " + need);
                }
                entries.put(ref.key(), e);
                return ref;
            });
            Object root = u.loads(pickle);
            return StateDictCollector.collect(root, (key, t) -> {
                StorageRef s = t.storage();
                ZipEntry e = entries.get(s.key());
                StorageReader src = (off, dst) -> readAt(zip, e, s.viewOffset() * s.type().size + off, dst);
                return TensorDecoder.decode(s.type(), order, src, s.numel(), t.offset(), t.size(), t.stride());
            });
        }
    }

    /** torch.jit.save writes {@code constants.pkl} and a {@code code/} folder beside {@code data.pkl}. */
    private static boolean isTorchScript(ZipFile zip, String prefix) {
        if (zip.getEntry(prefix + "constants.pkl") != null) return true;
        for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements(); ) {
            if (en.nextElement().getName().startsWith(prefix + "code/")) return true;
        }
        return false;
    }

    private static int depth(String name) {
        return name.split("/", -1).length;
    }

    private static ByteOrder byteOrder(ZipFile zip, String prefix) throws IOException {
        ZipEntry e = zip.getEntry(prefix + "byteorder");
        if (e == null) return ByteOrder.LITTLE_ENDIAN;
        String s = new String(readEntry(zip, e, 64), StandardCharsets.US_ASCII).trim();
        if (s.equals("little")) return ByteOrder.LITTLE_ENDIAN;
        if (s.equals("big")) return ByteOrder.BIG_ENDIAN;
        throw new FormatError("unknown byteorder '" + s + "'");
    }

    private static byte[] readEntry(ZipFile zip, ZipEntry e, long max) throws IOException {
        if (e.getSize() > max) throw new FormatError("entry " + e.getName() + " is too large (" + e.getSize() + " bytes)");
        try (InputStream in = zip.getInputStream(e)) {
            byte[] b = in.readNBytes((int) Math.min(max, e.getSize() >= 0 ? e.getSize() : max));
            if (e.getSize() >= 0 && b.length != e.getSize()) {
                throw new FormatError("truncated: entry " + e.getName() + " holds " + b.length + " of " + e.getSize() + " bytes");
            }
            return b;
        }
    }

    private static void readAt(ZipFile zip, ZipEntry e, long offset, ByteBuffer dst) throws IOException {
        try (InputStream in = zip.getInputStream(e)) {
            in.skipNBytes(offset);
            byte[] piece = new byte[Math.min(dst.remaining(), 1 << 16)];
            while (dst.hasRemaining()) {
                int want = Math.min(dst.remaining(), piece.length);
                int got = in.readNBytes(piece, 0, want);
                if (got != want) {
                    throw new FormatError("truncated: entry " + e.getName() + " ends " + (dst.remaining() - got) + " bytes early");
                }
                dst.put(piece, 0, got);
            }
        }
    }

    // ------------------------------------------------------------------ legacy layout

    private record Located(StorageRef root, long dataStart) {}

    private static StateDict readLegacy(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ChannelInput in = new ChannelInput(ch);
            Object magic = new TorchUnpickler(null).load(in);
            if (!MAGIC.equals(magic instanceof Number n ? new BigInteger(n.toString()) : null)) {
                throw new FormatError("a pickle, but not a PyTorch file: it does not start with torch's magic number");
            }
            Object proto = new TorchUnpickler(null).load(in);
            if (!(proto instanceof Number p) || p.longValue() != LEGACY_PROTOCOL) {
                throw new FormatError("unsupported legacy torch.save protocol " + PickledTensors.describe(proto)
                        + " (expected " + LEGACY_PROTOCOL + ")");
            }
            Object sysInfo = new TorchUnpickler(null).load(in);
            if (!(sysInfo instanceof Map)) throw new FormatError("legacy sys_info is " + PickledTensors.describe(sysInfo));

            Map<String, StorageRef> roots = new HashMap<>();
            Object root = new TorchUnpickler(ref -> {
                StorageRef prev = roots.putIfAbsent(ref.key(), ref);
                if (prev != null && (prev.type() != ref.type() || prev.rootNumel() != ref.rootNumel())) {
                    throw new FormatError("storage '" + ref.key() + "' is referenced with different types or sizes");
                }
                return ref;
            }).load(in);
            Object keys = new TorchUnpickler(null).load(in);
            if (!(keys instanceof List<?> keyList)) throw new FormatError("legacy storage key list is " + PickledTensors.describe(keys));

            Map<String, Located> located = new HashMap<>();
            long pos = in.position();
            long size = in.size();
            ByteBuffer count = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            for (Object k : keyList) {
                if (!(k instanceof String key)) throw new FormatError("legacy storage key is " + PickledTensors.describe(k));
                StorageRef ref = roots.get(key);
                if (ref == null) throw new FormatError("storage '" + key + "' is listed but no tensor uses it");
                if (pos + 8 > size) {
                    throw new FormatError("truncated: storage '" + key + "' should start at byte " + pos
                            + " but the file ends at " + size);
                }
                count.clear();
                new ChannelStorage(ch, pos, 8).read(0, count);
                long numel = count.getLong(0);
                if (numel < ref.rootNumel()) {
                    throw new FormatError("storage '" + key + "' holds " + numel + " elements, the pickle says " + ref.rootNumel());
                }
                long bytes = Math.multiplyExact(numel, (long) ref.type().size);
                if (pos + 8 + bytes > size) {
                    throw new FormatError("truncated: storage '" + key + "' needs " + bytes + " bytes at offset " + (pos + 8)
                            + " but the file ends at " + size);
                }
                located.put(key, new Located(ref, pos + 8));
                pos += 8 + bytes;
            }
            return StateDictCollector.collect(root, (key, t) -> {
                StorageRef s = t.storage();
                Located l = located.get(s.key());
                if (l == null) throw new FormatError("storage '" + s.key() + "' is not in the file's storage list");
                long start = l.dataStart() + s.viewOffset() * s.type().size;
                StorageReader src = new ChannelStorage(ch, start, s.numel() * s.type().size);
                return TensorDecoder.decode(s.type(), ByteOrder.LITTLE_ENDIAN, src, s.numel(), t.offset(), t.size(), t.stride());
            });
        }
    }

    /** Turns one pickled tensor into a dense tensor. */
    @FunctionalInterface
    interface Materializer {
        Tensor apply(String key, TensorRef t) throws IOException;
    }
}
