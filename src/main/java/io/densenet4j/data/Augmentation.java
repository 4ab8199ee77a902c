package io.densenet4j.data;

import java.util.Objects;

/**
 * The standard CIFAR training augmentation, torchvision's
 * {@code RandomCrop(size, padding=p)} followed by {@code RandomHorizontalFlip(0.5)}, applied
 * to raw image values (before {@link Normalization}, as in
 * {@code Compose([RandomCrop, RandomHorizontalFlip, ToTensor, Normalize])}).
 *
 * <ul>
 *   <li>Crop: the (C, H, W) image is padded with {@code padding} zeros on every side (raw 0,
 *       i.e. black; after normalisation a padded value becomes {@code -mean[c] / std[c]}),
 *       and an H x W window is taken at a random top-left corner {@code (dy, dx)}, each
 *       uniform in {@code [0, 2 * padding]}. So output {@code (y, x)} is input
 *       {@code (y + dy - padding, x + dx - padding)}, or 0 outside the image.</li>
 *   <li>Flip: with probability 1/2 (if enabled) the cropped image is mirrored left-right:
 *       output {@code (y, x)} takes cropped {@code (y, W - 1 - x)}.</li>
 * </ul>
 *
 * <p>Determinism: the random choices of sample {@code index} in epoch {@code epoch} depend
 * only on {@code (seed, epoch, index)} ({@link #params(long, int, int)}), through a
 * SplitMix64 generator defined in this package (not {@code java.util.Random}, so the numbers
 * do not depend on the JDK). The same triple always gives the same result, whatever thread
 * computes it or in which order, so a resumed run repeats an uninterrupted one bit for bit.
 * The crop offsets are drawn even when {@code padding} is 0 and the coin even when flipping is
 * off, so each setting does not change the other's draws.
 *
 * @param padding zero padding on each side, at least 0 (0 disables the crop)
 * @param flip    whether to flip horizontally with probability 1/2
 */
public record Augmentation(int padding, boolean flip) {
    /**
     * @param padding zero padding on each side, at least 0
     * @param flip    whether to flip horizontally with probability 1/2
     * @throws IllegalArgumentException if {@code padding} is negative
     */
    public Augmentation {
        if (padding < 0) {
            throw new IllegalArgumentException("padding must be >= 0, got " + padding);
        }
    }

    /** The random choices for one sample.
     *
     * @param dy   top of the crop window in the padded image, {@code 0 .. 2*padding}
     * @param dx   left of the crop window in the padded image, {@code 0 .. 2*padding}
     * @param flip whether the crop is mirrored left-right
     */
    public record Params(int dy, int dx, boolean flip) {
    }

    /** @return random crop with padding 4 and random horizontal flip: the usual CIFAR setting */
    public static Augmentation standard() {
        return new Augmentation(4, true);
    }

    /** @return no augmentation: {@link #apply} copies the image unchanged */
    public static Augmentation none() {
        return new Augmentation(0, false);
    }

    /**
     * @param seed  the run's seed
     * @param epoch epoch number
     * @param index sample index in the dataset (not the position in the shuffled order)
     * @return the crop offsets and flip decision of this sample in this epoch
     */
    public Params params(long seed, int epoch, int index) {
        Seeds r = new Seeds(Seeds.derive(Seeds.AUGMENT, seed, epoch, index));
        int range = 2 * padding + 1;
        int dy = r.nextInt(range);
        int dx = r.nextInt(range);
        boolean f = r.nextDouble() < 0.5;
        return new Params(dy, dx, flip && f);
    }

    /**
     * Writes the augmented image for {@code (seed, epoch, index)}: the same as
     * {@code apply(src, srcOffset, dst, dstOffset, channels, height, width, params(seed, epoch, index))}.
     *
     * @param src       input image (C, H, W), raw values
     * @param srcOffset index of its first value
     * @param dst       output array (not overlapping {@code src}'s image)
     * @param dstOffset index of the first output value
     * @param channels  C
     * @param height    H
     * @param width     W
     * @param seed      the run's seed
     * @param epoch     epoch number
     * @param index     the sample's index in the dataset
     * @throws IndexOutOfBoundsException if an array is too short
     */
    public void apply(float[] src, int srcOffset, float[] dst, int dstOffset, int channels, int height, int width,
            long seed, int epoch, int index) {
        apply(src, srcOffset, dst, dstOffset, channels, height, width, params(seed, epoch, index));
    }

    /**
     * Writes the crop-and-flip of one (C, H, W) image from {@code src} to {@code dst} (which must
     * not overlap it); the output has the same shape.
     *
     * @param src       input image, raw values
     * @param srcOffset index of its first value
     * @param dst       output array
     * @param dstOffset index of the first output value
     * @param channels  C
     * @param height    H
     * @param width     W
     * @param p         the random choices, from {@link #params(long, int, int)}
     * @throws IndexOutOfBoundsException if an array is too short
     */
    public void apply(float[] src, int srcOffset, float[] dst, int dstOffset, int channels, int height, int width,
            Params p) {
        Objects.requireNonNull(p, "p");
        int len = channels * height * width;
        Objects.checkFromIndexSize(srcOffset, len, src.length);
        Objects.checkFromIndexSize(dstOffset, len, dst.length);
        int oy = p.dy() - padding;
        int ox = p.dx() - padding;
        boolean mirror = p.flip();
        for (int c = 0; c < channels; c++) {
            int sp = srcOffset + c * height * width;
            int dp = dstOffset + c * height * width;
            for (int y = 0; y < height; y++) {
                int sy = y + oy;
                int drow = dp + y * width;
                if (sy < 0 || sy >= height) {
                    java.util.Arrays.fill(dst, drow, drow + width, 0f);
                    continue;
                }
                int srow = sp + sy * width;
                for (int x = 0; x < width; x++) {
                    int sx = (mirror ? width - 1 - x : x) + ox;
                    dst[drow + x] = sx >= 0 && sx < width ? src[srow + sx] : 0f;
                }
            }
        }
    }
}
