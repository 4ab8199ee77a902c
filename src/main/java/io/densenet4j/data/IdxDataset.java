package io.densenet4j.data;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * An image dataset in the IDX format of MNIST and Fashion-MNIST (one file of images, one of
 * labels), held in memory as bytes (60,000 28x28 images take 47 MB).
 *
 * <p>Format (all header integers big-endian, 32-bit):
 * <ul>
 *   <li>images: magic {@code 0x00000803} (unsigned byte data, 3 dimensions), N, rows, cols,
 *       then N*rows*cols pixel bytes, row-major;</li>
 *   <li>labels: magic {@code 0x00000801} (unsigned byte data, 1 dimension), N, then N label bytes.</li>
 * </ul>
 * Either file may be gzip-compressed ({@code .gz}); compression is detected from the content
 * (the gzip magic {@code 1f 8b}), not the file name.
 *
 * <p>Images are 1 channel, (1, rows, cols), values {@code pixel / 255f} in [0, 1].
 *
 * <p>Errors: a missing or unreadable file, truncated or corrupt gzip data, a wrong magic
 * number, a header whose sizes do not match the data that follows (truncated or trailing
 * bytes), image and label counts that differ, or a label {@code >= numClasses}: all raise
 * {@link IllegalArgumentException} with a one-line message naming the file.
 */
public final class IdxDataset implements Dataset {
    /** Magic number of an IDX image file (unsigned bytes, 3 dimensions). */
    public static final int IMAGES_MAGIC = 0x00000803;
    /** Magic number of an IDX label file (unsigned bytes, 1 dimension). */
    public static final int LABELS_MAGIC = 0x00000801;

    private final byte[] pixels;
    private final byte[] labels;
    private final int count;
    private final int rows;
    private final int cols;
    private final List<String> classNames;

    /**
     * Reads an IDX image file and its label file.
     *
     * @param imagesFile IDX images ({@code *-images-idx3-ubyte}, plain or gzip)
     * @param labelsFile IDX labels ({@code *-labels-idx1-ubyte}, plain or gzip)
     * @param classNames one name per class (its size is the class count); {@code null} for
     *                   {@code max(label) + 1} classes named {@code "class i"}
     * @throws IllegalArgumentException if a file is missing or malformed (see the class comment)
     */
    public IdxDataset(Path imagesFile, Path labelsFile, List<String> classNames) {
        Objects.requireNonNull(imagesFile, "imagesFile");
        Objects.requireNonNull(labelsFile, "labelsFile");
        byte[] img = DataFiles.readMaybeGzip(imagesFile);
        int magic = header(img, 0, 16, imagesFile);
        if (magic != IMAGES_MAGIC) {
            throw new IllegalArgumentException(imagesFile + ": not an IDX image file: magic number 0x"
                    + String.format("%08x", magic) + ", expected 0x00000803"
                    + (magic == LABELS_MAGIC ? " (this is a label file)" : ""));
        }
        int n = header(img, 4, 16, imagesFile);
        int r = header(img, 8, 16, imagesFile);
        int c = header(img, 12, 16, imagesFile);
        if (n < 0 || r < 1 || c < 1) {
            throw new IllegalArgumentException(imagesFile + ": bad IDX sizes N=" + Integer.toUnsignedString(n)
                    + " rows=" + Integer.toUnsignedString(r) + " cols=" + Integer.toUnsignedString(c));
        }
        long expected = (long) n * r * c;
        long actual = img.length - 16L;
        if (actual != expected) {
            throw new IllegalArgumentException(imagesFile + ": " + (actual < expected ? "truncated" : "trailing data")
                    + ": header says " + n + " images of " + r + "x" + c + " = " + expected + " bytes, the file has "
                    + actual + " data bytes");
        }
        byte[] lab = DataFiles.readMaybeGzip(labelsFile);
        int lmagic = header(lab, 0, 8, labelsFile);
        if (lmagic != LABELS_MAGIC) {
            throw new IllegalArgumentException(labelsFile + ": not an IDX label file: magic number 0x"
                    + String.format("%08x", lmagic) + ", expected 0x00000801"
                    + (lmagic == IMAGES_MAGIC ? " (this is an image file)" : ""));
        }
        int ln = header(lab, 4, 8, labelsFile);
        if (ln < 0 || lab.length - 8L != ln) {
            throw new IllegalArgumentException(labelsFile + ": " + (lab.length - 8L < Integer.toUnsignedLong(ln)
                    ? "truncated" : "trailing data") + ": header says " + Integer.toUnsignedString(ln)
                    + " labels, the file has " + (lab.length - 8L) + " data bytes");
        }
        if (ln != n) {
            throw new IllegalArgumentException(labelsFile + ": has " + ln + " labels but " + imagesFile + " has "
                    + n + " images");
        }
        int max = -1;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, lab[8 + i] & 0xff);
        }
        if (classNames != null) {
            if (max >= classNames.size()) {
                int at = 0;
                while ((lab[8 + at] & 0xff) < classNames.size()) {
                    at++;
                }
                throw new IllegalArgumentException(labelsFile + ": label " + (lab[8 + at] & 0xff) + " of sample " + at
                        + " is out of range for " + classNames.size() + " classes");
            }
            this.classNames = List.copyOf(classNames);
        } else {
            this.classNames = DataFiles.defaultNames(max + 1);
        }
        this.pixels = img;
        this.labels = lab;
        this.count = n;
        this.rows = r;
        this.cols = c;
    }

    private static int header(byte[] b, int at, int headerSize, Path file) {
        if (b.length < headerSize) {
            throw new IllegalArgumentException(file + ": truncated: " + b.length + " bytes, shorter than the "
                    + headerSize + "-byte IDX header");
        }
        return ((b[at] & 0xff) << 24) | ((b[at + 1] & 0xff) << 16) | ((b[at + 2] & 0xff) << 8) | (b[at + 3] & 0xff);
    }

    @Override
    public int size() {
        return count;
    }

    @Override
    public int channels() {
        return 1;
    }

    @Override
    public int height() {
        return rows;
    }

    @Override
    public int width() {
        return cols;
    }

    @Override
    public int numClasses() {
        return classNames.size();
    }

    @Override
    public List<String> classNames() {
        return classNames;
    }

    @Override
    public void image(int index, float[] dst, int offset) {
        Objects.checkIndex(index, count);
        int len = rows * cols;
        DataFiles.checkDst(dst, offset, len);
        DataFiles.bytesToUnit(pixels, 16 + index * len, dst, offset, len);
    }

    @Override
    public int label(int index) {
        Objects.checkIndex(index, count);
        return labels[8 + index] & 0xff;
    }

    /**
     * @param index sample index
     * @param pixel pixel index in row-major order, {@code 0 <= pixel < rows * cols}
     * @return the raw stored byte, 0..255
     */
    public int rawPixel(int index, int pixel) {
        Objects.checkIndex(index, count);
        Objects.checkIndex(pixel, rows * cols);
        return pixels[16 + index * rows * cols + pixel] & 0xff;
    }

    @Override
    public String toString() {
        return "IdxDataset[N=" + count + ", 1x" + rows + "x" + cols + ", classes=" + classNames.size() + "]";
    }
}
