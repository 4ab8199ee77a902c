package io.densenet4j.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Resize arithmetic, Pillow's bilinear filter, center crop, normalisation and stacking. */
class ImageTransformTest {
    private static Image row(float... v) {
        return new Image(1, 1, v.length, v);
    }

    @Test
    void resizedSizeTruncatesTheLongSide() {
        assertArrayEquals(new int[] {256, 341}, ImageTransform.resizedSize(375, 500, 256)); // 341.33
        assertArrayEquals(new int[] {384, 256}, ImageTransform.resizedSize(600, 400, 256));
        assertArrayEquals(new int[] {256, 256}, ImageTransform.resizedSize(64, 64, 256));
        assertArrayEquals(new int[] {256, 1019}, ImageTransform.resizedSize(257, 1023, 256)); // 1019.02
    }

    @Test
    void downscaleAveragesOverTheFootprint() {
        // scale 2, support 2: weights 3/7, 3/7, 1/7 and 1/7, 3/7, 3/7
        Image r = PillowBilinear.resize(row(0, 70, 140, 210), 2, 1, ResamplePrecision.FLOAT);
        assertEquals(50f, r.get(0, 0, 0), 1e-4f);
        assertEquals(160f, r.get(0, 0, 1), 1e-4f);
    }

    @Test
    void matchesPillowOnSmallImages() {
        // values from Pillow 9.4: Image.fromarray(a, mode).resize(size, BILINEAR)
        Image src = row(0, 10, 20, 255, 7, 99, 3);
        assertArrayEquals(new float[] {9, 118, 45}, PillowBilinear.resize(src, 3, 1, ResamplePrecision.AUTO).data());
        assertArrayEquals(new float[] {8.571428298950195f, 117.76470947265625f, 45.0f},
                PillowBilinear.resize(src, 3, 1, ResamplePrecision.FLOAT).data());
        assertArrayEquals(new float[] {0, 5, 13, 20, 173, 168, 12, 76, 56, 3},
                PillowBilinear.resize(src, 10, 1, ResamplePrecision.UINT8).data());
        // 3 rows x 2 columns up to 2 rows x 5 columns: downscale vertically, upscale horizontally
        Image square = new Image(1, 3, 2, new float[] {0, 10, 255, 7, 99, 3});
        assertArrayEquals(new float[] {96, 87, 52, 18, 9, 158, 142, 81, 20, 5},
                PillowBilinear.resize(square, 5, 2, ResamplePrecision.AUTO).data());
    }

    @Test
    void centerCropRoundsHalfToEvenAndPads() {
        assertEquals(2, CenterCrop.offset(5, 2)); // round(1.5) = 2
        assertEquals(2, CenterCrop.offset(7, 2)); // round(2.5) = 2
        assertEquals(0, CenterCrop.offset(3, 3));
        assertEquals(-1, CenterCrop.offset(3, 6)); // pad (6-3)//2 = 1 before, 2 after
        Image c = CenterCrop.apply(row(1, 2, 3), 1, 6);
        assertArrayEquals(new float[] {0, 1, 2, 3, 0, 0}, c.data());
        Image d = CenterCrop.apply(row(1, 2, 3, 4, 5), 1, 2);
        assertArrayEquals(new float[] {3, 4}, d.data());
    }

    @Test
    void toTensorAndNormalizeInFloat32() {
        ImageTransform tf = ImageTransform.builder().resize(0).crop(1)
                .normalize(new float[] {0.5f, 0.25f}, new float[] {0.5f, 2f}).build();
        float[] x = tf.apply(new Image(2, 1, 1, new float[] {255f, 51f}));
        assertArrayEquals(new float[] {1f, (51f / 255f - 0.25f) / 2f}, x);
        assertThrows(IllegalArgumentException.class, () -> tf.apply(new Image(3, 1, 1, new float[3])));
    }

    @Test
    void imagenetOutputShapeAndStack() {
        ImageTransform tf = ImageTransform.imagenet();
        assertEquals(256, tf.resizeSize());
        assertEquals(224, tf.cropSize());
        float[] a = tf.apply(new Image(3, 300, 400, new float[3 * 300 * 400]));
        assertEquals(3 * 224 * 224, a.length);
        assertEquals(-0.485f / 0.229f, a[0], 1e-6f);
        assertEquals(-0.406f / 0.225f, a[a.length - 1], 1e-6f);
        float[] batch = ImageTransform.stack(List.of(new float[] {1, 2}, new float[] {3, 4}));
        assertArrayEquals(new float[] {1, 2, 3, 4}, batch);
        assertThrows(IllegalArgumentException.class, () -> ImageTransform.stack(List.of(new float[1], new float[2])));
        assertThrows(IllegalArgumentException.class, () -> ImageTransform.stack(List.of()));
    }
}
