package io.densenet4j.data;

import java.util.List;
import java.util.Objects;

/**
 * A dataset over arrays already in memory: images (N, C, H, W) float32 and labels (N).
 * Values are used as they are. The arrays are kept, not copied; do not change them while
 * the dataset is in use.
 */
public class ArrayDataset implements Dataset {
    private final float[] images;
    private final int[] labels;
    private final int channels;
    private final int height;
    private final int width;
    private final List<String> classNames;

    /**
     * @param images     (N, C, H, W) float32, length {@code labels.length * C * H * W}
     * @param labels     one label per image, each in {@code [0, numClasses)}
     * @param channels   C, at least 1
     * @param height     H, at least 1
     * @param width      W, at least 1
     * @param numClasses number of classes, at least 1; classes are named {@code "class i"}
     * @throws IllegalArgumentException if the sizes do not fit or a label is out of range
     */
    public ArrayDataset(float[] images, int[] labels, int channels, int height, int width, int numClasses) {
        this(images, labels, channels, height, width, DataFiles.defaultNames(checkClasses(numClasses)));
    }

    /**
     * @param images     (N, C, H, W) float32, length {@code labels.length * C * H * W}
     * @param labels     one label per image, each in {@code [0, classNames.size())}
     * @param channels   C, at least 1
     * @param height     H, at least 1
     * @param width      W, at least 1
     * @param classNames one name per class, at least one
     * @throws IllegalArgumentException if the sizes do not fit or a label is out of range
     */
    public ArrayDataset(float[] images, int[] labels, int channels, int height, int width, List<String> classNames) {
        this.images = Objects.requireNonNull(images, "images");
        this.labels = Objects.requireNonNull(labels, "labels");
        this.classNames = List.copyOf(classNames);
        checkClasses(this.classNames.size());
        if (channels < 1 || height < 1 || width < 1) {
            throw new IllegalArgumentException("image sizes must be positive, got C=" + channels + " H=" + height
                    + " W=" + width);
        }
        if ((long) labels.length * channels * height * width != images.length) {
            throw new IllegalArgumentException("images has " + images.length + " values, expected N*C*H*W = "
                    + labels.length + "*" + channels + "*" + height + "*" + width);
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= this.classNames.size()) {
                throw new IllegalArgumentException("label " + labels[i] + " of sample " + i + " is out of range for "
                        + this.classNames.size() + " classes");
            }
        }
        this.channels = channels;
        this.height = height;
        this.width = width;
    }

    private static int checkClasses(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("number of classes must be positive, got " + n);
        }
        return n;
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
        System.arraycopy(images, index * len, dst, offset, len);
    }

    @Override
    public int label(int index) {
        Objects.checkIndex(index, labels.length);
        return labels[index];
    }
}
