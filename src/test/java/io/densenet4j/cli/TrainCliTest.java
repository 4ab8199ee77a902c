package io.densenet4j.cli;

import io.densenet4j.io.SafeTensors;
import io.densenet4j.train.Checkpoint;
import io.densenet4j.io.StateDict;
import io.densenet4j.io.StateDicts;
import io.densenet4j.io.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** train / evaluate / bench --train from the command line, on a small tensor-file dataset. */
class TrainCliTest extends CliHarness {
    static Path tensors(Path dir, int n, int classes) {
        SplittableRandom r = new SplittableRandom(3);
        float[] x = new float[n * 2 * 12 * 12];
        long[] y = new long[n];
        for (int i = 0; i < n; i++) {
            y[i] = i % classes;
            for (int j = 0; j < 288; j++) x[i * 288 + j] = (float) (r.nextDouble() + y[i]);
        }
        StateDict sd = new StateDict();
        sd.put("input", Tensor.ofFloats(new long[] {n, 2, 12, 12}, x));
        sd.put("labels", Tensor.ofLongs(new long[] {n}, y));
        Path f = dir.resolve("data.safetensors");
        SafeTensors.write(f, sd, Map.of());
        return f;
    }

    /**
     * quantize on a checkpoint: its optimizer state goes along (resuming loses nothing), a replaced
     * normalisation is said and stored, and int8 evaluation runs with it.
     */
    @Test
    void quantizeKeepsACheckpointsStateAndStoresTheNormalisationUsed(@TempDir Path dir) throws Exception {
        Path data = tensors(dir, 48, 3);
        Path runDir = dir.resolve("run");
        assertEquals(0, run("train", "--dataset", "tensors:" + data, "--val-split", "0.25", "--arch", "densenet-bc", "--depth", "10",
                "--growth-rate", "4", "--epochs", "1", "--batch", "8", "--threads", "2", "--out", runDir.toString()), err.toString());
        Path ck = runDir.resolve("checkpoint.safetensors"), q = dir.resolve("q.safetensors");
        assertEquals(0, run("quantize", "--weights", ck.toString(), "--normalize", "0.5,2;0.5,2", "--images", "16", "--threads", "2",
                "--out", q.toString()), err.toString());
        assertTrue(err.toString().contains("--normalize 0.5,2;0.5,2 replaces the checkpoint's normalisation"), err.toString());
        assertTrue(out.toString().startsWith("calibrated on 16 images of tensors:" + data + " in "), out.toString());  // no "training split"
        var in = SafeTensors.read(ck);
        var got = SafeTensors.read(q);
        long momenta = 0;
        for (var e : in.tensors().asMap().entrySet()) {
            if (!e.getKey().startsWith(Checkpoint.MOMENTUM_PREFIX)) continue;
            momenta++;
            assertArrayEquals(e.getValue().floats(), got.tensors().require(e.getKey()).floats(), e.getKey());
        }
        assertTrue(momenta > 0, "the checkpoint has momentum buffers");
        assertEquals("0.5,0.5", got.metadata().get("normalization.mean"));
        assertEquals("2.0,2.0", got.metadata().get("normalization.std"));
        assertEquals(in.metadata().get("step"), got.metadata().get("step"));
        assertEquals(0, run("evaluate", "--weights", q.toString(), "--dataset", "tensors:" + data, "--dtype", "int8", "--threads", "2"),
                err.toString());
        assertTrue(out.toString().startsWith("accuracy: "), out.toString());
    }

