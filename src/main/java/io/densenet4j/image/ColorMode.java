package io.densenet4j.image;

/**
 * The channel layout {@link ImageDecoder} converts every image to, as PIL's
 * {@code Image.convert(mode)} does.
 */
public enum ColorMode {
    /**
     * Three channels R, G, B (PIL {@code convert("RGB")}): gray is replicated into all three,
     * an alpha channel is dropped (no compositing onto a background), a palette is looked up.
     */
    RGB(3),
    /**
     * One channel (PIL {@code convert("L")}): colour becomes luma
     * {@code L = R*299/1000 + G*587/1000 + B*114/1000} (ITU-R 601-2); alpha is dropped.
     * For 8-bit sources it is computed with Pillow's fixed-point rounding, so the result is
     * the same integer PIL gives; for 16-bit sources it is kept as a float.
     */
    GRAY(1);

    private final int channels;

    ColorMode(int channels) {
        this.channels = channels;
    }

    /** @return number of channels an image in this mode has (3 or 1) */
    public int channels() {
        return channels;
    }
}
