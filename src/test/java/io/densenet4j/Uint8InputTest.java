package io.densenet4j;

import io.densenet4j.image.Image;
import io.densenet4j.image.ImageDecoder;
import io.densenet4j.image.ImageTransform;
import io.densenet4j.io.StateDicts;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** uint8 (N, H, W, C) input with native normalisation, and direct-buffer input/output, against the float-array path. */
class Uint8InputTest {
    static final Path GOLDEN = Path.of("../shared/golden");
    static final Path IMAGES = Path.of("../shared/images");

    static byte[] randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        new SplittableRandom(seed).nextBytes(b);
        return b;
    }

    /** What ImageTransform does after the crop: ToTensor then Normalize, (n, H, W, C) uint8 to (n, C, H, W) float32. */
    static float[] normalise(byte[] hwc, int h, int w, float[] mean, float[] std) {
        int c = mean.length, plane = h * w, n = hwc.length / (plane * c);
        float[] x = new float[hwc.length];
        for (int i = 0; i < n; i++)
            for (int p = 0; p < plane; p++)
                for (int ch = 0; ch < c; ch++)
                    x[(i * c + ch) * plane + p] = ((hwc[(i * plane + p) * c + ch] & 0xff) / 255f - mean[ch]) / std[ch];
        return x;
    }

    @Test
    void goldenDensenet121PhotosGiveTheFloatPathsLogits() throws Exception {
        Path weights = GOLDEN.resolve("densenet121.pth");
        List<Path> photos = List.of(IMAGES.resolve("chelsea.png"), IMAGES.resolve("astronaut.png"));
        assumeTrue(Files.isRegularFile(weights) && photos.stream().allMatch(Files::isRegularFile), "golden densenet121 files absent");
        ImageTransform tf = ImageTransform.imagenet();
        try (Predictor p = Predictor.create(DenseNets.densenet121(), StateDicts.load(weights), PredictorTest.CPU2)) {
            byte[] u8 = new byte[2 * 224 * 224 * 3];
            float[][] floats = new float[2][];
            for (int i = 0; i < 2; i++) {
                Image img = ImageDecoder.read(photos.get(i));
                System.arraycopy(tf.resizeAndCrop(img).toUint8Hwc(), 0, u8, i * 224 * 224 * 3, 224 * 224 * 3);
                floats[i] = tf.apply(img);
            }
            float[] want = p.forward(ImageTransform.stack(List.of(floats[0], floats[1])), 2, 224, 224);
            float[] got = p.forwardUint8(u8, 2, 224, 224, ImageTransform.IMAGENET_MEAN, ImageTransform.IMAGENET_STD);
            double max = 0;
            for (int i = 0; i < want.length; i++) max = Math.max(max, Math.abs(want[i] - got[i]));
            System.out.printf("uint8 vs float path, golden densenet121 photos: max abs logit difference %.3e%n", max);
            assertTrue(max <= 1e-4, "max abs difference " + max);
            assertEquals(argmax(want, 0), argmax(got, 0));
            assertEquals(argmax(want, 1), argmax(got, 1));
        }
    }

    @Test
    void uint8IsBitIdenticalToJavaNormalisationOnTheCpu() {
        DenseNetConfig cfg = DenseNets.densenetBC(16, 6);
        float[] mean = {0.3f, 0.5f, 0.7f}, std = {0.21f, 0.33f, 0.27f};
        try (Predictor p = Predictor.create(cfg, PredictorTest.weights(new DenseNet(cfg), 4), PredictorTest.CPU2)) {
            byte[] u8 = randomBytes(3 * 20 * 24 * 3, 9);
            float[] want = p.forward(normalise(u8, 20, 24, mean, std), 3, 20, 24);
            assertArrayEquals(want, p.forwardUint8(u8, 3, 20, 24, mean, std));
            ByteBuffer in = ByteBuffer.allocateDirect(u8.length + 5);
            in.position(5);
            in.slice().put(u8);
            FloatBuffer out = Predictor.allocateFloats(3 * 10 + 2);
            out.position(2);
            p.forwardUint8(in, 3, 20, 24, mean, std, out);
            assertEquals(5, in.position(), "positions are left as they were");
            float[] got = new float[30];
            out.get(got);
            assertArrayEquals(want, got, "direct-buffer uint8 path, read from the position");
        }
    }

    @Test
    void directFloatBuffersGiveTheArrayPathsLogits() {
        DenseNetConfig cfg = DenseNets.densenetBC(16, 6);
        try (Predictor p = Predictor.create(cfg, PredictorTest.weights(new DenseNet(cfg), 4), PredictorTest.CPU2)) {
            float[] x = PredictorTest.random(2 * 3 * 16 * 16, 3);
            float[] want = p.forward(x, 2, 16, 16);
            FloatBuffer in = Predictor.allocateFloats(x.length);
            in.put(x).flip();
            FloatBuffer out = Predictor.allocateFloats(20);
            for (int rep = 0; rep < 2; rep++) {  // reused across calls
                p.forward(in, 2, 16, 16, out);
                float[] got = new float[20];
                out.duplicate().get(got);
                assertArrayEquals(want, got);
            }
        }
    }

    @Test
    void badBuffersAndNormalisationAreRefusedWithASentence() {
        DenseNetConfig cfg = DenseNets.densenetBC(16, 6);
        try (Predictor p = Predictor.create(cfg, PredictorTest.weights(new DenseNet(cfg), 4), PredictorTest.CPU2)) {
            int count = 3 * 16 * 16;
            FloatBuffer out = Predictor.allocateFloats(10);
            FloatBuffer big = ByteBuffer.allocateDirect(count * 4).order(ByteOrder.BIG_ENDIAN == ByteOrder.nativeOrder() ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN).asFloatBuffer();
            assertTrue(assertThrows(IllegalArgumentException.class, () -> p.forward(big, 1, 16, 16, out)).getMessage().contains("native byte order"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> p.forward(FloatBuffer.allocate(count), 1, 16, 16, out)).getMessage().contains("direct"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> p.forward(Predictor.allocateFloats(count - 1), 1, 16, 16, out)).getMessage()
                    .contains("needs " + count));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> p.forward(Predictor.allocateFloats(count), 1, 16, 16, Predictor.allocateFloats(9)))
                    .getMessage().contains("need 10"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> p.forward(Predictor.allocateFloats(count), 1, 16, 16, out.asReadOnlyBuffer()))
                    .getMessage().contains("read-only"));
            float[] m = {0, 0, 0};
            assertTrue(assertThrows(IllegalArgumentException.class, () -> p.forwardUint8(new byte[count], 1, 16, 16, new float[] {0, 0}, new float[] {1, 1}))
                    .getMessage().contains("3 means"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> p.forwardUint8(new byte[count], 1, 16, 16, m, new float[] {1, Float.NaN, 1}))
                    .getMessage().contains("channel 1"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> p.forwardUint8(new byte[count + 1], 1, 16, 16, m, new float[] {1, 1, 1}))
                    .getMessage().contains("(1, 16, 16, 3) uint8 needs " + count));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> p.forwardUint8(ByteBuffer.allocate(count), 1, 16, 16, m, new float[] {1, 1, 1}, out))
                    .getMessage().contains("direct"));
            // the predictor still works after every refusal
            assertEquals(10, p.forward(PredictorTest.random(count, 1), 1, 16, 16).length);
        }
    }

    static int argmax(float[] logits, int row) {
        int k = logits.length / 2, best = 0;
        for (int i = 1; i < k; i++) if (logits[row * k + i] > logits[row * k + best]) best = i;
        return best;
    }
}
