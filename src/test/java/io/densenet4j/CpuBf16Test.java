package io.densenet4j;

import io.densenet4j.internal.NativeLibrary;
import io.densenet4j.io.StateDict;
import io.densenet4j.io.Tensor;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;


import static io.densenet4j.train.GoldenTrainingTest.relL2;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * CPU bf16 inference (AVX512_BF16): the accuracy contract against the fp32 reference. Skipped,
 * with the reason, on a CPU without AVX512_BF16, where the refusal is tested instead.
 */
class CpuBf16Test {
    /** Relative L2 error of bf16 logits per batch, documented in the README (measured: 2.4e-3 to 3.3e-3). */
    static final double TOLERANCE = 1e-2;

    static void needBf16() {
        Assumptions.assumeTrue(NativeLibrary.cpuBf16Supported(), "this CPU has no AVX512_BF16 (" + NativeLibrary.cpuIsaInfo() + ")");
    }

    static int[] argmax(float[] logits, int classes) {
        int[] out = new int[logits.length / classes];
        for (int i = 0; i < out.length; i++) {
            int best = 0;
            for (int j = 1; j < classes; j++) if (logits[i * classes + j] > logits[i * classes + best]) best = j;
            out[i] = best;
        }
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"densenet121", "bc-28-fmnist", "odd-k5"})
    void goldenLogitsWithinTheDocumentedToleranceAndTop1AsFp32(String name) {
        needBf16();
        StateDict io = Golden.io(name);
        Tensor input = io.require("input");
        float[] want = io.require("logits").floats();
        DenseNetConfig cfg = Golden.config(name);
        try (Predictor p = Predictor.load(Golden.file(name + ".pth"), cfg, new Predictor.Options("cpu", 2, "bf16"));
                Predictor f = Predictor.load(Golden.file(name + ".pth"), cfg, new Predictor.Options("cpu", 2, "fp32"))) {
            float[] got = p.forward(input).floats();
            double err = relL2(want, got);
            assertTrue(err <= TOLERANCE, name + ": bf16 relative L2 error " + err);
            // bf16 really ran: rounding to 8 mantissa bits leaves far more than fp32's 1e-7
            assertTrue(err > 1e-4, name + ": bf16 logits as close as fp32 (" + err + "); did bf16 run?");
            int classes = p.numClasses();
            assertArrayEquals(argmax(f.forward(input).floats(), classes), argmax(got, classes), name + ": top-1 of bf16 vs fp32");
            // repeated calls are bit-identical; a sample alone agrees with itself in the batch within the
            // bf16 tolerance only: the batch size picks Winograd (bf16) or the direct conv (fp32) for the
            // 3x3 convs of small feature maps, and the two round differently
            assertArrayEquals(got, p.forward(input).floats(), "repeated bf16 forward");
            int n = (int) input.dim(0), per = input.floats().length / n;
            float[] one = java.util.Arrays.copyOfRange(input.floats(), per, 2 * per);
            float[] alone = p.forward(one, 1, (int) input.dim(2), (int) input.dim(3));
            double single = relL2(java.util.Arrays.copyOfRange(got, classes, 2 * classes), alone);
            assertTrue(single <= TOLERANCE, "sample 1 alone vs in the batch: relative L2 " + single);
            String d = p.describe((int) input.dim(2), (int) input.dim(3));
            assertTrue(d.contains("bf16 matmuls (fp32 accumulation)") && d.contains("avx512_core_bf16"), d);
        }
    }

    /** uint8 input in bf16: the same logits as float input normalised in Java (both bf16). */
    @Test
    void uint8InputMatchesFloatInputInBf16() {
        needBf16();
        StateDict io = Golden.io("odd-k5");
        DenseNetConfig cfg = Golden.config("odd-k5");
        Tensor input = io.require("input");
        int n = (int) input.dim(0), c = (int) input.dim(1), h = (int) input.dim(2), w = (int) input.dim(3);
        byte[] u8 = new byte[n * h * w * c];
        float[] x = new float[n * c * h * w];
        float[] mean = {0.4f, 0.6f}, std = {0.25f, 0.2f};
        java.util.SplittableRandom r = new java.util.SplittableRandom(3);
        for (int i = 0; i < n; i++)
            for (int y = 0; y < h * w; y++)
                for (int k = 0; k < c; k++) {
                    int v = r.nextInt(256);
                    u8[(i * h * w + y) * c + k] = (byte) v;
                    x[(i * c + k) * h * w + y] = (v / 255f - mean[k]) / std[k];
                }
        try (Predictor p = Predictor.load(Golden.file("odd-k5.pth"), cfg, new Predictor.Options("cpu", 2, "bf16"))) {
            float[] a = p.forward(x, n, h, w), b = p.forwardUint8(u8, n, h, w, mean, std);
            assertArrayEquals(a, b, 1e-4f);
        }
    }

    @Test
    void aCpuWithoutBf16RefusesItInOneLine() {
        Assumptions.assumeFalse(NativeLibrary.cpuBf16Supported(), "this CPU has AVX512_BF16; the refusal cannot be seen here");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Predictor.create(Golden.config("odd-k5"), io.densenet4j.io.StateDicts.load(Golden.file("odd-k5.pth")), new Predictor.Options("cpu", 2, "bf16")));
        assertTrue(e.getMessage().startsWith("dtype bf16 on the CPU needs AVX512_BF16"), e.getMessage());
    }

    @Test
    void tf32AndFp16StayRefusedOnTheCpu() {
        for (String dt : new String[] {"tf32", "fp16"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Devices.options("cpu", dt));
            assertEquals("dtype " + dt + " runs on CUDA only; the CPU backend computes in fp32, bf16 or int8", e.getMessage());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Devices.trainOptions("cpu", "bf16"));
        assertTrue(e.getMessage().contains("the CPU trains in fp32"), e.getMessage());
    }

    /**
     * A DenseNet-BC trained here on 8,000 Fashion-MNIST training images (two epochs, {@link TrainedFashionMnist}):
     * on the first 1,000 test images, bf16 accuracy within 0.3 points of fp32's.
     */
    @Test
    void fashionMnistAccuracyWithinPointThreeOfFp32() {
        needBf16();
        TrainedFashionMnist m = TrainedFashionMnist.get();
        float[] x = m.batch(m.test, 0, 1000);
        int[] fp32, bf16;
        try (Predictor f = Predictor.create(TrainedFashionMnist.CONFIG, m.weights, new Predictor.Options("cpu", 2, "fp32"));
                Predictor b = Predictor.create(TrainedFashionMnist.CONFIG, m.weights, new Predictor.Options("cpu", 2, "bf16"))) {
            fp32 = argmax(f.forward(x, 1000, 28, 28), 10);
            bf16 = argmax(b.forward(x, 1000, 28, 28), 10);
        }
        TrainedFashionMnist.Agreement r = m.agreement("bf16", fp32, bf16);
        assertTrue(r.rightFp32() >= 780, "the network did not learn: " + r.what());
        assertTrue(Math.abs(r.rightFp32() - r.rightOther()) <= 3, r.what());
    }
}
