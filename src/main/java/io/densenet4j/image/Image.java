package io.densenet4j.image;

import java.util.Arrays;
import java.util.Objects;

/**
 * A decoded image as planar float samples: layout (C, H, W), float32, values in the
 * 0..255 range (8-bit scale, as PIL holds an "L" or "RGB" image), not normalised.
 *
 * <p>Sample {@code (c, y, x)} lives at {@code data[(c * height + y) * width + x]}. Channels are
 * 1 (gray, PIL "L") or 3 (RGB, PIL "RGB"); other counts are allowed for intermediate use.
 * Values from 8-bit sources are exact integers; values from 16-bit sources are
 * {@code v / 257.0} and keep their fraction.
 *
 * <p>The sample array is shared, not copied: {@link #data()} exposes it for speed, and the
 * constructor keeps the array it is given.
 */
public final class Image {
    private final int channels;
    private final int height;
    private final int width;
    private final float[] data;

    /**
     * Wraps planar samples.
     *
     * @param channels number of channels C, at least 1
     * @param height   rows H, at least 1
     * @param width    columns W, at least 1
     * @param data     samples in (C, H, W) order, length C*H*W; kept, not copied
     * @throws IllegalArgumentException if a size is not positive or the length does not match
     */
    public Image(int channels, int height, int width, float[] data) {
        Objects.requireNonNull(data, "data");
        if (channels < 1 || height < 1 || width < 1) {
            throw new IllegalArgumentException(
                    "image sizes must be positive, got C=" + channels + " H=" + height + " W=" + width);
        }
        if ((long) channels * height * width != data.length) {
            throw new IllegalArgumentException("image data has " + data.length + " samples, expected C*H*W = "
                    + ((long) channels * height * width));
        }
        this.channels = channels;
        this.height = height;
        this.width = width;
        this.data = data;
    }

    /** @return number of channels C (1 for gray, 3 for RGB) */
    public int channels() {
        return channels;
    }

    /** @return number of rows H */
    public int height() {
        return height;
    }

    /** @return number of columns W */
    public int width() {
        return width;
    }

    /** @return the backing (C, H, W) float32 sample array, values 0..255; not a copy */
    public float[] data() {
        return data;
    }

    /**
     * Reads one sample.
     *
     * @param c channel, 0..C-1
     * @param y row, 0..H-1
     * @param x column, 0..W-1
     * @return sample at channel {@code c}, row {@code y}, column {@code x} (0..255 scale)
     * @throws IndexOutOfBoundsException if an index is out of range
     */
    public float get(int c, int y, int x) {
        Objects.checkIndex(c, channels);
        Objects.checkIndex(y, height);
        Objects.checkIndex(x, width);
        return data[(c * height + y) * width + x];
    }

    /** @return true if every sample is an integer in 0..255 (the image is exactly 8-bit) */
    public boolean isUint8() {
        for (float v : data) {
            if (!(v >= 0f && v <= 255f) || (int) v != v) {
                return false;
            }
        }
        return true;
    }

    /** @return a deep copy */
    public Image copy() {
        return new Image(channels, height, width, Arrays.copyOf(data, data.length));
    }

    @Override
    public String toString() {
        return "Image[C=" + channels + ", H=" + height + ", W=" + width + "]";
    }

    /**
     * The samples as uint8, channels last: {@code (H, W, C)}, the layout decoders produce and
     * {@link io.densenet4j.Predictor#forwardUint8} takes. Each sample is rounded to the nearest
     * integer and clamped to 0..255 (8-bit sources, and images resized from them by
     * {@link ImageTransform} at its default precision, are integers already, so nothing changes).
     *
     * @return a new array of H*W*C bytes (unsigned values)
     */
    public byte[] toUint8Hwc() {
        int plane = height * width;
        byte[] out = new byte[channels * plane];
        for (int c = 0; c < channels; c++) {
            for (int p = 0; p < plane; p++) {
                long v = Math.round(data[c * plane + p]);
                out[p * channels + c] = (byte) Math.max(0, Math.min(255, v));
            }
        }
        return out;
    }
}