    @Test
    void trainEvaluateAndSaveState(@TempDir Path dir) throws Exception {
        Path data = tensors(dir, 64, 4);
        Path runDir = dir.resolve("run");
        Path state = dir.resolve("state.safetensors");
        assertEquals(0, run("train", "--dataset", "tensors:" + data, "--val-split", "0.25", "--arch", "densenet-bc", "--depth", "10",
                "--growth-rate", "4", "--epochs", "2", "--batch", "8", "--threads", "2", "--out", runDir.toString(), "--save-state",
                state.toString()), err.toString());
        assertTrue(out.toString().contains("test accuracy: "), out.toString());
        assertTrue(out.toString().contains("sample test images:"), out.toString());
        assertEquals(3, Files.readAllLines(runDir.resolve("metrics.csv")).size(), "header + 2 epochs");
        assertTrue(Files.size(runDir.resolve("plot.png")) > 1000);
        StateDict sd = StateDicts.load(state);
        assertEquals(4, sd.require("classifier.weight").dim(0));
        assertEquals(2, sd.require("features.conv0.weight").dim(1), "input channels come from the dataset");

        assertEquals(0, run("evaluate", "--weights", runDir.resolve("checkpoint.safetensors").toString(), "--dataset", "tensors:" + data,
                "--threads", "2"), err.toString());
        assertTrue(out.toString().matches("(?s)accuracy: [01]\\.[0-9]{4} \\([0-9]+/64\\).*confusion matrix.*"), out.toString());

        // fine-tuning from those weights onto 3 classes re-initialises the classifier
        Path data3 = tensors(Files.createDirectories(dir.resolve("three")), 48, 3);
        assertEquals(0, run("train", "--dataset", "tensors:" + data3, "--weights", state.toString(), "--steps", "2", "--batch", "8",
                "--out", dir.resolve("ft").toString(), "--threads", "2"), err.toString());
        assertTrue(err.toString().contains("classifier re-initialised"), err.toString());
        // the 4-class checkpoint on 3-class data: refused before any note
        assertEquals(2, run("evaluate", "--weights", runDir.resolve("checkpoint.safetensors").toString(), "--dataset", "tensors:" + data3));
        assertEquals("densenet4j: error: the model has 4 classes, tensors:" + data3 + " has 3", stderr().strip());
    }

    @Test
    void resumeAfterStepsRunsToTheEndOnTheCheckpointsData(@TempDir Path dir) throws Exception {
        Path data = tensors(dir, 64, 4);
        Path runDir = dir.resolve("run");
        assertEquals(0, run("train", "--dataset", "tensors:" + data, "--val-split", "0.25", "--arch", "densenet-bc", "--depth", "10",
                "--growth-rate", "4", "--epochs", "2", "--batch", "8", "--threads", "2", "--out", runDir.toString(), "--steps", "3"), err.toString());
        assertTrue(err.toString().contains("stopped after 3 steps"), err.toString());
        Path ck = runDir.resolve("checkpoint.safetensors");
        byte[] before = Files.readAllBytes(ck);
        // a limit at or below the checkpoint's step, and invalid values of ignored options: refused, checkpoint untouched
        for (String[] args : new String[][] {{"--steps", "3"}, {"--steps", "2"}, {"--threads", "1025"}, {"--batch", "0"}}) {
            assertEquals(2, run("train", "--resume", ck.toString(), args[0], args[1]), stderr());
            assertTrue(stderr().strip().startsWith("densenet4j: error: ") && stderr().strip().lines().count() == 1, stderr());
            assertArrayEquals(before, Files.readAllBytes(ck));
        }
        // no --dataset / --val-split: the checkpoint knows them; --epochs is ignored with a note
        assertEquals(0, run("train", "--resume", ck.toString(), "--epochs", "7"), err.toString());
        assertTrue(err.toString().contains("--epochs ignored"), err.toString());
        assertTrue(out.toString().contains("test accuracy: "), out.toString());
        assertEquals(3, Files.readAllLines(runDir.resolve("metrics.csv")).size(), "header + 2 epochs");
        assertEquals(0, run("train", "--resume", ck.toString()), err.toString());
        assertTrue(out.toString().contains("is complete"), out.toString());
    }

    @Test
    void helpAndOneLineErrorsForAbsurdInput(@TempDir Path dir) throws Exception {
        assertEquals(0, run("train", "--help"));
        assertTrue(out.toString().contains("--resume"), out.toString());
        Path data = tensors(dir, 32, 2);
        Path huge = Files.writeString(dir.resolve("huge.json"), "{\"growth_rate\": 100000, \"block_config\": [6], \"num_init_features\": 64}");
        String[][] bad = {
            {"bench", "--arch", "densenet121", "--batch", "1000000000", "--seconds", "0.1"},
            {"bench", "--config", huge.toString(), "--seconds", "0.1"},
            {"info", "--arch", "densenet-bc", "--depth", "100000000"},
            {"train", "--dataset", "tensors:" + data, "--arch", "densenet-bc", "--depth", "10", "--batch", "8", "--lr", "1e30",
                "--epochs", "3", "--out", dir.resolve("div").toString()},
            {"train", "--dataset", "tensors:" + data, "--arch", "densenet-bc", "--depth", "10", "--batch", "8",
                "--save-state", dir.resolve("no/such/dir/s.safetensors").toString()},
            {"forward", "--weights", "../shared/golden/odd-k5.safetensors", "--input", "../shared/golden/odd-k5-io.safetensors",
                "--output", dir.toString()},
        };
        for (String[] args : bad) {
            long t0 = System.nanoTime();
            assertEquals(2, run(args), String.join(" ", args) + " -> " + err);
            assertEquals(1, err.toString().strip().lines().filter(l -> l.startsWith("densenet4j:")).count(), err.toString());
            assertTrue(!err.toString().contains("\tat "), "no stack trace: " + err);
            assertTrue(System.nanoTime() - t0 < 60e9, "took too long: " + String.join(" ", args));
        }
    }

