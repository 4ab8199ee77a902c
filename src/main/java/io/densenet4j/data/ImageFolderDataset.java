package io.densenet4j.data;

import io.densenet4j.image.ColorMode;
import io.densenet4j.image.Image;
import io.densenet4j.image.ImageDecoder;
import io.densenet4j.image.ImageTransform;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.stream.IntStream;
import java.util.stream.Stream;

/**
 * A folder of images with one sub-folder per class, as torchvision's {@code ImageFolder}:
 * <pre>
 *   DIR/cat/001.png
 *   DIR/cat/002.jpg
 *   DIR/dog/a/xyz.jpeg
 * </pre>
 * Class folders sorted by name give the class indices (0, 1, ...) and the class names. Within
 * a class, images are found recursively (following sub-folders) and ordered as torchvision
 * orders them: folders by path, files by name. Files ending in {@code .png}, {@code .jpg} or
 * {@code .jpeg} (any case) count as images; other files are ignored. Names are sorted by
 * {@link String#compareTo}. Hidden entries (names starting with {@code .}, e.g.
 * {@code .ipynb_checkpoints}) are skipped, unlike torchvision.
 *
 * <p>Every image is decoded eagerly (in parallel) by {@link ImageDecoder#read(Path, ColorMode)}
 * into {@code mode}'s channels (RGB: 3, GRAY: 1). With a target size {@code s > 0} each is
 * resized (shorter side to {@code s}, Pillow-exact antialiased bilinear) and centre-cropped to
 * {@code s x s}, as {@code Resize(s), CenterCrop(s)}. Without one (0), all images must already
 * have the same size. Values are {@code pixel / 255f}, in [0, 1]. Held in memory as bytes when
 * the samples are 8-bit integers (the usual case), else as floats; suited to small and medium
 * folders.
 *
 * <p>Errors ({@link IllegalArgumentException}, one line): the folder is missing or has no
 * class folders, a class folder has no images, an image cannot be decoded (naming the file),
 * or (without a target size) an image whose size differs from the first one's (naming both).
 */
public final class ImageFolderDataset implements Dataset {
    private final Path root;
    private final List<String> classNames;
    private final List<Path> files;
    private final int[] labels;
    private final int channels;
    private final int height;
    private final int width;
    private final Object[] samples; // byte[] (0..255) or float[] (0..255)
    private final List<String> skipped;

    /**
     * RGB images, all of the same size.
     *
     * @param root the folder holding one sub-folder per class
     * @throws IllegalArgumentException see the class comment
     */
    public ImageFolderDataset(Path root) {
        this(root, ColorMode.RGB, 0);
    }

    /**
     * @param root       the folder holding one sub-folder per class
     * @param mode       {@link ColorMode#RGB} (3 channels) or {@link ColorMode#GRAY} (1 channel)
     * @param targetSize side of the square images after resize + centre crop; 0 keeps the
     *                   images as they are (they must then all have the same size)
     * @throws IllegalArgumentException see the class comment, or if {@code targetSize < 0}
     */
    public ImageFolderDataset(Path root, ColorMode mode, int targetSize) {
        this(root, mode, targetSize, false);
    }

