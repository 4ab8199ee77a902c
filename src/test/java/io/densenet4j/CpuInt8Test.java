package io.densenet4j;

import io.densenet4j.io.StateDict;
import io.densenet4j.io.StateDicts;
import io.densenet4j.io.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Map;

import static io.densenet4j.CpuBf16Test.argmax;
import static io.densenet4j.train.GoldenTrainingTest.relL2;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * CPU int8 inference (post-training static quantization with {@link Calibrator}): the accuracy
 * contract against fp32, on any x86-64 CPU with AVX2.
 */
class CpuInt8Test {
    /** Relative L2 error of int8 logits against fp32 on the golden cases, calibrated on their own inputs (README "CPU int8"). */
    static final double TOLERANCE = 5e-2;

    static StateDict calibrated(DenseNetConfig cfg, StateDict weights, float[] x, int n, int h, int w) {
        try (Calibrator c = Calibrator.create(cfg, weights, 2)) {
            c.observe(x, n, h, w);
            assertEquals(n, c.images());
            return c.quantizedWeights();
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"densenet121", "bc-28-fmnist", "odd-k5"})
    void goldenLogitsWithinTheDocumentedToleranceAndTop1AsFp32(String name) {
        StateDict io = Golden.io(name);
        Tensor input = io.require("input");
        float[] want = io.require("logits").floats();
        DenseNetConfig cfg = Golden.config(name);
        StateDict fp32 = StateDicts.load(Golden.file(name + ".pth"));
        int n = (int) input.dim(0), h = (int) input.dim(2), w = (int) input.dim(3);
        StateDict q = calibrated(cfg, fp32, input.floats(), n, h, w);
        // one range per conv that int8 takes: every dense layer's conv1 and conv2, every transition's conv
        long convs = q.keys().stream().filter(k -> k.endsWith(Calibrator.RANGE_SUFFIX)).count();
        int layers = cfg.blockConfig().stream().mapToInt(Integer::intValue).sum();
        assertEquals(2 * layers + cfg.blockConfig().size() - 1, convs, "ranges: " + q.keys());
        assertEquals(cfg.bnSize() * cfg.growthRate(), q.require("features.denseblock1.denselayer1.conv2.input_max").floats().length);
        float[] r = q.require("features.denseblock1.denselayer1.conv1.input_max").floats();
        assertEquals(cfg.numInitFeatures(), r.length);
        for (float v : r) assertTrue(v >= 0 && Float.isFinite(v), "a BN-ReLU maximum is finite and >= 0: " + v);
        try (Predictor p = Predictor.create(cfg, q, new Predictor.Options("cpu", 2, "int8"))) {
            float[] got = p.forward(input).floats();
            double err = relL2(want, got);
            System.out.println("CpuInt8Test " + name + ": int8 relative L2 " + err);
            assertTrue(err <= TOLERANCE, name + ": int8 relative L2 error " + err);
            assertTrue(err > 1e-4, name + ": int8 logits as close as fp32 (" + err + "); did int8 run?");
            if (name.equals("densenet121")) assertArrayEquals(argmax(want, 1000), argmax(got, 1000), "top-1 of the photos, int8 vs fp32");
            assertArrayEquals(got, p.forward(input).floats(), "repeated int8 forward");
            String d = p.describe(h, w);
            assertTrue(d.contains("int8 convs (u8 x s8") && d.contains("(uint8) -> uint8 output prologue") && d.contains("conv3x3/1 int8 (uint8 input)"), d);
        }
    }

