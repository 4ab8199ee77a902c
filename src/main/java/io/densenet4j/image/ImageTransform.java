package io.densenet4j.image;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * torchvision's standard evaluation transform,
 * {@code Compose([Resize(resize), CenterCrop(crop), ToTensor(), Normalize(mean, std)])}
 * applied to a PIL image, reproduced on {@link Image}s.
 *
 * <ol>
 *   <li>{@code Resize(resize)}: the shorter side becomes {@code resize}, the longer
 *       {@code int(resize * long / short)} (truncated, as torchvision computes it), with
 *       Pillow's antialiased bilinear filter ({@link PillowBilinear}). Equal sizes are left alone.
 *       With {@link ResamplePrecision#AUTO} an 8-bit image is resampled bit-exactly as Pillow does
 *       on "RGB"/"L" images (rounded to integers after each pass).</li>
 *   <li>{@code CenterCrop(crop)} ({@link CenterCrop}).</li>
 *   <li>{@code ToTensor()}: divide by 255, in float32.</li>
 *   <li>{@code Normalize(mean, std)}: {@code (x - mean[c]) / std[c]}, in float32.</li>
 * </ol>
 *
 * <p>Output of {@link #apply(Image)}: float32 (C, crop, crop), C-major, ready for one image of an
 * NCHW batch; {@link #stack(List)} stacks several into (N, C, H, W). Immutable and thread-safe.
 */
public final class ImageTransform {
    /** ImageNet channel means (R, G, B), torchvision's defaults. */
    /** Largest resize or crop side accepted, in pixels. */
    public static final int MAX_SIDE = 8192;

    public static final float[] IMAGENET_MEAN = {0.485f, 0.456f, 0.406f};
    /** ImageNet channel standard deviations (R, G, B), torchvision's defaults. */
    public static final float[] IMAGENET_STD = {0.229f, 0.224f, 0.225f};

    private final int resizeSize;
    private final int cropSize;
    private final float[] mean;
    private final float[] std;
    private final ResamplePrecision precision;

    private ImageTransform(Builder b) {
        this.resizeSize = b.resizeSize;
        this.cropSize = b.cropSize;
        this.mean = b.mean.clone();
        this.std = b.std.clone();
        this.precision = b.precision;
    }

    /** @return the ImageNet eval transform: Resize(256), CenterCrop(224), ImageNet mean/std */
    public static ImageTransform imagenet() {
        return builder().build();
    }

    /** @return a builder starting from the ImageNet defaults (256, 224, ImageNet mean/std, AUTO) */
    public static Builder builder() {
        return new Builder();
    }

    /** @return target of the shorter side in Resize; 0 means no resizing */
    public int resizeSize() {
        return resizeSize;
    }

    /** @return side of the square center crop */
    public int cropSize() {
        return cropSize;
    }

    /** @return per-channel means (copy), in the 0..1 scale after ToTensor */
    public float[] mean() {
        return mean.clone();
    }

    /** @return per-channel standard deviations (copy), in the 0..1 scale after ToTensor */
    public float[] std() {
        return std.clone();
    }

    /** @return the resampling precision used by the resize step */
    public ResamplePrecision precision() {
        return precision;
    }

    /**
     * Computes torchvision's {@code Resize(size)} output size for an int size: shorter side to
     * {@code size}, longer side {@code int(size * long / short)}.
     *
     * @param height source height
     * @param width  source width
     * @param size   target of the shorter side
     * @return {@code {newHeight, newWidth}}
     */
    public static int[] resizedSize(int height, int width, int size) {
        int shortSide = Math.min(width, height);
        int longSide = Math.max(width, height);
        int newLong = (int) ((double) ((long) size * longSide) / shortSide);
        return width <= height ? new int[] {newLong, size} : new int[] {size, newLong};
    }

    /**
     * Resizes (shorter side to {@link #resizeSize()}) and center-crops, without ToTensor/Normalize.
     *
     * @param image an image, (C, H, W), values 0..255
     * @return the cropped image, (C, crop, crop), values 0..255
     */
    public Image resizeAndCrop(Image image) {
        Objects.requireNonNull(image, "image");
        Image r = image;
        if (resizeSize > 0) {
            int[] hw = resizedSize(image.height(), image.width(), resizeSize);
            if ((long) hw[0] * hw[1] * image.channels() > (1L << 28)) {
                throw new IllegalArgumentException("resizing a " + image.width() + "x" + image.height() + " image to shorter side " + resizeSize
                        + " gives " + hw[1] + "x" + hw[0] + " pixels, too many");
            }
            if (hw[0] != image.height() || hw[1] != image.width()) {
                if (cropSize <= hw[0] && cropSize <= hw[1]) {
                    // the crop fits: only its pixels are resampled (the same values as resizing the
                    // whole image, then cropping)
                    return PillowBilinear.resizeWindow(image, hw[1], hw[0], CenterCrop.offset(hw[0], cropSize),
                            CenterCrop.offset(hw[1], cropSize), cropSize, cropSize, precision);
                }
                r = PillowBilinear.resize(image, hw[1], hw[0], precision);
            }
        }
        return CenterCrop.apply(r, cropSize, cropSize);
    }

    /**
     * Runs the whole transform on one image.
     *
     * @param image an image, (C, H, W) float32, values 0..255; C must equal the length of mean/std
     * @return normalised float32 tensor data, layout (C, crop, crop)
     * @throws IllegalArgumentException if the channel count does not match mean/std
     */
    public float[] apply(Image image) {
        Objects.requireNonNull(image, "image");
        if (image.channels() != mean.length) {
            throw new IllegalArgumentException("image has " + image.channels() + " channels but the transform's"
                    + " mean/std have " + mean.length + " (use ColorMode.GRAY or RGB to match the model)");
        }
        Image cropped = resizeAndCrop(image);
        float[] x = cropped.data().clone();
        int plane = cropSize * cropSize;
        for (int c = 0; c < mean.length; c++) {
            float m = mean[c];
            float s = std[c];
            for (int i = c * plane; i < (c + 1) * plane; i++) {
                x[i] = (x[i] / 255f - m) / s;
            }
        }
        return x;
    }

    /**
     * Transforms several images and stacks them into one batch.
     *
     * @param images images, each (C, H, W), values 0..255; sizes may differ
     * @return float32 data, layout (N, C, crop, crop)
     */
    public float[] applyAll(List<Image> images) {
        return stack(images.stream().map(this::apply).toList());
    }

    /**
     * Concatenates equally sized per-image tensors, each (C, H, W), into one (N, C, H, W) array.
     *
     * @param tensors the per-image arrays, all of the same length
     * @return the batch, length N * C * H * W, image {@code i} at offset {@code i * C * H * W}
     * @throws IllegalArgumentException if the list is empty or the lengths differ
     */
    public static float[] stack(List<float[]> tensors) {
        Objects.requireNonNull(tensors, "tensors");
        if (tensors.isEmpty()) {
            throw new IllegalArgumentException("cannot stack an empty list of images");
        }
        int len = tensors.get(0).length;
        float[] out = new float[Math.multiplyExact(len, tensors.size())];
        for (int i = 0; i < tensors.size(); i++) {
            float[] t = tensors.get(i);
            if (t.length != len) {
                throw new IllegalArgumentException("image " + i + " has " + t.length
                        + " values, image 0 has " + len + "; all must have the same (C, H, W)");
            }
            System.arraycopy(t, 0, out, i * len, len);
        }
        return out;
    }

    @Override
    public String toString() {
        return "ImageTransform[resize=" + resizeSize + ", crop=" + cropSize + ", mean=" + Arrays.toString(mean)
                + ", std=" + Arrays.toString(std) + ", precision=" + precision + "]";
    }

    /** Builder for {@link ImageTransform}; starts from the ImageNet eval defaults. */
    public static final class Builder {
        private int resizeSize = 256;
        private int cropSize = 224;
        private float[] mean = IMAGENET_MEAN;
        private float[] std = IMAGENET_STD;
        private ResamplePrecision precision = ResamplePrecision.AUTO;

        private Builder() {
        }

        /**
         * @param size shorter side after Resize; 0 skips resizing
         * @return this builder
         */
        public Builder resize(int size) {
            if (size < 0 || size > MAX_SIDE) {
                throw new IllegalArgumentException("resize size must be in [0, " + MAX_SIDE + "], got " + size);
            }
            this.resizeSize = size;
            return this;
        }

        /**
         * @param size side of the square center crop, at least 1
         * @return this builder
         */
        public Builder crop(int size) {
            if (size < 1 || size > MAX_SIDE) {
                throw new IllegalArgumentException("crop size must be in [1, " + MAX_SIDE + "], got " + size);
            }
            this.cropSize = size;
            return this;
        }

        /**
         * @param mean per-channel means in the 0..1 scale; its length sets the channel count
         * @param std  per-channel standard deviations, same length, all non-zero
         * @return this builder
         */
        public Builder normalize(float[] mean, float[] std) {
            Objects.requireNonNull(mean, "mean");
            Objects.requireNonNull(std, "std");
            if (mean.length == 0 || mean.length != std.length) {
                throw new IllegalArgumentException("mean and std must have the same non-zero length, got "
                        + mean.length + " and " + std.length);
            }
            for (float s : std) {
                if (s == 0f || !Float.isFinite(s)) {
                    throw new IllegalArgumentException("std values must be finite and non-zero: " + Arrays.toString(std));
                }
            }
            this.mean = mean.clone();
            this.std = std.clone();
            return this;
        }

        /**
         * @param precision Pillow code path for the resize (default {@link ResamplePrecision#AUTO})
         * @return this builder
         */
        public Builder precision(ResamplePrecision precision) {
            this.precision = Objects.requireNonNull(precision, "precision");
            return this;
        }

        /** @return the transform */
        public ImageTransform build() {
            return new ImageTransform(this);
        }
    }
}
