package io.densenet4j.data;

import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/** Internal helpers shared by the readers: whole-file reads, gzip detection, names, checks. */
final class DataFiles {
    /** {@code i / 255f} for every byte value, what torchvision's ToTensor computes. */
    private static final float[] BYTE_TO_UNIT = new float[256];

    static {
        for (int i = 0; i < 256; i++) {
            BYTE_TO_UNIT[i] = i / 255f;
        }
    }

    private DataFiles() {
    }

    /** {@code dst[dstPos + i] = (src[srcPos + i] & 0xff) / 255f} for {@code i < len} (torchvision's ToTensor). */
    static void bytesToUnit(byte[] src, int srcPos, float[] dst, int dstPos, int len) {
        for (int i = 0; i < len; i++) {
            dst[dstPos + i] = BYTE_TO_UNIT[src[srcPos + i] & 0xff];
        }
    }

    /**
     * Reads a whole file; if it starts with the gzip magic {@code 1f 8b} it is decompressed.
     *
     * @throws IllegalArgumentException naming the file if it is missing, unreadable, a truncated
     *                                  or corrupt gzip stream, or larger than 2 GiB
     */
    static byte[] readMaybeGzip(Path file) {
        byte[] raw = readAll(file);
        if (raw.length >= 2 && (raw[0] & 0xff) == 0x1f && (raw[1] & 0xff) == 0x8b) {
            try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(raw), 1 << 16)) {
                return in.readAllBytes();
            } catch (EOFException e) {
                throw new IllegalArgumentException(file + ": truncated gzip data (the file ends before the"
                        + " compressed stream does)", e);
            } catch (ZipException e) {
                throw new IllegalArgumentException(file + ": corrupt gzip data: " + e.getMessage(), e);
            } catch (OutOfMemoryError e) {
                throw new IllegalArgumentException(file + ": decompressed data too large to hold in memory", e);
            } catch (IOException e) {
                throw new IllegalArgumentException(file + ": cannot decompress: " + io.densenet4j.io.IoErrors.reason(e), e);
            }
        }
        return raw;
    }

    /** Reads a whole file, with one-line {@link IllegalArgumentException}s naming it. */
    static byte[] readAll(Path file) {
        try {
            if (Files.isDirectory(file)) {
                throw new IllegalArgumentException(file + ": is a directory, expected a file");
            }
            long size = Files.size(file);
            if (size > Integer.MAX_VALUE - 16) {
                throw new IllegalArgumentException(file + ": file too large (" + size + " bytes, at most 2 GiB)");
            }
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(file + ": file not found", e);
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read: " + io.densenet4j.io.IoErrors.reason(e), e);
        }
    }

    /** @return {@code "class 0" .. "class n-1"}, unmodifiable */
    static List<String> defaultNames(int n) {
        List<String> names = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            names.add("class " + i);
        }
        return Collections.unmodifiableList(names);
    }

    /**
     * Reads a text file of class names, one per line; blank lines (e.g. a trailing one) are
     * skipped, surrounding white space is trimmed.
     *
     * @throws IllegalArgumentException naming the file if it cannot be read or does not hold
     *                                  exactly {@code expected} names
     */
    static List<String> readNames(Path file, int expected) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read class names: " + io.densenet4j.io.IoErrors.reason(e), e);
        }
        List<String> names = new ArrayList<>();
        for (String l : lines) {
            String t = l.strip();
            if (!t.isEmpty()) {
                names.add(t);
            }
        }
        if (names.size() != expected) {
            throw new IllegalArgumentException(file + ": expected " + expected + " class names (one per line), found "
                    + names.size());
        }
        return Collections.unmodifiableList(names);
    }

    /** Checks that {@code dst} has room for {@code len} elements at {@code offset}. */
    static void checkDst(float[] dst, int offset, int len) {
        java.util.Objects.checkFromIndexSize(offset, len, dst.length);
    }
}