    /**
     * @param skipBad leave out the files that cannot be read or decoded (each listed by {@link #skipped()})
     *                instead of refusing the folder at the first one
     * @throws IllegalArgumentException as {@link #ImageFolderDataset(Path, ColorMode, int)}; with
     *                                  {@code skipBad}, also when no image at all could be read
     */
    public ImageFolderDataset(Path root, ColorMode mode, int targetSize, boolean skipBad) {
        this.root = Objects.requireNonNull(root, "root");
        Objects.requireNonNull(mode, "mode");
        if (targetSize < 0) {
            throw new IllegalArgumentException("target size must be >= 0, got " + targetSize);
        }
        if (!Files.isDirectory(root)) {
            throw new IllegalArgumentException("image folder not found: " + root);
        }
        List<Path> classDirs = sortedChildren(root, true);
        if (classDirs.isEmpty()) {
            throw new IllegalArgumentException(root + ": no class sub-folders (expected " + root
                    + "/<class>/<image>.png|jpg|jpeg)");
        }
        List<String> names = new ArrayList<>();
        List<Path> found = new ArrayList<>();
        List<Integer> labs = new ArrayList<>();
        for (int c = 0; c < classDirs.size(); c++) {
            Path dir = classDirs.get(c);
            names.add(dir.getFileName().toString());
            List<Path> imgs = new ArrayList<>();
            collect(dir, imgs);
            if (imgs.isEmpty()) {
                throw new IllegalArgumentException(dir + ": class folder has no .png/.jpg/.jpeg images");
            }
            for (Path p : imgs) {
                found.add(p);
                labs.add(c);
            }
        }
        this.classNames = Collections.unmodifiableList(names);
        this.channels = mode.channels();
        ImageTransform transform = targetSize > 0
                ? ImageTransform.builder().resize(targetSize).crop(targetSize).build() : null;
        int n = found.size();
        Object[] data = new Object[n];
        int[][] dims = new int[n][];
        RuntimeException[] errors = new RuntimeException[n];
        IntStream.range(0, n).parallel().forEach(i -> {
            try {
                Image im = ImageDecoder.read(found.get(i), mode);
                if (transform != null) {
                    im = transform.resizeAndCrop(im);
                }
                dims[i] = new int[] {im.channels(), im.height(), im.width()};
                data[i] = im.isUint8() ? toBytes(im.data()) : im.data();
            } catch (RuntimeException e) {
                errors[i] = e;
            }
        });
        List<String> bad = new ArrayList<>();
        List<Path> keptFiles = new ArrayList<>();
        List<Integer> keptLabels = new ArrayList<>();
        List<Object> keptData = new ArrayList<>();
        List<int[]> keptDims = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            if (errors[i] != null) {
                if (!skipBad) throw errors[i]; // the first failing file in dataset order, whatever the thread timing
                bad.add(errors[i].getMessage());
                continue;
            }
            keptFiles.add(found.get(i));
            keptLabels.add(labs.get(i));
            keptData.add(data[i]);
            keptDims.add(dims[i]);
        }
        if (keptFiles.isEmpty()) throw new IllegalArgumentException(root + ": none of its " + n + " images could be read (first: " + bad.get(0) + ")");
        this.skipped = Collections.unmodifiableList(bad);
        List<Path> kept = keptFiles;
        int[][] keptDim = keptDims.toArray(new int[0][]);
        this.files = Collections.unmodifiableList(kept);
        this.labels = keptLabels.stream().mapToInt(Integer::intValue).toArray();
        this.height = keptDim[0][1];
        this.width = keptDim[0][2];
        for (int i = 0; i < kept.size(); i++) {
            if (keptDim[i][0] != channels || keptDim[i][1] != height || keptDim[i][2] != width) {
                throw new IllegalArgumentException(kept.get(i) + ": image is " + keptDim[i][2] + "x" + keptDim[i][1]
                        + " but " + kept.get(0) + " is " + width + "x" + height
                        + "; all images must have the same size (resize them to one size first)");
            }
        }
        this.samples = keptData.toArray();
    }

    private static byte[] toBytes(float[] v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = (byte) (int) v[i];
        }
        return b;
    }

    private static boolean hidden(Path p) {
        return p.getFileName().toString().startsWith(".");
    }

    private static boolean isImage(Path p) {
        String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
        return n.endsWith(".png") || n.endsWith(".jpg") || n.endsWith(".jpeg");
    }

    private static List<Path> sortedChildren(Path dir, boolean dirs) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> !hidden(p))
                    .filter(p -> dirs ? Files.isDirectory(p) : Files.isRegularFile(p))
                    .sorted((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()))
                    .toList();
        } catch (IOException e) {
            throw new IllegalArgumentException(dir + ": cannot list folder: " + io.densenet4j.io.IoErrors.reason(e), e);
        }
    }

    /** Collects images as torchvision does: sorted(os.walk(dir)), then sorted file names per folder. */
    private static void collect(Path classDir, List<Path> out) {
        List<Path> dirs = new ArrayList<>();
        walkDirs(classDir, dirs, 0);
        dirs.sort((a, b) -> a.toString().compareTo(b.toString()));
        for (Path d : dirs) {
            for (Path f : sortedChildren(d, false)) {
                if (isImage(f)) {
                    out.add(f);
                }
            }
        }
    }

    private static void walkDirs(Path dir, List<Path> out, int depth) {
        if (depth > 64) {
            throw new IllegalArgumentException(dir + ": folders nested too deeply (a symbolic link loop?)");
        }
        out.add(dir);
        for (Path d : sortedChildren(dir, true)) {
            walkDirs(d, out, depth + 1);
        }
    }

    /** @return the folder this dataset was read from */
    public Path root() {
        return root;
    }

    /**
     * @param index sample index
     * @return the image file of sample {@code index}
     */
    public Path file(int index) {
        return files.get(index);
    }

    /** With {@code skipBad}: one message per file left out (naming it, saying why); else empty. */
    public List<String> skipped() {
        return skipped;
    }

    @Override
    public int size() {
        return labels.length;
    }

    @Override
    public int channels() {
        return channels;
    }

    @Override
    public int height() {
        return height;
    }

    @Override
    public int width() {
        return width;
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
        Objects.checkIndex(index, labels.length);
        int len = channels * height * width;
        DataFiles.checkDst(dst, offset, len);
        Object s = samples[index];
        if (s instanceof byte[] b) {
            DataFiles.bytesToUnit(b, 0, dst, offset, len);
        } else {
            float[] f = (float[]) s;
            for (int i = 0; i < len; i++) {
                dst[offset + i] = f[i] / 255f;
            }
        }
    }

    @Override
    public int label(int index) {
        Objects.checkIndex(index, labels.length);
        return labels[index];
    }

    @Override
    public String toString() {
        return "ImageFolderDataset[" + root + ", N=" + labels.length + ", " + channels + "x" + height + "x" + width
                + ", classes=" + classNames.size() + "]";
    }
}