    @Test
    void benchTrainPrintsStepTimeAndMemory() {
        assertEquals(0, run("bench", "--train", "--arch", "densenet-bc", "--depth", "16", "--growth-rate", "4", "--batch", "4",
                "--seconds", "0.2", "--threads", "2"), err.toString());
        assertTrue(out.toString().matches("(?s)arch=densenet-bc-L16 train=true device=cpu dtype=fp32 memory=efficient batch=4 .*ms_per_step=[0-9.]+ .*peak_native_bytes=[1-9][0-9]* .*"),
                out.toString());
    }

    @Test
    void badTrainingInputExitsTwo(@TempDir Path dir) throws Exception {
        Path data = tensors(dir, 16, 2);
        String[][] bad = {
            {"train", "--dataset", "imagenet22k"},
            {"train", "--dataset", "tensors:" + data, "--memory", "lots", "--arch", "densenet-bc", "--depth", "10"},
            {"train", "--dataset", "tensors:" + data, "--epochs", "0", "--arch", "densenet-bc", "--depth", "10"},
            {"train", "--dataset", "tensors:" + data, "--batch", "64", "--arch", "densenet-bc", "--depth", "10"},
            {"train", "--dataset", "tensors:" + data, "--weights", "../shared/golden/bc-28-fmnist.safetensors", "--batch", "8"},  // 1 input channel, data has 2
            {"train", "--resume", data.toString()},
            {"train", "--dataset", "tensors:" + data, "--device", "tpu", "--arch", "densenet-bc", "--depth", "10"},
            {"train", "--dataset", "tensors:" + data, "--device", io.densenet4j.internal.NativeLibrary.cudaAvailable() ? "cuda:99" : "cuda",
                "--arch", "densenet-bc", "--depth", "10", "--batch", "4", "--steps", "1"},
            {"evaluate", "--weights", dir.resolve("nope.safetensors").toString(), "--dataset", "tensors:" + data},
            {"train", "--dataset", "tensors:" + data, "--device", "cpu", "--dtype", "fp16", "--arch", "densenet-bc", "--depth", "10"},
            {"train", "--dataset", "tensors:" + data, "--device", "cpu", "--dtype", "tf32", "--arch", "densenet-bc", "--depth", "10"},
            {"bench", "--train", "--device", "cpu", "--dtype", "bf16", "--arch", "densenet-bc", "--depth", "10", "--batch", "2"},
        };
        for (String[] args : bad) {
            assertEquals(2, run(args), String.join(" ", args) + " -> " + err);
            assertEquals(1, err.toString().strip().lines().filter(l -> l.startsWith("densenet4j:")).count(), err.toString());
        }
        // densenet121's four pooling stages shrink 12x12 below 1x1: refused before the banner, nothing else printed, no folder
        Path small = dir.resolve("small");
        assertEquals(2, run("train", "--dataset", "tensors:" + data, "--arch", "densenet121", "--batch", "8", "--device", "cpu",
                "--out", small.toString()), err.toString());
        assertEquals("densenet4j: error: input 12x12 is too small for this network: every dense block needs at least 1x1 pixels, "
                + "so the minimum input is 29x29", stderr().strip());
        assertEquals("", stdout());
        assertTrue(!Files.exists(small), "no output folder");
    }

