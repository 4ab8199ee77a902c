package io.densenet4j.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link PillowBilinear}'s row-order integer and float passes give bit for bit what the plain
 * transcription of Pillow's loops ({@link PillowBilinearReference}) gives: up- and downscaling,
 * odd sizes, one axis only, 8-bit and float samples (the latter with values that are not integers,
 * out of range, or NaN).
 */
class PillowBilinearFastPathTest {
    @ParameterizedTest(name = "{0}x{1}x{2} -> {3}x{4}")
    @CsvSource({
        "3, 224, 224, 256, 256",  // the eval transform's upscale of a 224 crop
        "3, 375, 500, 256, 341",  // a typical photo down to shorter side 256
        "1, 31, 17, 7, 64",       // down on one axis, up on the other
        "3, 40, 40, 40, 13",      // horizontal pass only (height unchanged)
        "2, 9, 50, 123, 50",      // vertical pass only
        "3, 1, 1, 5, 3",          // a single pixel
        "4, 300, 2, 1, 1",        // down to a single pixel
    })
    void matchesTheReference(int c, int h, int w, int outW, int outH) {
        SplittableRandom rnd = new SplittableRandom(h * 31L + w);
        float[] bytes = new float[c * h * w];
        float[] floats = new float[c * h * w];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = rnd.nextInt(256);
            floats[i] = (float) (rnd.nextDouble() * 300 - 20);
        }
        floats[0] = Float.NaN;
        Image u8 = new Image(c, h, w, bytes);
        Image f = new Image(c, h, w, floats);
        for (ResamplePrecision p : ResamplePrecision.values()) {
            for (Image img : new Image[] {u8, f}) {
                Image got = PillowBilinear.resize(img, outW, outH, p);
                Image want = PillowBilinearReference.resize(img, outW, outH, p);
                assertEquals(want.height(), got.height());
                assertEquals(want.width(), got.width());
                assertArrayEquals(want.data(), got.data(), 0f, p + " on " + (img == u8 ? "8-bit" : "float") + " samples");
                // every window of the resize: only its pixels are computed, with the same values
                for (int[] win : new int[][] {{0, 0, outH, outW}, {outH / 3, outW / 4, (outH + 1) / 2, (outW + 2) / 3},
                        {outH - 1, outW - 1, 1, 1}, {0, outW / 2, outH, outW - outW / 2}}) {
                    Image part = PillowBilinear.resizeWindow(img, outW, outH, win[0], win[1], win[2], win[3], p);
                    Image cut = crop(want, win[0], win[1], win[2], win[3]);
                    assertArrayEquals(cut.data(), part.data(), 0f, p + " window " + java.util.Arrays.toString(win));
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}x{1} crop {2}")
    @CsvSource({"224, 224, 224", "500, 375, 224", "375, 500, 224", "300, 257, 255", "64, 64, 300"})
    void transformEqualsResizeThenCenterCrop(int w, int h, int crop) {
        SplittableRandom rnd = new SplittableRandom(w * 7L + h);
        float[] d = new float[3 * h * w];
        for (int i = 0; i < d.length; i++) d[i] = rnd.nextInt(256);
        Image img = new Image(3, h, w, d);
        ImageTransform tf = ImageTransform.builder().resize(256).crop(crop).build();
        int[] hw = ImageTransform.resizedSize(h, w, 256);
        Image want = CenterCrop.apply(PillowBilinearReference.resize(img, hw[1], hw[0], ResamplePrecision.AUTO), crop, crop);
        assertArrayEquals(want.data(), tf.resizeAndCrop(img).data(), 0f);
    }

    private static Image crop(Image im, int top, int left, int h, int w) {
        float[] out = new float[im.channels() * h * w];
        for (int c = 0; c < im.channels(); c++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) out[(c * h + y) * w + x] = im.get(c, top + y, left + x);
        return new Image(im.channels(), h, w, out);
    }
}