    @Test
    void calibrationTakesTheMaximumOverBatchesAndSizes() {
        DenseNetConfig cfg = Golden.config("odd-k5");
        StateDict fp32 = StateDicts.load(Golden.file("odd-k5.pth"));
        Tensor input = Golden.io("odd-k5").require("input");
        int n = (int) input.dim(0), h = (int) input.dim(2), w = (int) input.dim(3), per = input.floats().length / n;
        float[] first = java.util.Arrays.copyOf(input.floats(), per);
        float[] second = java.util.Arrays.copyOfRange(input.floats(), per, 2 * per);
        Map<String, float[]> a, b, both;
        try (Calibrator c = Calibrator.create(cfg, fp32, 2)) {
            c.observe(first, 1, h, w);
            a = c.ranges();
        }
        try (Calibrator c = Calibrator.create(cfg, fp32, 2)) {
            c.observe(second, 1, h, w);
            b = c.ranges();
        }
        try (Calibrator c = Calibrator.create(cfg, fp32, 2)) {
            c.observe(first, 1, h, w);
            c.observe(second, 1, h, w);
            assertEquals(2, c.images());
            both = c.ranges();
        }
        assertEquals(a.keySet(), both.keySet());
        boolean differ = false;
        for (String k : a.keySet()) {
            for (int i = 0; i < a.get(k).length; i++) {
                assertEquals(Math.max(a.get(k)[i], b.get(k)[i]), both.get(k)[i], k + "[" + i + "]");
                differ |= a.get(k)[i] != b.get(k)[i];
            }
        }
        assertTrue(differ, "two different images gave identical maxima everywhere");
        assertThrows(IllegalStateException.class, () -> {
            try (Calibrator c = Calibrator.create(cfg, fp32, 2)) {
                c.ranges();
            }
        });
    }

