package io.densenet4j.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The layout of a weights file, told from its first bytes (never from its name):
 * <ul>
 *   <li>{@link #PTH_ZIP}: a zip archive ({@code PK\3\4}), what {@code torch.save} writes by default;
 *       TorchScript archives look the same and are told apart (and refused) by {@link PthReader};</li>
 *   <li>{@link #PTH_LEGACY}: a pickle ({@code 0x80 0x02 0x8a 0x0a ...}, torch's magic number), the non-zip
 *       layout of {@code _use_new_zipfile_serialization=False} and of torchvision's original downloads;</li>
 *   <li>{@link #SAFETENSORS}: an 8-byte little-endian header length that fits the file, then {@code '{'}.</li>
 * </ul>
 */
public enum WeightsFormat {
    PTH_ZIP, PTH_LEGACY, SAFETENSORS;

    /**
     * Sniffs {@code file}.
     *
     * @throws WeightsException naming the file if it is missing, empty, or none of the three layouts
     */
    public static WeightsFormat detect(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size == 0) throw new WeightsException(file, "the file is empty (0 bytes), not a weights file");
            ByteBuffer head = ByteBuffer.allocate((int) Math.min(size, 16)).order(ByteOrder.LITTLE_ENDIAN);
            while (head.hasRemaining() && ch.read(head, head.position()) >= 0) {
                // positional reads until the head is full
            }
            WeightsFormat f = of(head.array(), head.position(), size);
            if (f == null) {
                throw new WeightsException(file, "not a .pth or .safetensors file: it starts with bytes "
                        + hex(head.array(), head.position()) + " (neither a zip archive, a pickle, nor a safetensors header)");
            }
            return f;
        } catch (NoSuchFileException e) {
            throw new WeightsException(file, "no such file");
        } catch (IOException e) {
            throw new WeightsException(file, "cannot read: " + io.densenet4j.io.IoErrors.reason(e), e);
        }
    }

    /** The format of a file of {@code size} bytes starting with {@code head[0..n)}, or {@code null}. */
    static WeightsFormat of(byte[] head, int n, long size) {
        if (n >= 4 && head[0] == 'P' && head[1] == 'K' && (head[2] == 3 || head[2] == 5) && (head[3] == 4 || head[3] == 6)) {
            return PTH_ZIP;
        }
        // before the pickle test: a header length of 0x180 also starts with byte 0x80
        if (n >= 9 && head[8] == '{') {
            long len = ByteBuffer.wrap(head, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            if (len >= 2 && len <= size - 8) return SAFETENSORS;
        }
        // PROTO 2..5; torch writes protocol 2, i.e. 0x80 0x02 0x8a 0x0a (LONG1, 10 bytes: the magic number)
        if (n >= 2 && (head[0] & 0xff) == 0x80 && head[1] >= 2 && head[1] <= 5) return PTH_LEGACY;
        return null;
    }

    static String hex(byte[] b, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(n, 8); i++) sb.append(i > 0 ? " " : "").append(String.format("%02x", b[i] & 0xff));
        return sb.toString();
    }
}
