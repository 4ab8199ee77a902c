package io.densenet4j.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * CIFAR-10 / CIFAR-100 in their binary distribution ({@code cifar-10-binary.tar.gz},
 * {@code cifar-100-binary.tar.gz}), held in memory as bytes (50,000 images take 154 MB).
 *
 * <p>Record format: CIFAR-10 records are 1 label byte (0..9) followed by 3072 pixel bytes;
 * CIFAR-100 records are 2 label bytes, the coarse label (0..19) then the fine label (0..99),
 * followed by 3072 pixel bytes. The pixels are three 32x32 planes R, G, B, each row-major;
 * that is already (C, H, W), so image values are the bytes in order, {@code / 255f}, in [0, 1].
 * CIFAR-100 uses the fine label (100 classes).
 *
 * <p>Files: CIFAR-10 train is {@code data_batch_1.bin .. data_batch_5.bin} (in that order),
 * test {@code test_batch.bin}; class names from {@code batches.meta.txt}. CIFAR-100 train is
 * {@code train.bin}, test {@code test.bin}; class names from {@code fine_label_names.txt}.
 * Without a names file the classes are called {@code "class i"}.
 *
 * <p>Errors ({@link IllegalArgumentException}, one line naming the file): missing or unreadable
 * file, empty file, a size that is not a multiple of the record size (3073 or 3074 bytes), a
 * label out of range, a names file without exactly 10 / 100 names.
 */
public final class CifarDataset implements Dataset {
    /** The two CIFAR variants and their record layout. */
    public enum Variant {
        /** CIFAR-10: 1 label byte, 10 classes. */
        CIFAR10(1, 10, "batches.meta.txt"),
        /** CIFAR-100: 2 label bytes (coarse, fine); the fine label is used, 100 classes. */
        CIFAR100(2, 100, "fine_label_names.txt");

        private final int labelBytes;
        private final int numClasses;
        private final String namesFile;

        Variant(int labelBytes, int numClasses, String namesFile) {
            this.labelBytes = labelBytes;
            this.numClasses = numClasses;
            this.namesFile = namesFile;
        }

        /** @return label bytes at the start of each record (1 or 2) */
        public int labelBytes() {
            return labelBytes;
        }

        /** @return bytes per record: label bytes + 3072 */
        public int recordSize() {
            return labelBytes + IMAGE_BYTES;
        }

        /** @return number of classes (10 or 100) */
        public int numClasses() {
            return numClasses;
        }

        /** @return name of the class-names file beside the batches */
        public String namesFile() {
            return namesFile;
        }

        /**
         * @param train true for the training files, false for the test file
         * @return the batch file names of the split, in reading order
         */
        public List<String> files(boolean train) {
            if (this == CIFAR100) {
                return List.of(train ? "train.bin" : "test.bin");
            }
            return train ? List.of("data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                    "data_batch_5.bin") : List.of("test_batch.bin");
        }
    }

    /** Image side: 32. */
    public static final int SIDE = 32;
    /** Pixel bytes per record: 3 * 32 * 32 = 3072. */
    public static final int IMAGE_BYTES = 3 * SIDE * SIDE;

    private final Variant variant;
    private final byte[] pixels;
    private final byte[] labels;
    private final byte[] coarse;
    private final List<String> classNames;

