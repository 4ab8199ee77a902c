package io.densenet4j;

import io.densenet4j.internal.NativeLibrary;
import io.densenet4j.io.StateDict;
import io.densenet4j.io.Tensor;
import io.densenet4j.train.TrainingEngine;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The CUDA backend from Java. Where CUDA cannot run (no GPU, driver or cuDNN: CI), the GPU tests
 * are skipped with the reason printed, and the tests of the fallback and the typed error run
 * instead. The GPU itself is also checked without a JDK by scripts/gpu-check.
 */
class CudaTest {
    static boolean cuda;
    static String info;

    @BeforeAll
    static void probe() {
        cuda = NativeLibrary.cudaAvailable();
        info = NativeLibrary.cudaInfo();
        System.err.println("CudaTest: " + (cuda ? "CUDA available: " + info : "GPU tests SKIPPED, CUDA unavailable here: " + info));
    }

    static void needGpu() { assumeTrue(cuda, () -> "no usable CUDA here: " + info); }

    @Test
    void cudaWithoutAGpuIsATypedErrorNamingWhatIsMissing() {
        assumeFalse(cuda, "CUDA is available here");
        DenseNetConfig cfg = DenseNets.densenetBC(16, 4, 1, 3);
        StateDict sd = Initializers.torchvision(new DenseNet(cfg), 1);
        DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class,
                () -> Predictor.create(cfg, sd, new Predictor.Options("cuda", 1)));
        assertTrue(e.getMessage().startsWith("device cuda is unavailable: "), e.getMessage());
        assertTrue(e.getMessage().matches(".*(cuDNN|driver|device|not installed).*"), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), "one line");
        assertEquals("cpu", NativeCore_availableDevices());
    }

    private static String NativeCore_availableDevices() {
        return NativeLibrary.call(io.densenet4j.internal.NativeCore::available_devices);
    }

    @Test
    void autoFallsBackToTheCpuWithTheSameLogits() {
        assumeFalse(cuda, "CUDA is available here (auto picks it)");
        DenseNetConfig cfg = DenseNets.densenetBC(16, 4, 1, 3);
        StateDict sd = Initializers.torchvision(new DenseNet(cfg), 2);
        float[] x = new float[2 * 12 * 12];
        for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(i);
        try (Predictor auto = Predictor.create(cfg, sd, new Predictor.Options("auto", 1));
             Predictor cpu = Predictor.create(cfg, sd, new Predictor.Options("cpu", 1))) {
            assertEquals("cpu", auto.device());
            assertArrayEquals(cpu.forward(x, 2, 12, 12), auto.forward(x, 2, 12, 12));
        }
    }

    @Test
    void badDeviceNamesAndPrecisionsAreRefused() {
        for (String d : List.of("gpu", "cuda:", "cuda:x", "CUDA", "")) {
            assertThrows(IllegalArgumentException.class, () -> new Predictor.Options(d, 1), d);
        }
        assertThrows(IllegalArgumentException.class, () -> new Predictor.Options("cpu", 1, "fp64"));
        DenseNetConfig cfg = DenseNets.densenetBC(16, 4, 1, 3);
        StateDict sd = Initializers.torchvision(new DenseNet(cfg), 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Predictor.create(cfg, sd, new Predictor.Options("cpu", 1, "fp16")));
        assertTrue(e.getMessage().contains("CUDA only"), e.getMessage());
    }

    @Test
    void mixedPrecisionTrainingIsCudaOnlyAndNamesItsDtypes() {
        DenseNetConfig cfg = DenseNets.densenetBC(10, 4, 1, 3);
        StateDict sd = Initializers.torchvision(new DenseNet(cfg), 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrainingEngine.create(cfg, sd, 8, 8,
                TrainingEngine.Memory.EFFICIENT, 1, 2, "cpu", "fp16"));
        assertTrue(e.getMessage().contains("CUDA only"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TrainingEngine.create(cfg, sd, 8, 8, TrainingEngine.Memory.EFFICIENT, 1, 2,
                "cpu", "tf32"));
        assertTrue(e.getMessage().contains("fp32, fp16 or bf16"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Devices.trainOptions("cuda", "half"));
        assertEquals("dtype=bf16", Devices.trainOptions("cuda:1", "bf16"));
        if (!cuda) {  // auto finds no GPU: a half precision fails naming why, and auto is still cpu for fp32
            e = assertThrows(IllegalArgumentException.class, () -> Devices.checkFor("auto", "bf16", true));
            assertTrue(e.getMessage().startsWith("dtype bf16 needs CUDA, and device auto found none: "), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Devices.checkFor("auto", "tf32", false));
            assertTrue(e.getMessage().contains("device auto found none"), e.getMessage());
            assertEquals("cpu", Devices.checkFor("auto", "fp32", true));
        }
        assertEquals("", Devices.trainOptions("cpu", "fp32"));
        // the native core refuses it too (a Java exception, not a crash), and fp32 options pass
        String plan = new DenseNet(cfg).trainingPlan(8, 8).text();
        try (io.densenet4j.internal.NativeCore.WeightStore store = NativeLibrary.call(io.densenet4j.internal.NativeCore.WeightStore::new)) {
            RuntimeException n = assertThrows(RuntimeException.class,
                    () -> NativeLibrary.call(() -> new io.densenet4j.internal.NativeCore.Trainer(plan, store, "cpu", 1, "efficient", "dtype=fp16")));
            assertTrue(n.getMessage().contains("fp32 only"), n.getMessage());
        }
        try (TrainingEngine t = TrainingEngine.create(cfg, sd, 8, 8, TrainingEngine.Memory.EFFICIENT, 1, 2, "cpu", "fp32")) {
            assertEquals("fp32", t.dtype());
        }
    }

    // ------------------------------------------------------------------ on a GPU

    @ParameterizedTest
    @ValueSource(strings = {"fp16", "bf16"})
    void mixedPrecisionTrainingFollowsFp32OnTheGpu(String dtype) {
        needGpu();
        DenseNetConfig cfg = DenseNets.densenetBC(16, 8, 3, 5);
        StateDict sd = Initializers.torchvision(new DenseNet(cfg), 7);
        int n = 8, side = 16;
        float[] x = new float[n * 3 * side * side];
        for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(i * 0.11);
        long[] y = new long[n];
        for (int i = 0; i < n; i++) y[i] = i % 5;
        double tol = dtype.equals("fp16") ? 1e-2 : 3e-2;
        try (TrainingEngine ref = TrainingEngine.create(cfg, sd, side, side, TrainingEngine.Memory.EFFICIENT, 1, n, "cuda", "fp32");
             TrainingEngine mixed = TrainingEngine.create(cfg, sd, side, side, TrainingEngine.Memory.EFFICIENT, 1, n, "cuda", dtype)) {
            double first = 0, last = 0;
            for (int step = 0; step < 6; step++) {
                double a = ref.forwardBackward(x, y, n, step, null);
                double b = mixed.forwardBackward(x, y, n, step, null);
                assertTrue(Math.abs(a - b) <= tol * Math.abs(a), dtype + " step " + step + " loss " + b + " vs fp32 " + a);
                if (step == 0) {
                    // unscaled gradients: the fp32 ones within the dtype's tolerance (relative L2)
                    float[] g0 = ref.gradient("features.conv0.weight"), g1 = mixed.gradient("features.conv0.weight");
                    double num = 0, den = 0;
                    for (int i = 0; i < g0.length; i++) {
                        num += (g1[i] - g0[i]) * (double) (g1[i] - g0[i]);
                        den += g0[i] * (double) g0[i];
                    }
                    assertTrue(Math.sqrt(num / den) <= 5 * tol, dtype + " conv0 gradient relative L2 " + Math.sqrt(num / den));
                    first = b;
                }
                last = b;
                ref.sgdStep(0.05f, 0.9f, 1e-4f, true);
                mixed.sgdStep(0.05f, 0.9f, 1e-4f, true);
            }
            assertTrue(last < first, dtype + " loss fell on a repeated batch: " + first + " -> " + last);
        }
    }

    @Test
    void goldenDensenet121InTrueFp32OnTheGpu() {
        needGpu();
        StateDict io = Golden.io("densenet121");
        try (Predictor p = Predictor.load(Golden.file("densenet121.pth"), Golden.config("densenet121"),
                new Predictor.Options("cuda", 0, "fp32"))) {
            Tensor got = p.forward(io.require("input"));
            Golden.assertClose(io.require("logits").floats(), got.floats(), "densenet121 on cuda fp32");
            // the second call replays the CUDA Graph captured by the first: the same numbers
            assertArrayEquals(got.floats(), p.forward(io.require("input")).floats());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"fp16", "bf16"})
    void halfPrecisionsKeepTop1AndStayCloseOnTheGoldenPhotos(String dtype) {
        needGpu();
        StateDict io = Golden.io("densenet121");
        float[] want = io.require("logits").floats();
        try (Predictor p = Predictor.load(Golden.file("densenet121.pth"), Golden.config("densenet121"),
                new Predictor.Options("cuda", 0, dtype))) {
            float[] got = p.forward(io.require("input")).floats();
            double num = 0, den = 0;
            for (int i = 0; i < want.length; i++) {
                num += (got[i] - want[i]) * (double) (got[i] - want[i]);
                den += want[i] * (double) want[i];
            }
            double rel = Math.sqrt(num / den);
            assertTrue(rel <= (dtype.equals("fp16") ? 1e-2 : 3e-2), dtype + " relative L2 " + rel);
            for (int s = 0; s < 2; s++) assertEquals(argmax(want, s, 1000), argmax(got, s, 1000), dtype + " top-1 of photo " + s);
        }
    }

    @Test
    void severalPredictorsOnOneGpuFromSeveralThreads() throws Exception {
        needGpu();
        DenseNetConfig cfg = DenseNets.densenetBC(22, 6, 3, 7);
        StateDict sd = Initializers.torchvision(new DenseNet(cfg), 4);
        float[] x = new float[3 * 3 * 20 * 20];
        for (int i = 0; i < x.length; i++) x[i] = (float) Math.cos(i * 0.37);
        float[] want;
        try (Predictor cpu = Predictor.create(cfg, sd, new Predictor.Options("cpu", 2))) {
            want = cpu.forward(x, 3, 20, 20);
        }
        Thread[] ts = new Thread[4];
        Throwable[] err = new Throwable[ts.length];
        for (int t = 0; t < ts.length; t++) {
            int id = t;
            ts[t] = new Thread(() -> {
                try (Predictor p = Predictor.create(cfg, sd, new Predictor.Options("cuda", 0))) {
                    for (int r = 0; r < 20; r++) Golden.assertClose(want, p.forward(x, 3, 20, 20), "thread " + id);
                } catch (Throwable e) {
                    err[id] = e;
                }
            });
            ts[t].start();
        }
        for (Thread t : ts) t.join();
        for (Throwable e : err) if (e != null) throw new AssertionError(e);
    }

    static int argmax(float[] v, int row, int n) {
        int best = 0;
        for (int j = 1; j < n; j++) if (v[row * n + j] > v[row * n + best]) best = j;
        return best;
    }
}
