package io.densenet4j.data;

import java.util.List;

/**
 * A labelled image classification dataset: {@link #size()} samples, each one image of fixed
 * shape (C, H, W) and one class label.
 *
 * <p>Layout and values: {@link #image(int, float[], int)} writes one image as float32 in
 * (C, H, W) order, C-major: sample {@code (c, y, x)} goes to
 * {@code dst[offset + (c * H + y) * W + x]}. Images read from 8-bit sources (IDX, CIFAR, PNG/JPEG)
 * are {@code pixel / 255f} in [0, 1], exactly as torchvision's {@code ToTensor()} gives them;
 * tensor files ({@link TensorFileDataset}) give their stored float values unchanged. Nothing
 * is normalised here: see {@link Normalization} and {@link Augmentation}.
 *
 * <p>Labels are class indices in {@code [0, numClasses())}. All images of a dataset have the
 * same shape.
 *
 * <p>Thread safety: every implementation in this package is immutable after construction and
 * may be read from several threads at once ({@link BatchLoader} reads from a background
 * thread). Implementations written elsewhere must allow concurrent reads too.
 */
public interface Dataset {
    /** @return number of samples N, at least 0 */
    int size();

    /** @return channels C of every image (1 for gray, 3 for RGB) */
    int channels();

    /** @return rows H of every image */
    int height();

    /** @return columns W of every image */
    int width();

    /** @return number of classes; every label is in {@code [0, numClasses())} */
    int numClasses();

    /**
     * @return one name per class, index = label, length {@link #numClasses()}; unmodifiable
     *         ({@code "class i"} where the source has no names)
     */
    List<String> classNames();

    /**
     * Writes image {@code index} as float32 (C, H, W) into {@code dst[offset .. offset + C*H*W)}.
     *
     * @param index  sample index, {@code 0 <= index < size()}
     * @param dst    destination array
     * @param offset first element written
     * @throws IndexOutOfBoundsException if {@code index} is out of range or {@code dst} is too short
     */
    void image(int index, float[] dst, int offset);

    /**
     * @param index sample index, {@code 0 <= index < size()}
     * @return the class label of sample {@code index}, in {@code [0, numClasses())}
     * @throws IndexOutOfBoundsException if {@code index} is out of range
     */
    int label(int index);

    /** @return elements of one image, {@code C * H * W} */
    default int imageLength() {
        return channels() * height() * width();
    }

    /**
     * @param index sample index
     * @return image {@code index} in a new (C, H, W) float32 array
     */
    default float[] image(int index) {
        float[] out = new float[imageLength()];
        image(index, out, 0);
        return out;
    }
}
