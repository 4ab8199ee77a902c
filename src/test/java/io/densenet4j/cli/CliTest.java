package io.densenet4j.cli;

import io.densenet4j.io.SafeTensors;
import io.densenet4j.io.StateDict;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line: results, and exit 2 with one line for bad input. */
class CliTest extends CliHarness {
    static final Path GOLDEN = Path.of("../shared/golden");
    static final Path IMAGES = Path.of("../shared/images");
    private void assertBadInput(String expectedFragment, String... args) {
        assertEquals(2, run(args), "exit code; stderr: " + stderr());
        String e = stderr().strip();
        assertEquals(1, e.lines().count(), "one line on stderr, got: " + e);
        assertTrue(e.contains(expectedFragment), "stderr should mention '" + expectedFragment + "': " + e);
    }

    @Test
    void infoPrintsArchitectureAndCounts() {
        assertEquals(0, run("info", "--arch", "densenet121"));
        assertTrue(stdout().contains("parameters: 7978856"), stdout());
        assertTrue(stdout().contains("gmacs: 2.834"), stdout());
        assertTrue(stdout().contains("minimum_input: 29x29"), stdout());
    }

    @Test
    void forwardWritesGoldenLogits(@TempDir Path dir) {
        Assumptions.assumeTrue(Files.exists(GOLDEN.resolve("odd-k5.pth")), "golden files absent");
        Path o = dir.resolve("out.safetensors");
        assertEquals(0, run("forward", "--weights", GOLDEN.resolve("odd-k5.pth").toString(), "--config",
                GOLDEN.resolve("odd-k5.json").toString(), "--input", GOLDEN.resolve("odd-k5-io.safetensors").toString(),
                "--output", o.toString(), "--threads", "2"), stderr());
        float[] got = SafeTensors.read(o).tensors().require("logits").floats();
        float[] want = SafeTensors.read(GOLDEN.resolve("odd-k5-io.safetensors")).tensors().require("logits").floats();
        assertEquals(want.length, got.length);
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-4 + 1e-4 * Math.abs(want[i]));
    }

    @Test
    void predictNamesTheGoldenTopClass() {
        Assumptions.assumeTrue(Files.exists(GOLDEN.resolve("densenet121.pth")), "golden files absent");
        StateDict io = SafeTensors.read(GOLDEN.resolve("densenet121-io.safetensors")).tensors();
        float[] logits = io.require("logits").floats();
        int best = 0;
        for (int i = 1; i < 1000; i++) if (logits[i] > logits[best]) best = i;
        assertEquals(0, run("predict", "--weights", GOLDEN.resolve("densenet121.pth").toString(), "--top", "1",
                "--threads", "2", IMAGES.resolve("chelsea.png").toString()), stderr());
        assertTrue(stdout().contains("(" + best + ")"), "top-1 of chelsea should be class " + best + ": " + stdout());
    }

    /** quantize (calibration on Fashion-MNIST's training split), then forward and evaluate in int8. */
    @Test
    void quantizeThenForwardAndEvaluateInInt8(@TempDir Path dir) {
        Assumptions.assumeTrue(Files.exists(GOLDEN.resolve("bc-28-fmnist.safetensors")), "golden files absent");
        Assumptions.assumeTrue(Files.isRegularFile(Path.of(io.densenet4j.data.Datasets.FASHION_MNIST_DIR, "train-images-idx3-ubyte.gz")),
                "Fashion-MNIST not installed");
        Path q = dir.resolve("int8.safetensors"), o = dir.resolve("out.safetensors");
        String w = GOLDEN.resolve("bc-28-fmnist.safetensors").toString(), ioFile = GOLDEN.resolve("bc-28-fmnist-io.safetensors").toString();
        assertEquals(0, run("quantize", "--weights", w, "--calibration", "fashion-mnist", "--images", "96", "--batch", "32",
                "--threads", "2", "--out", q.toString()), stderr());
        assertTrue(stdout().startsWith("calibrated on 96 images of fashion-mnist (training split)") && stdout().contains("26 ranges")
                && stdout().contains("(normalize 0.28"), stdout());
        assertEquals(0, run("info", "--weights", q.toString()), stderr());
        assertTrue(stdout().contains("int8_calibration: 26 of 26 ranges (runs with --dtype int8 --device cpu)"), stdout());
        assertEquals(0, run("forward", "--weights", q.toString(), "--input", ioFile, "--output", o.toString(), "--dtype", "int8",
                "--threads", "2"), stderr());
        float[] got = SafeTensors.read(o).tensors().require("logits").floats();
        float[] want = SafeTensors.read(Path.of(ioFile)).tensors().require("logits").floats();
        double err = io.densenet4j.train.GoldenTrainingTest.relL2(want, got);
        assertTrue(err > 1e-4 && err < 5e-2, "int8 forward relative L2 against fp32 " + err);
        assertEquals(0, run("evaluate", "--weights", q.toString(), "--dtype", "int8", "--threads", "2"), stderr());
        assertTrue(stdout().startsWith("accuracy: "), stdout());
        assertTrue(stderr().contains("note: using the normalisation quantize stored in"), stderr());
        // refusals: one line, exit 2, nothing written
        assertBadInput("dtype int8 needs calibration ranges, and these weights have none", "forward", "--weights", w, "--input", ioFile,
                "--output", dir.resolve("o2.safetensors").toString(), "--dtype", "int8");
        assertBadInput("--images must be positive", "quantize", "--weights", w, "--images", "0", "--out", dir.resolve("x.safetensors").toString());
        assertBadInput("is a directory", "quantize", "--weights", w, "--out", dir.toString());
        assertBadInput("--out " + q + " is the same file as --weights", "quantize", "--weights", q.toString(), "--out", q.toString());
        assertBadInput("dtype int8 runs on the CPU only", "bench", "--arch", "densenet-bc", "--depth", "10", "--dtype", "int8",
                "--device", "cuda", "--seconds", "0.1");
        assertBadInput("training dtype must be fp32, fp16 or bf16", "train", "--dtype", "int8", "--steps", "1", "--out", dir.resolve("t").toString());
        assertFalse(Files.exists(dir.resolve("o2.safetensors")) || Files.exists(dir.resolve("x.safetensors")));
    }

    /** ImageNet weights calibrated on photos (images:DIR, the eval transform and ImageNet's normalisation, as predict). */
    @Test
    void quantizeOnPhotosForImageNetWeights(@TempDir Path dir) {
        Assumptions.assumeTrue(Files.exists(GOLDEN.resolve("densenet121.pth")), "golden files absent");
        Path q = dir.resolve("dn121-int8.safetensors"), o = dir.resolve("out.safetensors");
        assertEquals(0, run("quantize", "--weights", GOLDEN.resolve("densenet121.pth").toString(), "--calibration", "images:" + IMAGES,
                "--threads", "2", "--out", q.toString()), stderr());
        assertTrue(stdout().startsWith("calibrated on 2 images of images:" + IMAGES + " in ") && stdout().contains("(normalize 0.485,0.229;0.456,0.224;0.406,0.225)")
                && stdout().contains("119 ranges") && stdout().contains("densenet4j predict --weights"), stdout());
        String ioFile = GOLDEN.resolve("densenet121-io.safetensors").toString();
        assertEquals(0, run("forward", "--weights", q.toString(), "--input", ioFile, "--output", o.toString(), "--dtype", "int8", "--threads", "2"), stderr());
        float[] got = SafeTensors.read(o).tensors().require("logits").floats();
        float[] want = SafeTensors.read(Path.of(ioFile)).tensors().require("logits").floats();
        double err = io.densenet4j.train.GoldenTrainingTest.relL2(want, got);
        assertTrue(err > 1e-4 && err < 5e-2, "int8 relative L2 against fp32 " + err);
        assertBadInput("images: names no path", "quantize", "--weights", GOLDEN.resolve("densenet121.pth").toString(), "--calibration", "images:",
                "--out", dir.resolve("x.safetensors").toString());
        assertBadInput("--resize and --crop apply to --calibration images:DIR only", "quantize", "--weights", GOLDEN.resolve("densenet121.pth").toString(),
                "--resize", "100", "--out", dir.resolve("x.safetensors").toString());
    }

    @Test
    void badInputExitsTwoWithOneLine(@TempDir Path dir) throws Exception {
        Path empty = Files.createFile(dir.resolve("empty.pth"));
        Path junk = Files.writeString(dir.resolve("junk.safetensors"), "this is not a weights file");
        assertBadInput("unknown architecture", "info", "--arch", "resnet50");
        assertBadInput("--depth", "info", "--arch", "densenet-bc");
        assertBadInput("empty.pth", "info", "--weights", empty.toString());
        assertBadInput("junk.safetensors", "forward", "--weights", junk.toString(), "--input", junk.toString(), "--output",
                dir.resolve("o").toString());
        assertBadInput("minimum input is 29x29", "bench", "--arch", "densenet121", "--image", "28", "--seconds", "0.1");
        assertBadInput("Unknown option", "bench", "--arch", "densenet121", "--frobnicate");
        assertBadInput("device", "bench", "--arch", "densenet-bc", "--depth", "10", "--device", "tpu", "--seconds", "0.1");
        assertBadInput("no such file", "info", "--config", dir.resolve("missing.json").toString());
        Path w = Files.copy(GOLDEN.resolve("odd-k5.safetensors"), dir.resolve("w.safetensors"));
        Path in = Files.copy(GOLDEN.resolve("odd-k5-io.safetensors"), dir.resolve("in.safetensors"));
        long wBytes = Files.size(w), inBytes = Files.size(in);
        assertBadInput("same file as --weights", "forward", "--weights", w.toString(), "--input", in.toString(), "--output", w.toString());
        assertBadInput("same file as --input", "forward", "--weights", w.toString(), "--input", in.toString(), "--output",
                dir.resolve(".").resolve("in.safetensors").toString());
        assertEquals(wBytes, Files.size(w), "weights untouched");
        assertEquals(inBytes, Files.size(in), "input untouched");
        assertBadInput("dtype must be fp32, tf32, fp16, bf16 or int8", "bench", "--arch", "densenet-bc", "--depth", "10", "--dtype",
                "fp64", "--seconds", "0.1");
        assertBadInput("runs on CUDA only", "bench", "--arch", "densenet-bc", "--depth", "10", "--device", "cpu", "--dtype",
                "fp16", "--seconds", "0.1");
        if (!io.densenet4j.internal.NativeLibrary.cudaAvailable()) {
            assertBadInput("device cuda is unavailable", "bench", "--arch", "densenet-bc", "--depth", "10", "--device", "cuda",
                    "--seconds", "0.1");
        }
    }

    @Test
    void benchReportsThroughputAndPeakNativeBytes() {
        assertEquals(0, run("bench", "--arch", "densenet-bc", "--depth", "16", "--growth-rate", "4", "--batch", "2",
                "--seconds", "0.2", "--threads", "2", "--json"), stderr());
        String s = stdout().strip();
        assertTrue(s.matches("\\{.*\"img_per_s\":[0-9.]+.*\"peak_native_bytes\":[1-9][0-9]*.*\\}"), s);
    }

    @Test
    void benchClientsReportsServingKeysAndCoalesces() {
        assertEquals(0, run("bench", "--arch", "densenet-bc", "--depth", "16", "--growth-rate", "4", "--clients", "4",
                "--max-batch", "4", "--max-delay-ms", "5", "--input", "uint8", "--seconds", "0.3", "--threads", "2", "--json"), stderr());
        String s = stdout().strip();
        assertTrue(s.matches("\\{.*\"img_per_s\":[0-9.]+.*\"p50_ms\":[0-9.]+.*\"p99_ms\":[0-9.]+.*\"mean_batch\":[0-9.]+.*\\}"), s);
        double meanBatch = Double.parseDouble(s.replaceAll(".*\"mean_batch\":([0-9.]+).*", "$1"));
        assertTrue(meanBatch >= 1.0 && meanBatch <= 4.0, "mean batch within [1, max-batch]: " + s);
        double p50 = Double.parseDouble(s.replaceAll(".*\"p50_ms\":([0-9.]+).*", "$1"));
        double p99 = Double.parseDouble(s.replaceAll(".*\"p99_ms\":([0-9.]+).*", "$1"));
        assertTrue(p50 > 0 && p99 >= p50, "p99 >= p50 > 0: " + s);
        assertBadInput("--clients must be from 0 to 4096", "bench", "--arch", "densenet121", "--clients", "-1");
        assertBadInput("--input must be float or uint8", "bench", "--arch", "densenet121", "--input", "int16");
        assertBadInput("--max-batch must be from 1 to 4096", "bench", "--arch", "densenet121", "--clients", "2", "--max-batch", "0");
        assertBadInput("apply to inference", "bench", "--arch", "densenet-bc", "--depth", "10", "--train", "--clients", "2");
    }

    @Test
    void weightsThatDoNotFitNameWhatTheyLookLike(@TempDir Path dir) throws Exception {
        String w = GOLDEN.resolve("bc-28-fmnist.safetensors").toString();
        assertBadInput("weights do not fit densenet121; they look like DenseNet(k=12, blocks=[4,4,4], init=24, stem=cifar, in=1, classes=10)",
                "info", "--weights", w, "--arch", "densenet121");
        assertTrue(stderr().strip().length() <= 260, "short: " + stderr());
        assertTrue(stderr().contains("first: features.conv0.weight (expected [64, 3, 7, 7], got [24, 1, 3, 3])"), stderr());
        assertEquals(2, run("info", "--weights", w, "--arch", "densenet121", "--verbose"));
        java.util.List<String> lines = stderr().strip().lines().toList();
        assertEquals(1 + 469 + 137, lines.size(), "the line, then every missing and mis-shaped key");
        assertTrue(lines.contains("  missing: features.norm0.weight [64]"), lines.get(1));
        assertEquals(0, run("info", "--weights", w), stderr());  // inferred: fits
        // no Java class names: a directory as weights, as a dataset
        Path d = Files.createDirectory(dir.resolve("adir"));
        assertBadInput(d + ": cannot read: is a directory", "info", "--weights", d.toString());
        assertBadInput("is a directory; tensors: takes a .safetensors file", "evaluate", "--weights", w, "--dataset", "tensors:" + d);
        assertFalse(stderr().matches("(?s).*java\\.[a-z]+\\.[A-Za-z.]*Exception.*"), stderr());
    }

    /** A small RGB DenseNet-BC (2 classes) as safetensors weights, and PNGs of 36x36 in class folders. */
    static Path rgbWeights(Path dir) {
        io.densenet4j.DenseNetConfig cfg = io.densenet4j.DenseNets.densenetBC(10, 4, 3, 2);
        Path w = dir.resolve("bc10.safetensors");
        io.densenet4j.io.SafeTensors.write(w, io.densenet4j.Initializers.torchvision(new io.densenet4j.DenseNet(cfg), 5), java.util.Map.of());
        return w;
    }

    static Path png(Path file, int seed) throws java.io.IOException {
        java.awt.image.BufferedImage im = new java.awt.image.BufferedImage(36, 36, java.awt.image.BufferedImage.TYPE_INT_RGB);
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        for (int y = 0; y < 36; y++) for (int x = 0; x < 36; x++) im.setRGB(x, y, r.nextInt(1 << 24));
        Files.createDirectories(file.getParent());
        javax.imageio.ImageIO.write(im, "png", file.toFile());
        return file;
    }

    @Test
    void predictGivesEachUnreadableFileItsOwnLineAndTheOthersTheirResults(@TempDir Path dir) throws Exception {
        Path w = rgbWeights(dir);
        Path a = png(dir.resolve("a.png"), 1), b = png(dir.resolve("b.png"), 2);
        Path bad = Files.writeString(dir.resolve("broken.png"), "not an image");
        assertEquals(2, run("predict", "--weights", w.toString(), "--arch", "densenet-bc", "--depth", "10", "--growth-rate", "4",
                "--num-classes", "2", "--resize", "36", "--crop", "36", "--top", "1", a.toString(), bad.toString(), b.toString()));
        assertTrue(stdout().contains(a + ":") && stdout().contains(b + ":"), stdout());
        java.util.List<String> errs = stderr().strip().lines().toList();
        assertEquals(2, errs.size(), stderr());
        assertTrue(errs.get(0).contains("broken.png") && errs.get(1).contains("1 of 3 images could not be read"), stderr());
        // one file alone: its one line
        assertBadInput("broken.png", "predict", "--weights", w.toString(), "--arch", "densenet-bc", "--depth", "10", "--growth-rate", "4",
                "--num-classes", "2", bad.toString());
    }

    @Test
    void evaluateOnAFolderSkipsBadFilesOnlyWhenAsked(@TempDir Path dir) throws Exception {
        Path w = rgbWeights(dir);
        Path root = dir.resolve("imgs");
        for (int i = 0; i < 3; i++) {
            png(root.resolve("cat").resolve(i + ".png"), i);
            png(root.resolve("dog").resolve(i + ".png"), 10 + i);
        }
        Path bad = Files.writeString(root.resolve("dog").resolve("zz-broken.png"), "truncated");
        String[] args = {"evaluate", "--weights", w.toString(), "--arch", "densenet-bc", "--depth", "10", "--growth-rate", "4",
            "--num-classes", "2", "--dataset", "folder:" + root, "--normalize", "0.5,0.25"};
        assertBadInput("zz-broken.png", args);
        String[] skip = java.util.Arrays.copyOf(args, args.length + 1);
        skip[args.length] = "--skip-bad";
        assertEquals(0, run(skip), stderr());
        assertTrue(stderr().contains("note: skipped") && stderr().contains("zz-broken.png"), stderr());
        assertTrue(stdout().matches("(?s)accuracy: [01]\\.[0-9]{4} \\([0-9]+/6\\).*"), stdout());
    }

    @Test
    void helpTextsAgreeWithWhatIsAccepted() {
        assertEquals(0, run("--help"));
        assertFalse(stdout().contains("inference only"), stdout());
        assertTrue(stdout().contains("training"), stdout());
        for (String cmd : new String[] {"bench", "train", "predict", "evaluate"}) {
            assertEquals(0, run(cmd, "--help"));
            assertTrue(stdout().contains("0 (all cores, the default) to 1024"), cmd + ": " + stdout());
        }
        // the same error, worded the same in inference and training commands
        assertBadInput("--threads must be from 0 (all cores) to 1024, got 2000", "bench", "--arch", "densenet121", "--threads", "2000");
        assertBadInput("--threads must be from 0 (all cores) to 1024, got 2000", "train", "--threads", "2000");
    }
}
