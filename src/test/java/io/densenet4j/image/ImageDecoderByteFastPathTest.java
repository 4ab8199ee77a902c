package io.densenet4j.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link ImageDecoder#convert}'s direct read of 8-bit byte rasters gives exactly what the
 * generic {@code Raster.getSamples} gives, for the layouts the JDK's decoders produce and for a
 * sub-image (a raster whose data starts inside a larger buffer).
 */
class ImageDecoderByteFastPathTest {
    @ParameterizedTest
    @ValueSource(ints = {BufferedImage.TYPE_3BYTE_BGR, BufferedImage.TYPE_4BYTE_ABGR, BufferedImage.TYPE_BYTE_GRAY, BufferedImage.TYPE_INT_RGB})
    void sameSamplesAsGetSamples(int type) {
        SplittableRandom rnd = new SplittableRandom(type);
        BufferedImage full = new BufferedImage(37, 23, type);
        for (int y = 0; y < 23; y++) {
            for (int x = 0; x < 37; x++) full.setRGB(x, y, rnd.nextInt() | 0xFF000000);
        }
        for (BufferedImage img : new BufferedImage[] {full, full.getSubimage(5, 3, 19, 11)}) {
            Image got = ImageDecoder.convert(img, ColorMode.RGB);
            Raster r = img.getRaster();
            int w = img.getWidth();
            int h = img.getHeight();
            assertEquals(3 * w * h, got.data().length);
            int colors = img.getColorModel().getNumColorComponents();
            for (int c = 0; c < 3; c++) {
                float[] want = r.getSamples(0, 0, w, h, colors == 1 ? 0 : c, (float[]) null);
                float[] have = java.util.Arrays.copyOfRange(got.data(), c * w * h, (c + 1) * w * h);
                assertArrayEquals(want, have, 0f, "type " + type + ", " + w + "x" + h + ", channel " + c);
            }
        }
    }
}