    @Test
    void refusedRunsPrintOneErrorLineAndLeaveNothing(@TempDir Path dir) throws Exception {
        Path data = tensors(dir, 16, 2);
        Path threeClasses = tensors(Files.createDirectories(dir.resolve("three")), 16, 3);
        Path file = Files.writeString(dir.resolve("afile"), "x");
        Path outDir = dir.resolve("out");
        String d = "tensors:" + data;
        java.util.List<String[]> bad = new java.util.ArrayList<>(java.util.List.of(
            new String[] {"train", "--dataset", d, "--threads", "100000", "--out", outDir.toString()},
            new String[] {"bench", "--arch", "densenet-bc", "--depth", "10", "--batch", "1", "--threads", "10000", "--seconds", "0.1"},
            new String[] {"train", "--dataset", d, "--config", "../shared/golden/odd-k5.json", "--depth", "100", "--out", outDir.toString()},
            new String[] {"train", "--dataset", d, "--weights", "../shared/golden/odd-k5.safetensors", "--growth-rate", "24", "--out", outDir.toString()},
            new String[] {"info", "--arch", "densenet121", "--depth", "40"},
            new String[] {"train", "--dataset", d, "--batch", "8", "--device", "cpu", "--out", file.toString()},
            new String[] {"train", "--dataset", d, "--batch", "8", "--device", "cpu", "--out", file.resolve("sub").toString()},
            new String[] {"train", "--dataset", d, "--batch", "abc"},
            new String[] {"train", "--dataset", d, "--no-such-option"},
            new String[] {"train", "--dataset", d, "--test-dataset", "tensors:" + threeClasses, "--batch", "8", "--out", outDir.toString()},
            new String[] {"train", "--dataset", d, "--in-channels", "3", "--batch", "8", "--out", outDir.toString()},
            new String[] {"train", "--dataset", d, "--batch", "8", "--out", ""},
            new String[] {"train", "--dataset", d, "--batch", "8", "--weight-decay", "Infinity", "--out", outDir.toString()},
            new String[] {"bench", "--arch", "densenet-bc", "--depth", "100", "--batch", "10000", "--image", "32", "--seconds", "0.1",
                "--device", "cpu"}));
        if (!io.densenet4j.internal.NativeLibrary.cudaAvailable()) {
            // auto finds no GPU: the dtype error names why, and comes alone (no fallback line before it)
            bad.add(new String[] {"train", "--dataset", d, "--dtype", "fp16", "--batch", "8", "--out", outDir.toString()});
            bad.add(new String[] {"bench", "--arch", "densenet-bc", "--depth", "10", "--batch", "1", "--dtype", "fp16", "--seconds", "0.1"});
        }
        for (String[] args : bad) {
            assertEquals(2, run(args), String.join(" ", args) + " -> " + stderr());
            String e = stderr().strip();
            assertTrue(e.startsWith("densenet4j: error: ") && e.lines().count() == 1, String.join(" ", args) + " -> " + e);
            assertEquals("", stdout(), String.join(" ", args));
            assertTrue(!Files.exists(outDir), "no output folder after " + String.join(" ", args));
            if (args[args.length - 1].equals(file.toString())) assertTrue(e.contains("is a file"), e);
            if (java.util.List.of(args).contains("fp16")) assertTrue(e.contains("device auto found none"), e);
        }
        assertEquals("x", Files.readString(file), "the file given as --out is untouched");
    }

    @Test
    void depthAndGrowthRateAloneNameTheDefaultDenseNetBC(@TempDir Path dir) throws Exception {
        Path data = tensors(dir, 16, 2);
        assertEquals(0, run("train", "--dataset", "tensors:" + data, "--depth", "16", "--growth-rate", "4", "--batch", "8", "--steps", "1",
                "--device", "cpu", "--threads", "2", "--out", dir.resolve("r").toString()), stderr());
        assertTrue(stderr().contains("DenseNet(k=4, blocks=[2, 2, 2]"), stderr());
        assertTrue(stderr().contains("stopped after 1 step (--steps)"), stderr());
    }