    /**
     * Reads the given batch files, in order, as one dataset.
     *
     * @param variant    record layout
     * @param files      binary batch files, concatenated in this order
     * @param classNames one name per class ({@code variant.numClasses()} of them), or {@code null}
     *                   for {@code "class i"}
     * @throws IllegalArgumentException if a file is missing or malformed (see the class comment)
     */
    public CifarDataset(Variant variant, List<Path> files, List<String> classNames) {
        this.variant = Objects.requireNonNull(variant, "variant");
        Objects.requireNonNull(files, "files");
        if (classNames != null && classNames.size() != variant.numClasses()) {
            throw new IllegalArgumentException(variant + " has " + variant.numClasses() + " classes, got "
                    + classNames.size() + " class names");
        }
        int rec = variant.recordSize();
        List<byte[]> contents = new ArrayList<>();
        long total = 0;
        for (Path f : files) {
            byte[] b = DataFiles.readAll(f);
            if (b.length == 0 || b.length % rec != 0) {
                throw new IllegalArgumentException(f + ": not a " + (variant == Variant.CIFAR10 ? "CIFAR-10" : "CIFAR-100")
                        + " binary batch: size " + b.length + " bytes is " + (b.length == 0 ? "empty" : "not a multiple")
                        + " of the " + rec + "-byte record (" + variant.labelBytes() + " label byte"
                        + (variant.labelBytes() > 1 ? "s" : "") + " + 3072 pixel bytes)");
            }
            contents.add(b);
            total += b.length / rec;
        }
        if (total * IMAGE_BYTES > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("CIFAR files too large to hold in one array: " + total + " images");
        }
        int n = (int) total;
        this.pixels = new byte[n * IMAGE_BYTES];
        this.labels = new byte[n];
        this.coarse = variant == Variant.CIFAR100 ? new byte[n] : null;
        int at = 0;
        for (int fi = 0; fi < contents.size(); fi++) {
            byte[] b = contents.get(fi);
            int records = b.length / rec;
            for (int r = 0; r < records; r++, at++) {
                int base = r * rec;
                int label = b[base + variant.labelBytes() - 1] & 0xff;
                if (label >= variant.numClasses()) {
                    throw new IllegalArgumentException(files.get(fi) + ": record " + r + " has label " + label
                            + ", out of range for " + variant.numClasses() + " classes (is this the right CIFAR variant?)");
                }
                labels[at] = (byte) label;
                if (coarse != null) {
                    int c = b[base] & 0xff;
                    if (c >= 20) {
                        throw new IllegalArgumentException(files.get(fi) + ": record " + r + " has coarse label " + c
                                + ", out of range for 20 superclasses");
                    }
                    coarse[at] = (byte) c;
                }
                System.arraycopy(b, base + variant.labelBytes(), pixels, at * IMAGE_BYTES, IMAGE_BYTES);
            }
        }
        this.classNames = classNames != null ? List.copyOf(classNames) : DataFiles.defaultNames(variant.numClasses());
    }

    /**
     * Reads the train or test split from a folder holding the extracted binary files
     * ({@code cifar-10-batches-bin/} or {@code cifar-100-binary/}); class names come from the
     * names file when it is there.
     *
     * @param variant CIFAR-10 or CIFAR-100
     * @param dir     the folder with the {@code .bin} files
     * @param train   training files (true) or the test file (false)
     * @return the dataset
     * @throws IllegalArgumentException if a file is missing (naming it) or malformed
     */
    public static CifarDataset read(Variant variant, Path dir, boolean train) {
        Objects.requireNonNull(dir, "dir");
        List<Path> files = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        for (String name : variant.files(train)) {
            Path p = dir.resolve(name);
            files.add(p);
            if (!Files.isRegularFile(p)) {
                missing.add(name);
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException((variant == Variant.CIFAR10 ? "CIFAR-10" : "CIFAR-100") + " files missing in "
                    + dir + ": " + String.join(", ", missing));
        }
        Path names = dir.resolve(variant.namesFile());
        List<String> classNames = Files.isRegularFile(names) ? DataFiles.readNames(names, variant.numClasses()) : null;
        return new CifarDataset(variant, files, classNames);
    }

    /** @return the variant (record layout, class count) */
    public Variant variant() {
        return variant;
    }

    /**
     * @param index sample index
     * @return the CIFAR-100 coarse label (superclass, 0..19)
     * @throws IllegalStateException for CIFAR-10, which has none
     */
    public int coarseLabel(int index) {
        if (coarse == null) {
            throw new IllegalStateException("CIFAR-10 has no coarse labels");
        }
        Objects.checkIndex(index, labels.length);
        return coarse[index] & 0xff;
    }

    @Override
    public int size() {
        return labels.length;
    }

    @Override
    public int channels() {
        return 3;
    }

    @Override
    public int height() {
        return SIDE;
    }

    @Override
    public int width() {
        return SIDE;
    }

    @Override
    public int numClasses() {
        return variant.numClasses();
    }

    @Override
    public List<String> classNames() {
        return classNames;
    }

    @Override
    public void image(int index, float[] dst, int offset) {
        Objects.checkIndex(index, labels.length);
        DataFiles.checkDst(dst, offset, IMAGE_BYTES);
        DataFiles.bytesToUnit(pixels, index * IMAGE_BYTES, dst, offset, IMAGE_BYTES);
    }

    @Override
    public int label(int index) {
        Objects.checkIndex(index, labels.length);
        return labels[index] & 0xff;
    }

    @Override
    public String toString() {
        return "CifarDataset[" + variant + ", N=" + labels.length + "]";
    }
}
