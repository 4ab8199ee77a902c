package io.densenet4j.image;

/**
 * Which of Pillow's resampling code paths {@link PillowBilinear} reproduces.
 */
public enum ResamplePrecision {
    /**
     * {@link #UINT8} when every input sample is an integer in 0..255 (an image decoded from an
     * 8-bit file), else {@link #FLOAT}. This matches torchvision on a PIL "RGB"/"L" image.
     */
    AUTO,
    /**
     * Pillow's 8-bit path (mode "L"/"RGB"): coefficients in 22-bit fixed point, each pass
     * rounded and clipped to an integer 0..255. Inputs are first rounded and clipped to 0..255.
     * Bit-exact with {@code PIL.Image.resize(..., BILINEAR)} on 8-bit images.
     */
    UINT8,
    /**
     * Pillow's float path (mode "F"): the same coefficients in double, sums in double,
     * intermediate and output in float32, no rounding or clipping.
     */
    FLOAT
}