    /**
     * Issue 13.1: the CLI's two SGD steps from the golden bc-28-fmnist weights on its already
     * normalised batch (a tensors: dataset, hence --normalize none by default) reproduce PyTorch's
     * step-2 state (../shared/golden/README.md: relative L2 <= 1e-4 per tensor, num_batches_tracked 9).
     */
    @Test
    void twoStepCliRunMatchesPyTorchsStepTwoState(@TempDir Path dir) {
        Path golden = Path.of("../shared/golden");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(golden.resolve("bc-28-fmnist-io.safetensors")), "golden files absent");
        StateDict ref = SafeTensors.read(golden.resolve("bc-28-fmnist-io.safetensors")).tensors();
        StateDict batch = new StateDict();
        batch.put("input", ref.require("input"));
        batch.put("labels", ref.require("labels"));
        Path data = dir.resolve("batch.safetensors");
        SafeTensors.write(data, batch, Map.of("num_classes", "10"));
        Path state = dir.resolve("step2.safetensors");
        String[] common = {"train", "--dataset", "tensors:" + data, "--weights", golden.resolve("bc-28-fmnist.safetensors").toString(),
            "--epochs", "2", "--batch", "8", "--lr", "0.1", "--schedule", "constant", "--momentum", "0.9", "--nesterov",
            "--weight-decay", "1e-4", "--no-shuffle", "--no-augment", "--threads", "2", "--out", dir.resolve("run").toString(),
            "--save-state", state.toString()};
        assertEquals(0, run(common), stderr());
        assertTrue(stderr().contains("normalize none"), "tensors: default is none: " + stderr());
        StateDict after = StateDicts.load(state);
        int checked = 0;
        for (String k : ref.keys()) {
            if (!k.startsWith("step2.state.")) continue;
            String key = k.substring("step2.state.".length());
            Tensor want = ref.require(k);
            if (key.endsWith("num_batches_tracked")) {
                assertEquals(9L, after.require(key).longs()[0], key);
            } else {
                io.densenet4j.train.GoldenTrainingTest.assertRel(want.floats(), after.require(key).floats(), 1e-4, key);
            }
            checked++;
        }
        assertTrue(checked > 100, "every state entry compared: " + checked);
        // --no-nesterov (plain momentum) is a different trajectory: the flags are honoured
        String[] plain = java.util.Arrays.copyOf(common, common.length);
        for (int i = 0; i < plain.length; i++) if (plain[i].equals("--nesterov")) plain[i] = "--no-nesterov";
        assertEquals(0, run(plain), stderr());
        assertTrue(io.densenet4j.train.GoldenTrainingTest.relL2(ref.require("step2.state.classifier.weight").floats(),
                StateDicts.load(state).require("classifier.weight").floats()) > 1e-3, "--no-nesterov differs from Nesterov");
        // computed normalisation on the same already-normalised batch moves the result away: the default matters
        String[] computed = java.util.Arrays.copyOf(common, common.length + 2);
        computed[common.length] = "--normalize";
        computed[common.length + 1] = "computed";
        assertEquals(0, run(computed), stderr());
        double e = io.densenet4j.train.GoldenTrainingTest.relL2(ref.require("step2.state.classifier.weight").floats(),
                StateDicts.load(state).require("classifier.weight").floats());
        assertTrue(e > 1e-3, "renormalising changes the trajectory: " + e);
        // the choice is stored: info on the checkpoint prints it
        assertEquals(0, run("info", "--weights", dir.resolve("run").resolve("checkpoint.safetensors").toString()), stderr());
        assertTrue(stdout().contains("normalize: computed ("), stdout());
        assertTrue(stdout().contains("input: 1x28x28 (as trained)"), stdout());
    }

    @Test
    void badNormalizeExitsTwo(@TempDir Path dir) {
        Path data = tensors(dir, 16, 2);
        for (String[] bad : new String[][] {
            {"--normalize", "imagenet", "imagenet is for 3-channel"},
            {"--normalize", "0.5", "must be computed|imagenet|none|MEAN,STD"},
            {"--normalize", "0.5,0", "positive STD"},
            {"--normalize", "0.1,0.2;0.3,0.4;0.5,0.6", "gives 3 MEAN,STD pairs; the network takes 2 channels"},
            {"--normalize", "a,b", "decimal numbers"}}) {
            assertEquals(2, run("train", "--dataset", "tensors:" + data, "--arch", "densenet-bc", "--depth", "10", "--growth-rate", "4",
                    "--steps", "1", "--batch", "8", "--out", dir.resolve("r").toString(), bad[0], bad[1]), stderr());
            assertEquals(1, stderr().strip().lines().count(), stderr());
            assertTrue(stderr().contains(bad[2]), bad[1] + ": " + stderr());
        }
        assertTrue(!Files.exists(dir.resolve("r")), "a refused run leaves no folder");
    }

    /** SIGTERM to a real train process: it finishes the step, saves a resumable checkpoint and exits 143 (issue 13.2). */
    @Test
    void sigtermSavesAMidEpochCheckpointAndExits143(@TempDir Path dir) throws Exception {
        Path data = tensors(dir, 4000, 3);
        Path runDir = dir.resolve("run");
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(javaBin, "-cp", System.getProperty("java.class.path"), "io.densenet4j.cli.Main", "train",
                "--dataset", "tensors:" + data, "--arch", "densenet-bc", "--depth", "10", "--growth-rate", "4", "--epochs", "50",
                "--batch", "8", "--threads", "1", "--out", runDir.toString());
        pb.redirectErrorStream(true);
        Process p = pb.start();
        StringBuilder log = new StringBuilder();
        try (java.io.BufferedReader r = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(), java.nio.charset.StandardCharsets.UTF_8))) {
            String line;
            boolean sent = false;
            while ((line = r.readLine()) != null) {
                log.append(line).append('\n');
                if (!sent && line.startsWith("epoch 1/50 batch")) {  // training is under way, mid-epoch
                    new ProcessBuilder("kill", "-TERM", Long.toString(p.pid())).inheritIO().start().waitFor();  // (destroy() would close our pipe)
                    sent = true;
                }
            }
        }
        assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "exits");
        assertEquals(143, p.exitValue(), log.toString());
        assertTrue(log.toString().matches("(?s).*stopped after [0-9]+ steps \\(interrupted\\) at epoch 1/50, batch [0-9]+/500;.*--resume .*checkpoint.safetensors\n"),
                log.toString());
        Checkpoint ck = Checkpoint.read(runDir.resolve("checkpoint.safetensors"));
        assertTrue(ck.epoch() == 0 && ck.batch() > 0, "mid-epoch: batch " + ck.batch());
        assertEquals(2, Files.readAllLines(runDir.resolve("metrics.csv")).size(), "header + the epoch so far");
        assertTrue(Files.exists(runDir.resolve("plot.png")));
        // and it resumes from there (bit-exactness of a mid-epoch resume: TrainerTest)
        assertEquals(0, run("train", "--resume", runDir.resolve("checkpoint.safetensors").toString(), "--steps", Long.toString(ck.step() + 3)), stderr());
        assertTrue(stderr().contains("resuming"), stderr());
        assertEquals(ck.step() + 3, Checkpoint.read(runDir.resolve("checkpoint.safetensors")).step());
    }

    /** A tensors: file whose 'input' is F64 (as numpy writes by default), written by hand. */
    static Path float64Tensors(Path dir, int n) throws Exception {
        int per = 1 * 12 * 12;
        java.nio.ByteBuffer x = java.nio.ByteBuffer.allocate(n * per * 8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n * per; i++) x.putDouble((i % 7) / 7.0 + (i / per % 2));
        java.nio.ByteBuffer y = java.nio.ByteBuffer.allocate(n * 8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) y.putLong(i % 2);
        String header = "{\"input\":{\"dtype\":\"F64\",\"shape\":[" + n + ",1,12,12],\"data_offsets\":[0," + x.capacity() + "]},"
                + "\"labels\":{\"dtype\":\"I64\",\"shape\":[" + n + "],\"data_offsets\":[" + x.capacity() + "," + (x.capacity() + y.capacity()) + "]}}";
        byte[] h = header.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        java.nio.ByteBuffer len = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(h.length);
        Path f = dir.resolve("f64.safetensors");
        try (java.io.OutputStream o = Files.newOutputStream(f)) {
            o.write(len.array());
            o.write(h);
            o.write(x.array());
            o.write(y.array());
        }
        return f;
    }

    @Test
    void float64TensorsAreConvertedWithANoteAndRelativeOutIsLoggedAbsolute(@TempDir Path dir) throws Exception {
        Path data = float64Tensors(dir, 16);
        Path rel = Path.of("target", "test-relative-out-" + ProcessHandle.current().pid());
        try {
            assertEquals(0, run("train", "--dataset", "tensors:" + data, "--arch", "densenet-bc", "--depth", "10", "--growth-rate", "4",
                    "--steps", "1", "--batch", "8", "--threads", "2", "--out", rel.toString()), stderr());
            assertTrue(stderr().contains("stores 'input' as F64; converted to float32"), stderr());
            assertTrue(stderr().contains("-> " + rel.toAbsolutePath()), "the folder, absolute: " + stderr());
            assertTrue(Files.exists(rel.resolve("checkpoint.safetensors")));
            assertEquals(0, run("evaluate", "--weights", rel.resolve("checkpoint.safetensors").toString(), "--threads", "2"), stderr());
            assertTrue(stderr().contains("stores 'input' as F64"), stderr());
        } finally {
            if (Files.exists(rel)) try (var w = Files.walk(rel)) {
                w.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
