package io.densenet4j.image;

import java.util.Objects;

/**
 * torchvision's {@code CenterCrop(size)}: cuts a {@code height x width} window from the middle
 * of a planar (C, H, W) image.
 *
 * <p>Offsets as torchvision 0.14 computes them: {@code top = int(round((H - height) / 2.0))},
 * {@code left = int(round((W - width) / 2.0))}, with Python's round half to even. Where the image
 * is smaller than the crop along an axis, it is padded with zeros first, {@code (crop - size) // 2}
 * before and the rest after, as torchvision does.
 */
public final class CenterCrop {
    private CenterCrop() {
    }

    /**
     * @param src    the image, (C, H, W) float32
     * @param height rows of the crop, at least 1
     * @param width  columns of the crop, at least 1
     * @return a new image (C, height, width); samples outside the source are 0
     * @throws IllegalArgumentException if a size is not positive
     */
    public static Image apply(Image src, int height, int width) {
        Objects.requireNonNull(src, "src");
        if (height < 1 || width < 1) {
            throw new IllegalArgumentException("crop size must be positive, got " + width + "x" + height);
        }
        int top = offset(src.height(), height);
        int left = offset(src.width(), width);
        int c = src.channels();
        int inH = src.height();
        int inW = src.width();
        float[] in = src.data();
        float[] out = new float[c * height * width];
        for (int ch = 0; ch < c; ch++) {
            for (int y = 0; y < height; y++) {
                int sy = y + top;
                if (sy < 0 || sy >= inH) {
                    continue;
                }
                int x0 = Math.max(0, -left);
                int x1 = Math.min(width, inW - left);
                if (x1 > x0) {
                    System.arraycopy(in, (ch * inH + sy) * inW + left + x0, out, (ch * height + y) * width + x0, x1 - x0);
                }
            }
        }
        return new Image(c, height, width, out);
    }

    /**
     * Source index of the crop's first row (or column); negative where torchvision pads.
     *
     * @param size source size along the axis
     * @param crop crop size along the axis
     * @return {@code round_half_even((size - crop) / 2.0)}, or {@code -((crop - size) / 2)} when
     *         the crop is larger than the source
     */
    static int offset(int size, int crop) {
        if (crop > size) {
            return -((crop - size) / 2);
        }
        return (int) Math.rint((size - crop) / 2.0);
    }
}