    @Test
    void refusalsAreOneClearLine() {
        DenseNetConfig cfg = Golden.config("odd-k5");
        StateDict fp32 = StateDicts.load(Golden.file("odd-k5.pth"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Predictor.create(cfg, fp32, new Predictor.Options("cpu", 2, "int8")));
        assertTrue(e.getMessage().startsWith("dtype int8 needs calibration ranges, and these weights have none"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Devices.options("cuda", "int8"));
        assertEquals("dtype int8 runs on the CPU only (--device cpu); on CUDA use fp16 or bf16", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Devices.checkFor("cpu", "int8", true));
        assertTrue(e.getMessage().startsWith("training dtype must be fp32, fp16 or bf16"), e.getMessage());
        assertEquals("cpu", Devices.checkFor("auto", "int8", false), "int8 runs on the CPU, so auto picks it");
        // a range of the wrong length is named by the native check
        StateDict bad = new StateDict(fp32.asMap());
        bad.put("features.denseblock1.denselayer1.conv1.input_max", Tensor.ofFloats(new long[] {3}, new float[] {1, 2, 3}));
        RuntimeException n = assertThrows(RuntimeException.class, () -> {
            try (Predictor p = Predictor.create(cfg, bad, new Predictor.Options("cpu", 2, "int8"))) {
                p.forward(new float[2 * 45 * 67], 1, 45, 67);
            }
        });
        assertTrue(n.getMessage().contains("features.denseblock1.denselayer1.conv1.input_max"), n.getMessage());
        // damaged values (calibration never writes them) are refused naming the tensor; 0 (a channel never positive) is fine
        StateDict q = calibrated(cfg, fp32, Golden.io("odd-k5").require("input").floats(), 3, 45, 67);
        String name = "features.denseblock2.denselayer1.conv2.input_max";
        for (float v : new float[] {Float.NaN, Float.POSITIVE_INFINITY, -1f}) {
            StateDict d = new StateDict(q.asMap());
            float[] r = q.require(name).floats().clone();
            r[1] = v;
            d.put(name, Tensor.ofFloats(new long[] {r.length}, r));
            RuntimeException x = assertThrows(RuntimeException.class, () -> {
                try (Predictor p = Predictor.create(cfg, d, new Predictor.Options("cpu", 2, "int8"))) {
                    p.forward(new float[2 * 45 * 67], 1, 45, 67);
                }
            });
            assertTrue(x.getMessage().startsWith("calibration range " + name + "[1] is "), x.getMessage());
        }
        StateDict zero = new StateDict(q.asMap());
        zero.put(name, Tensor.ofFloats(new long[] {q.require(name).floats().length}, new float[q.require(name).floats().length]));
        try (Predictor p = Predictor.create(cfg, zero, new Predictor.Options("cpu", 2, "int8"))) {
            for (float v : p.forward(new float[2 * 45 * 67], 1, 45, 67)) assertTrue(Float.isFinite(v));
        }
        // info's summary counts the ranges the network uses
        DenseNet net = new DenseNet(cfg);
        assertEquals("19 of 19 ranges (runs with --dtype int8 --device cpu)", Calibrator.summary(net, q));
        StateDict partial = new StateDict(q.asMap());
        partial.remove("features.denseblock1.denselayer1.conv1.input_max");
        partial.remove(name);
        partial.put("foo.input_max", Tensor.ofFloats(new long[] {1}, new float[] {1}));
        assertTrue(Calibrator.summary(net, partial).startsWith("17 of 19 ranges (1 that a 1x1 conv needs missing: --dtype int8 refuses"),
                Calibrator.summary(net, partial));
        StateDict nan = new StateDict(q.asMap());
        float[] r = q.require(name).floats().clone();
        r[0] = Float.NaN;
        nan.put(name, Tensor.ofFloats(new long[] {r.length}, r));
        assertEquals("18 of 19 ranges (1 damaged or mis-shaped: --dtype int8 refuses these weights; run quantize again)", Calibrator.summary(net, nan));
        StateDict no3x3 = new StateDict(q.asMap());
        no3x3.remove(name);
        assertEquals("18 of 19 ranges (the 3x3 convs without one run in fp32)", Calibrator.summary(net, no3x3));
        assertTrue(Calibrator.summary(net, partial).endsWith("; 1 other *.input_max tensors ignored"), Calibrator.summary(net, partial));
        assertEquals(null, Calibrator.summary(net, fp32));
    }

    @Test
    void aClosedCalibratorRefusesToGiveRanges() {
        DenseNetConfig cfg = Golden.config("odd-k5");
        StateDict fp32 = StateDicts.load(Golden.file("odd-k5.pth"));
        Calibrator c = Calibrator.create(cfg, fp32, 2);
        c.observe(Golden.io("odd-k5").require("input").floats(), 3, 45, 67);
        c.close();
        assertThrows(IllegalStateException.class, c::ranges);
        assertThrows(IllegalStateException.class, c::quantizedWeights);
        assertThrows(IllegalStateException.class, () -> c.observe(new float[2 * 45 * 67], 1, 45, 67));
        // non-finite logits (here from a NaN classifier bias) are refused rather than calibrated on
        StateDict bad = new StateDict(fp32.asMap());
        float[] bias = fp32.require("classifier.bias").floats().clone();
        bias[0] = Float.NaN;
        bad.put("classifier.bias", Tensor.ofFloats(new long[] {bias.length}, bias));
        try (Calibrator d = Calibrator.create(cfg, bad, 2)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> d.observe(new float[2 * 45 * 67], 1, 45, 67));
            assertTrue(e.getMessage().startsWith("a calibration batch gave non-finite logits"), e.getMessage());
        }
    }

    /**
     * The DenseNet-BC of {@link TrainedFashionMnist}, calibrated on 512 training images it was not
     * trained on: on the first 1,000 test images, int8 accuracy within 1 point of fp32's.
     */
    @Test
    void fashionMnistAccuracyWithinOnePointOfFp32() {
        TrainedFashionMnist m = TrainedFashionMnist.get();
        StateDict q;
        try (Calibrator c = Calibrator.create(TrainedFashionMnist.CONFIG, m.weights, 2)) {
            for (int b = 0; b < 8; b++) c.observe(m.batch(m.trainAll, 8000 + 64 * b, 64), 64, 28, 28);
            q = c.quantizedWeights();
        }
        float[] x = m.batch(m.test, 0, 1000);
        int[] fp32, int8;
        try (Predictor f = Predictor.create(TrainedFashionMnist.CONFIG, m.weights, new Predictor.Options("cpu", 2, "fp32"));
                Predictor i8 = Predictor.create(TrainedFashionMnist.CONFIG, q, new Predictor.Options("cpu", 2, "int8"))) {
            fp32 = argmax(f.forward(x, 1000, 28, 28), 10);
            int8 = argmax(i8.forward(x, 1000, 28, 28), 10);
        }
        TrainedFashionMnist.Agreement r = m.agreement("int8", fp32, int8);
        assertTrue(r.rightFp32() >= 780, "the network did not learn: " + r.what());
        assertTrue(Math.abs(r.rightFp32() - r.rightOther()) <= 10, r.what());
    }
}
