package io.densenet4j.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The full ImageNet eval transform on the golden photos against torchvision's output stored in
 * {@code ../shared/golden/densenet121-io.safetensors} (tensor "input", (2,3,224,224) NCHW,
 * chelsea then astronaut).
 */
class GoldenInputTest {
    private static final Path IMAGES = Path.of("../shared/images");
    private static final Path GOLDEN = Path.of("../shared/golden/densenet121-io.safetensors");

    @Test
    void imagenetTransformMatchesTorchvision() throws IOException {
        Path chelsea = IMAGES.resolve("chelsea.png");
        Path astronaut = IMAGES.resolve("astronaut.png");
        assumeTrue(Files.isRegularFile(chelsea) && Files.isRegularFile(astronaut), "golden photos absent");
        assumeTrue(Files.isRegularFile(GOLDEN), "golden io tensors absent");

        float[] want = readTensor(GOLDEN, "input", new long[] {2, 3, 224, 224});
        ImageTransform tf = ImageTransform.imagenet();
        float[] got = tf.applyAll(List.of(ImageDecoder.read(chelsea), ImageDecoder.read(astronaut)));
        assertEquals(want.length, got.length);

        double maxErr = 0;
        double sumErr = 0;
        for (int i = 0; i < want.length; i++) {
            double e = Math.abs(got[i] - want[i]);
            maxErr = Math.max(maxErr, e);
            sumErr += e;
        }
        double meanErr = sumErr / want.length;
        System.out.printf("golden input: max abs error %.3e, mean abs error %.3e%n", maxErr, meanErr);
        assertTrue(maxErr <= 0.02, "max abs error " + maxErr);
        assertTrue(meanErr <= 0.002, "mean abs error " + meanErr);
        // Pillow's 8-bit resampling is reproduced bit for bit, so only float rounding remains
        assertTrue(maxErr <= 1e-6, "expected a bit-exact Pillow resize, max abs error " + maxErr);
    }

    /** {@link ResamplePrecision#FLOAT} (Pillow's "F" mode arithmetic) on an 8-bit photo. */
    @Test
    void floatResamplingStaysCloseToo() throws IOException {
        Path chelsea = IMAGES.resolve("chelsea.png");
        assumeTrue(Files.isRegularFile(chelsea) && Files.isRegularFile(GOLDEN), "golden files absent");
        float[] want = readTensor(GOLDEN, "input", new long[] {2, 3, 224, 224});
        ImageTransform tf = ImageTransform.builder().precision(ResamplePrecision.FLOAT).build();
        float[] got = tf.apply(ImageDecoder.read(chelsea));
        double maxErr = 0;
        double sumErr = 0;
        for (int i = 0; i < got.length; i++) {
            double e = Math.abs(got[i] - want[i]);
            maxErr = Math.max(maxErr, e);
            sumErr += e;
        }
        double meanErr = sumErr / got.length;
        System.out.printf("golden input (float resampling, chelsea): max abs error %.3g, mean abs error %.3g%n",
                maxErr, meanErr);
        // torchvision's reference rounds to 8 bits after each of Pillow's two passes; the float
        // path does not, so it is off by up to about one 8-bit step (1/255/0.225 = 0.0174) and
        // by about 0.3 steps on average.
        assertTrue(maxErr <= 0.02, "max abs error " + maxErr);
        assertTrue(meanErr <= 0.008, "mean abs error " + meanErr);
    }

    /** Minimal safetensors reader: one float32 tensor, checked shape. */
    static float[] readTensor(Path file, String name, long[] shape) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer bb = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long headerLen = bb.getLong(0);
        JsonNode header = new ObjectMapper().readTree(new String(bytes, 8, (int) headerLen, StandardCharsets.UTF_8));
        JsonNode t = header.get(name);
        assertEquals("F32", t.get("dtype").asText());
        long[] gotShape = new long[t.get("shape").size()];
        for (int i = 0; i < gotShape.length; i++) {
            gotShape[i] = t.get("shape").get(i).asLong();
        }
        assertArrayEquals(shape, gotShape);
        long begin = 8 + headerLen + t.get("data_offsets").get(0).asLong();
        long end = 8 + headerLen + t.get("data_offsets").get(1).asLong();
        float[] out = new float[(int) ((end - begin) / 4)];
        bb.position((int) begin);
        bb.asFloatBuffer().get(out);
        return out;
    }
}
