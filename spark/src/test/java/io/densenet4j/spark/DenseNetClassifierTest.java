package io.densenet4j.spark;

import io.densenet4j.DenseNet;
import io.densenet4j.DenseNetConfig;
import io.densenet4j.DenseNets;
import io.densenet4j.Initializers;
import io.densenet4j.Predictor;
import io.densenet4j.image.ColorMode;
import io.densenet4j.image.ImageDecoder;
import io.densenet4j.image.ImageTransform;
import io.densenet4j.io.SafeTensors;
import io.densenet4j.io.StateDict;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The transformer in Spark local[2] against direct Predictor calls (issue 11). */
class DenseNetClassifierTest {
    static SparkSession spark;
    static final Path GOLDEN = Path.of("../../shared/golden");
    static final Path IMAGES = Path.of("../../shared/images");

    @BeforeAll
    static void start() {
        spark = session();
    }

    /**
     * The test session, configured as the runner configures its own (local files through Hadoop's
     * raw file system, which reads names with ':'); the runner stops it, so tests get it again.
     */
    static SparkSession session() {
        return SparkSession.builder().master("local[2]").appName("densenet4j-test").config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "2").config("spark.hadoop.fs.file.impl", "org.apache.hadoop.fs.RawLocalFileSystem").getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
        EngineCache.closeAll();
    }

    static final DenseNetConfig CFG = DenseNets.densenetBC(10, 4, 3, 5);

    static Path weights(Path dir) {
        Path w = dir.resolve("bc10.safetensors");
        SafeTensors.write(w, Initializers.torchvision(new DenseNet(CFG), 9), Map.of());
        return w;
    }

    static Path png(Path file, int seed, int w, int h) throws Exception {
        BufferedImage im = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        SplittableRandom r = new SplittableRandom(seed);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) im.setRGB(x, y, r.nextInt(1 << 24));
        Files.createDirectories(file.getParent());
        javax.imageio.ImageIO.write(im, "png", file.toFile());
        return file;
    }

    static Dataset<Row> files(Path dir) {
        return spark.read().format("binaryFile").option("pathGlobFilter", "*.{png,jpg}").load(dir.toString()).repartition(2);
    }

    DenseNetClassifier classifier(Path w) {
        return new DenseNetClassifier().setWeightsPath(w.toString()).setResize(40).setCrop(32).setBatchSize(3).setTopK(3)
                .setLogitsCol("logits").setDevice("cpu").setThreads(1);
    }

    @Test
    void logitsEqualDirectForwardAndTheEngineIsBuiltOncePerJvm(@TempDir Path dir) throws Exception {
        Path w = weights(dir);
        for (int i = 0; i < 7; i++) png(dir.resolve("img").resolve("i" + i + ".png"), i, 40 + 3 * i, 44);
        int before = EngineCache.enginesCreated();
        List<Row> rows = classifier(w).transform(files(dir.resolve("img"))).select("path", "logits", "top1", "topk", "error").collectAsList();
        assertEquals(7, rows.size());
        ImageTransform tf = ImageTransform.builder().resize(40).crop(32).normalize(ImageTransform.IMAGENET_MEAN, ImageTransform.IMAGENET_STD).build();
        try (Predictor p = Predictor.create(CFG, Initializers.torchvision(new DenseNet(CFG), 9), new Predictor.Options("cpu", 1))) {
            for (Row r : rows) {
                Path f = Path.of(java.net.URI.create(r.getString(0)));
                float[] want = p.forward(tf.apply(ImageDecoder.read(f, ColorMode.RGB)), 1, 32, 32);
                List<Float> got = r.getList(1);
                assertEquals(5, got.size());
                int argmax = 0;
                for (int j = 0; j < 5; j++) {
                    assertEquals(want[j], got.get(j), 1e-5, f + " logit " + j);
                    if (want[j] > want[argmax]) argmax = j;
                }
                assertEquals(argmax, r.getInt(2), f.toString());
                assertEquals(3, r.getList(3).size());
                assertNull(r.get(4));
            }
        }
        // a second job with the same settings reuses the engine: one engine per (weights, settings) per JVM
        classifier(w).transform(files(dir.resolve("img"))).count();
        assertEquals(before + 1, EngineCache.enginesCreated(), "engines created in this (driver = executor) JVM");
    }

    /** dtype int8 with calibrated weights (device auto means the CPU): the transformer's logits equal a direct int8 forward's. */
    @Test
    void int8LogitsEqualDirectInt8Forward(@TempDir Path dir) throws Exception {
        for (int i = 0; i < 4; i++) png(dir.resolve("img").resolve("i" + i + ".png"), 20 + i, 40, 40);
        ImageTransform tf = ImageTransform.builder().resize(40).crop(32).normalize(ImageTransform.IMAGENET_MEAN, ImageTransform.IMAGENET_STD).build();
        io.densenet4j.io.StateDict q;
        try (io.densenet4j.Calibrator c = io.densenet4j.Calibrator.create(CFG, Initializers.torchvision(new DenseNet(CFG), 9), 1)) {
            c.observe(tf.apply(ImageDecoder.read(dir.resolve("img").resolve("i0.png"), ColorMode.RGB)), 1, 32, 32);
            q = c.quantizedWeights();
        }
        Path w = dir.resolve("int8.safetensors");
        SafeTensors.write(w, q, Map.of());
        List<Row> rows = classifier(w).setDtype("int8").setDevice("auto").transform(files(dir.resolve("img"))).select("path", "logits", "error")
                .collectAsList();
        assertEquals(4, rows.size());
        try (Predictor p = Predictor.create(CFG, q, new Predictor.Options("cpu", 1, "int8"))) {
            for (Row r : rows) {
                assertNull(r.get(2));
                float[] want = p.forward(tf.apply(ImageDecoder.read(Path.of(java.net.URI.create(r.getString(0))), ColorMode.RGB)), 1, 32, 32);
                List<Float> got = r.getList(1);
                for (int j = 0; j < 5; j++) assertEquals(want[j], got.get(j), 1e-5, r.getString(0) + " logit " + j);
            }
        }
    }

    @Test
    void goldenPhotosGetPredictsTopOne() throws Exception {
        Assumptions.assumeTrue(Files.exists(GOLDEN.resolve("densenet121.pth")), "golden files absent");
        List<Row> rows = new DenseNetClassifier().setWeightsPath(GOLDEN.resolve("densenet121.pth").toString()).setDevice("cpu").setThreads(2)
                .transform(files(IMAGES)).select("path", "top1").collectAsList();
        assertTrue(rows.size() >= 2, "the golden photos: " + rows.size());
        ImageTransform tf = ImageTransform.imagenet();
        try (Predictor p = Predictor.load(GOLDEN.resolve("densenet121.pth"), DenseNets.densenet121(), new Predictor.Options("cpu", 2))) {
            for (Row r : rows) {
                float[] l = p.forward(tf.apply(ImageDecoder.read(Path.of(java.net.URI.create(r.getString(0))))), 1, 224, 224);
                int best = 0;
                for (int j = 1; j < l.length; j++) if (l[j] > l[best]) best = j;
                assertEquals(best, r.getInt(1), r.getString(0));
            }
        }
    }

    @Test
    void emptyPartitionsAndAnEmptyFolderWork(@TempDir Path dir) throws Exception {
        Path w = weights(dir);
        png(dir.resolve("one").resolve("a.png"), 1, 40, 40);
        Dataset<Row> one = spark.read().format("binaryFile").load(dir.resolve("one").toString()).repartition(4);  // 3 empty partitions
        assertEquals(1, classifier(w).transform(one).filter("error is null and top1 is not null").count());
        Files.createDirectories(dir.resolve("empty"));
        Dataset<Row> none = spark.read().format("binaryFile").schema(one.schema()).load(dir.resolve("empty").toString());
        assertEquals(0, classifier(w).transform(none).count());
    }

    @Test
    void aCorruptImageFailsAloneWithOnErrorNullAndTheJobWithFail(@TempDir Path dir) throws Exception {
        Path w = weights(dir);
        for (int i = 0; i < 4; i++) png(dir.resolve("mix").resolve("ok" + i + ".png"), i, 40, 40);
        Files.writeString(dir.resolve("mix").resolve("zz-corrupt.png"), "not a png");
        List<Row> rows = classifier(w).setOnError("null").transform(files(dir.resolve("mix"))).select("path", "top1", "error").collectAsList();
        assertEquals(5, rows.size());
        for (Row r : rows) {
            if (r.getString(0).endsWith("zz-corrupt.png")) {
                assertNull(r.get(1));
                assertTrue(r.getString(2).contains("zz-corrupt.png"), r.getString(2));
            } else {
                assertNotNull(r.get(1), r.getString(0));
                assertNull(r.get(2));
            }
        }
        Exception e = assertThrows(Exception.class, () -> classifier(w).setOnError("fail").transform(files(dir.resolve("mix"))).count());
        Throwable root = e;
        while (root.getCause() != null) root = root.getCause();
        assertTrue(String.valueOf(root.getMessage()).contains("zz-corrupt.png"), "names the file: " + root);
    }

    @Test
    void saveAndLoadRoundTripTheParams(@TempDir Path dir) throws Exception {
        DenseNetClassifier c = new DenseNetClassifier().setWeightsPath("/some/w.pth").setTopK(7).setBatchSize(64).setDevice("cuda:1")
                .setOnError("null").setNormalize("0.5,0.25").setLogitsCol("lg");
        c.write().save(dir.resolve("stage").toString());
        DenseNetClassifier back = DenseNetClassifier.load(dir.resolve("stage").toString());
        assertEquals(c.uid(), back.uid());
        assertEquals("/some/w.pth", back.getOrDefault(back.weightsPath()));
        assertEquals(7, back.getOrDefault(back.topK()));
        assertEquals(64, back.getOrDefault(back.batchSize()));
        assertEquals("cuda:1", back.getOrDefault(back.device()));
        assertEquals("null", back.getOrDefault(back.onError()));
        assertEquals("0.5,0.25", back.getOrDefault(back.normalize()));
        assertEquals("lg", back.getOrDefault(back.logitsCol()));
        // and in a Pipeline
        org.apache.spark.ml.Pipeline pipe = new org.apache.spark.ml.Pipeline().setStages(new org.apache.spark.ml.PipelineStage[] {c});
        pipe.write().save(dir.resolve("pipe").toString());
        assertEquals(1, org.apache.spark.ml.Pipeline.load(dir.resolve("pipe").toString()).getStages().length);
    }

    @Test
    void badSettingsAreRefusedOnTheDriver(@TempDir Path dir) throws Exception {
        png(dir.resolve("x").resolve("a.png"), 1, 40, 40);
        Dataset<Row> df = files(dir.resolve("x"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new DenseNetClassifier().transform(df)).getMessage().contains("weightsPath"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new DenseNetClassifier().setWeightsPath("w").setInputCol("nope").transform(df))
                .getMessage().contains("inputCol 'nope'"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new DenseNetClassifier().setWeightsPath("w").setInputCol("path").transform(df))
                .getMessage().contains("must be binary"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new DenseNetClassifier().setWeightsPath("w").setOnError("skip").transform(df))
                .getMessage().contains("onError"));
    }

    @Test
    void theRunnerWritesOneRowPerImage(@TempDir Path dir) throws Exception {
        Path w = weights(dir);
        for (int i = 0; i < 3; i++) png(dir.resolve("imgs").resolve("p" + i + ".png"), i, 40, 40);
        Files.writeString(dir.resolve("imgs").resolve("bad.png"), "x");
        java.io.ByteArrayOutputStream printed = new java.io.ByteArrayOutputStream();
        java.io.PrintStream old = System.out;
        System.setOut(new java.io.PrintStream(printed, true, java.nio.charset.StandardCharsets.UTF_8));
        try {
            assertEquals(0, SparkPredict.run("predict", "--weights", w.toString(), "--images", dir.resolve("imgs").toString(), "--out",
                    dir.resolve("out").toString(), "--format", "csv", "--top", "2", "--batch", "2", "--resize", "40", "--crop", "32", "--device", "cpu"));
        } finally {
            System.setOut(old);
        }
        String line = printed.toString(java.nio.charset.StandardCharsets.UTF_8);
        // the counts observed during the write: 4 rows, the unreadable one among them
        assertTrue(line.contains("densenet4j-spark: 4 images in ") && line.contains(", 1 unreadable, "), line);
        SparkSession s = session();
        spark = s;  // the runner stopped the shared session
        List<Row> rows = s.read().option("header", "true").csv(dir.resolve("out").toString()).collectAsList();
        assertEquals(4, rows.size());
        assertEquals(List.of("path", "top1", "top1_prob", "topk", "topk_prob", "error"), List.of(rows.get(0).schema().fieldNames()));
        assertEquals(1, rows.stream().filter(r -> r.getString(5) != null).count(), "the unreadable file has its error");
        String imgs = dir.resolve("imgs").toString();
        // a failed run (corrupt weights) leaves the earlier output as it was, with nothing left beside it
        Path corrupt = Files.writeString(dir.resolve("bad.pth"), "xx");
        assertEquals(2, SparkPredict.run("predict", "--weights", corrupt.toString(), "--images", imgs, "--out", dir.resolve("out").toString(),
                "--format", "csv", "--resize", "40", "--crop", "32", "--device", "cpu"));
        // a network that does not take RGB input is refused before the job
        assertEquals(2, SparkPredict.run("predict", "--weights", GOLDEN.resolve("bc-28-fmnist.pth").toString(), "--config",
                GOLDEN.resolve("bc-28-fmnist.json").toString(), "--images", imgs, "--out", dir.resolve("out").toString(), "--device", "cpu"));
        // --out that is a file, or the images folder (or inside it): refused, nothing touched
        Path keep = Files.writeString(dir.resolve("keep.txt"), "precious");
        assertEquals(2, SparkPredict.run("predict", "--weights", w.toString(), "--images", imgs, "--out", keep.toString()));
        assertEquals("precious", Files.readString(keep));
        assertEquals(2, SparkPredict.run("predict", "--weights", w.toString(), "--images", imgs, "--out", imgs));
        assertEquals(2, SparkPredict.run("predict", "--weights", w.toString(), "--images", imgs, "--out", imgs + "/sub"));
        try (Stream<Path> left = Files.list(dir.resolve("imgs"))) {
            assertEquals(4, left.count(), "the images are all still there");
        }
        try (Stream<Path> beside = Files.list(dir)) {
            assertEquals(List.of(), beside.filter(q -> q.getFileName().toString().startsWith(".out.densenet4j-")).toList(), "no staging folder left");
        }
        SparkSession again = session();
        spark = again;
        assertEquals(4, again.read().option("header", "true").csv(dir.resolve("out").toString()).count(), "the earlier output is intact");
        for (String[] extra : List.of(new String[] {"--master", "local[0]"}, new String[] {"--threads", "5000"}, new String[] {"--crop", "100000"},
                new String[] {"--config", dir.resolve("nope.json").toString()})) {
            List<String> a = new java.util.ArrayList<>(List.of("predict", "--weights", w.toString(), "--images", imgs, "--out", "o"));
            a.addAll(List.of(extra));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SparkPredict.parse(a.toArray(new String[0])));
            assertTrue(e.getMessage().startsWith(extra[0]), e.getMessage());
        }
        assertEquals(2, SparkPredict.run("predict", "--weights", w.toString(), "--images", dir.resolve("nope").toString(), "--out", "o"));
        assertEquals(2, SparkPredict.run("predict", "--weights", w.toString(), "--images", dir.toString(), "--out", "o", "--format", "json"));
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> SparkPredict.parse(new String[] {"predict", "--weights", w.toString(), "--images", dir.toString(), "--out", "o", "--master", "bogus[2]"}));
        assertTrue(bad.getMessage().startsWith("--master must be local"), bad.getMessage());
        assertEquals("local[2]", SparkPredict.parse(new String[] {"predict", "--weights", w.toString(), "--images", dir.toString(), "--out", "o",
                "--master", "local[2]"}).get("master"));
        // a cluster path is Spark's to resolve (the README's spark-submit example reads hdfs:///photos); file: URIs are checked here
        assertEquals("hdfs:///photos", SparkPredict.parse(new String[] {"predict", "--weights", w.toString(), "--images", "hdfs:///photos",
                "--out", "o"}).get("images"));
        assertEquals(dir.toUri().toString(), SparkPredict.parse(new String[] {"predict", "--weights", w.toString(), "--images",
                dir.toUri().toString(), "--out", "o"}).get("images"));
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> SparkPredict.parse(new String[] {"predict",
                "--weights", w.toString(), "--images", "file://" + dir.resolve("nope"), "--out", "o"}));
        assertTrue(missing.getMessage().endsWith(": not a folder"), missing.getMessage());
    }

    /** resize 0 means no resize: the crop is taken from the image as it is. */
    @Test
    void resizeZeroCropsWithoutResizing(@TempDir Path dir) throws Exception {
        Path w = weights(dir);
        Path f = png(dir.resolve("img").resolve("a.png"), 3, 40, 44);
        Row r = classifier(w).setResize(0).transform(files(dir.resolve("img"))).select("logits").first();
        ImageTransform tf = ImageTransform.builder().resize(0).crop(32).normalize(ImageTransform.IMAGENET_MEAN, ImageTransform.IMAGENET_STD).build();
        try (Predictor p = Predictor.create(CFG, Initializers.torchvision(new DenseNet(CFG), 9), new Predictor.Options("cpu", 1))) {
            float[] want = p.forward(tf.apply(ImageDecoder.read(f, ColorMode.RGB)), 1, 32, 32);
            List<Float> got = r.getList(0);
            for (int j = 0; j < 5; j++) assertEquals(want[j], got.get(j), 1e-5, "logit " + j);
        }
        assertTrue(assertThrows(IllegalArgumentException.class, () -> classifier(w).setBatchSize(DenseNetClassifier.MAX_BATCH + 1)
                .transform(files(dir.resolve("img")))).getMessage().contains("batchSize must be at most"));
    }

    /** normalize auto (the default): a densenet4j checkpoint's own normalisation, as predict uses it; else ImageNet's. */
    @Test
    void aCheckpointsOwnNormalisationIsTheDefault(@TempDir Path dir) throws Exception {
        StateDict model = Initializers.torchvision(new DenseNet(CFG), 9);
        io.densenet4j.data.Normalization own = new io.densenet4j.data.Normalization(new float[] {0.6f, 0.4f, 0.3f}, new float[] {0.2f, 0.25f, 0.3f});
        Path ck = dir.resolve("ck.safetensors");
        new io.densenet4j.train.Checkpoint(CFG, io.densenet4j.train.TrainSettings.fromJson("{\"epochs\":1,\"batch\":2,\"lr\":0.1,\"schedule\":\"constant\","
                + "\"momentum\":0.9,\"nesterov\":false,\"weight_decay\":0,\"seed\":1,\"shuffle\":true,\"augment\":false,\"memory\":\"efficient\","
                + "\"threads\":1,\"max_steps\":1}"), model, Map.of(), 1, 0, 1, own, List.of(), 32, 32, Map.of()).write(ck);
        Path f = png(dir.resolve("img").resolve("a.png"), 5, 40, 44);
        try (Predictor p = Predictor.create(CFG, model, new Predictor.Options("cpu", 1))) {
            for (Path w : List.of(ck, weights(dir))) {
                io.densenet4j.data.Normalization n = w == ck ? own : new io.densenet4j.data.Normalization(ImageTransform.IMAGENET_MEAN, ImageTransform.IMAGENET_STD);
                Row r = classifier(w).transform(files(dir.resolve("img"))).select("logits").first();
                float[] want = p.forward(ImageTransform.builder().resize(40).crop(32).normalize(n.mean(), n.std()).build()
                        .apply(ImageDecoder.read(f, ColorMode.RGB)), 1, 32, 32);
                List<Float> got = r.getList(0);
                for (int j = 0; j < 5; j++) assertEquals(want[j], got.get(j), 1e-5, w.getFileName() + " logit " + j);
            }
            // resize and crop not set: the checkpoint's training size (32), as predict takes it
            Row r = new DenseNetClassifier().setWeightsPath(ck.toString()).setLogitsCol("logits").setDevice("cpu").setThreads(1)
                    .transform(files(dir.resolve("img"))).select("logits").first();
            float[] want = p.forward(ImageTransform.builder().resize(32).crop(32).normalize(own.mean(), own.std()).build()
                    .apply(ImageDecoder.read(f, ColorMode.RGB)), 1, 32, 32);
            List<Float> got = r.getList(0);
            for (int j = 0; j < 5; j++) assertEquals(want[j], got.get(j), 1e-5, "training size, logit " + j);
        }
    }

    /** What a newcomer's check found: the runner loses nothing a user had, whatever OUT and --images are. */
    @Test
    void theRunnerKeepsWhatTheUserHad(@TempDir Path dir) throws Exception {
        Path w = weights(dir);
        String[] size = {"--resize", "40", "--crop", "32", "--device", "cpu", "--batch", "2"};
        java.util.function.Function<String[], Integer> run = a -> {
            List<String> l = new java.util.ArrayList<>(List.of(a));
            l.addAll(List.of(size));
            int rc = SparkPredict.run(l.toArray(new String[0]));
            spark = session();  // the runner stops it
            return rc;
        };
        // a folder that Spark would read as a glob, a file name with ':' and an upper-case extension
        for (int i = 0; i < 2; i++) png(dir.resolve("g[1]").resolve("p" + i + ".png"), i, 40, 40);
        for (int i = 0; i < 3; i++) png(dir.resolve("g1").resolve("q" + i + ".png"), i, 40, 40);
        png(dir.resolve("g[1]").resolve("a:b.PNG"), 7, 40, 40);
        Path quoted = png(dir.resolve("g[1]").resolve("say \"hi\".png"), 8, 40, 40);
        Files.writeString(dir.resolve("g[1]").resolve("broken.png"), "not a png");
        String imgs = dir.resolve("g[1]").toString();
        assertEquals(0, run.apply(new String[] {"predict", "--weights", w.toString(), "--images", imgs, "--out", dir.resolve("out").toString(),
                "--format", "csv"}));
        List<Row> rows = spark.read().option("header", "true").option("escape", "\"").csv(dir.resolve("out").toString()).collectAsList();
        assertEquals(5, rows.size(), "the 5 files of g[1], not g1's: " + rows);
        assertTrue(rows.stream().anyMatch(r -> r.getString(0).endsWith("/a:b.PNG") && r.getString(5) == null), "the ':' name is classified");
        assertTrue(rows.stream().anyMatch(r -> r.getString(0).equals("file:" + quoted)), "quotes read back: " + rows);
        Row broken = rows.stream().filter(r -> r.getString(0).endsWith("broken.png")).findFirst().orElseThrow();
        assertNull(broken.get(1));
        assertNull(broken.get(3), "a failed row's lists are empty, as its top1 is");
        assertNotNull(broken.get(5));
        // an OUT whose name has ':'; what a killed run left beside it is removed by the next run
        Path stale = Files.createDirectories(dir.resolve(".o:ut.densenet4j-0000").resolve("_temporary"));
        assertEquals(0, run.apply(new String[] {"predict", "--weights", w.toString(), "--images", imgs, "--out", dir.resolve("o:ut").toString()}));
        assertEquals(5, spark.read().parquet(dir.resolve("o:ut").toString()).count());
        assertEquals(Path.of("rel:o"), SparkPredict.localPath("rel:o"), "a relative name with ':' is a local path");
        assertEquals(Path.of("x:y/z"), SparkPredict.localPath("x:y/z"));
        assertNull(SparkPredict.localPath("hdfs:/photos"));
        assertNull(SparkPredict.localPath("hdfs://nn/photos"));
        assertEquals(Path.of("/tmp/p"), SparkPredict.localPath("file:/tmp/p"));
        assertTrue(!Files.exists(stale.getParent()), "the killed run's staging folder is gone");
        // OUT "." (here DIR/keep/.): resolved to DIR/keep, which holds the user's file, so refused
        Path keep = Files.createDirectories(dir.resolve("keep"));
        Files.writeString(keep.resolve("notes.txt"), "precious");
        assertEquals(2, run.apply(new String[] {"predict", "--weights", w.toString(), "--images", imgs, "--out", keep + "/."}));
        assertEquals(2, run.apply(new String[] {"predict", "--weights", w.toString(), "--images", imgs, "--out", keep.toString()}));
        assertEquals("precious", Files.readString(keep.resolve("notes.txt")));
        // OUT holding the images through a symbolic link
        Path outer = Files.createDirectories(dir.resolve("outer"));
        png(outer.resolve("photos").resolve("x.png"), 1, 40, 40);
        Path link = Files.createSymbolicLink(dir.resolve("link"), outer.resolve("photos"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SparkPredict.parse(new String[] {"predict", "--weights",
                w.toString(), "--images", link.toString(), "--out", outer.toString()}));
        assertTrue(e.getMessage().contains("is, holds or lies in --images"), e.getMessage());
        assertTrue(Files.exists(outer.resolve("photos").resolve("x.png")));
        // a second run on the same OUT while one holds it
        SparkPredict.OutLock held = SparkPredict.OutLock.take(dir.resolve("out").toString());
        try {
            assertEquals(2, run.apply(new String[] {"predict", "--weights", w.toString(), "--images", imgs, "--out", dir.resolve("out").toString()}));
        } finally {
            held.release();
        }
        assertEquals(5, spark.read().option("header", "true").csv(dir.resolve("out").toString()).count(), "the earlier result is intact");
        // corrupt weights are named as such, not blamed on OUT
        Path trunc = dir.resolve("trunc.safetensors");
        byte[] all = Files.readAllBytes(w);
        Files.write(trunc, java.util.Arrays.copyOf(all, all.length / 2));
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        java.io.PrintStream old = System.err;
        System.setErr(new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
        try {
            assertEquals(2, run.apply(new String[] {"predict", "--weights", trunc.toString(), "--images", imgs, "--out", dir.resolve("out").toString()}));
        } finally {
            System.setErr(old);
        }
        String line = err.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(line.contains("trunc.safetensors") && !line.contains("cannot write --out"), line);
        for (String[] bad : List.of(new String[] {"--batch", "5000"}, new String[] {"--master", "local-cluster[1,1,1024]"}, new String[] {"--master", "yarn"}, new String[] {"--master", "spark://127.0.0.1:1"}, new String[] {"--on-error", "maybe"}, new String[] {"--out", ""},
                new String[] {"--weights", dir.toString()})) {
            Map<String, String> a = new java.util.LinkedHashMap<>(Map.of("--weights", w.toString(), "--images", imgs, "--out", "o"));
            a.put(bad[0], bad[1]);
            List<String> l = new java.util.ArrayList<>(List.of("predict"));
            a.forEach((k, v) -> l.addAll(List.of(k, v)));
            IllegalArgumentException b = assertThrows(IllegalArgumentException.class, () -> SparkPredict.parse(l.toArray(new String[0])));
            assertTrue(b.getMessage().startsWith(bad[0]), b.getMessage());
        }
        try (Stream<Path> beside = Files.list(dir)) {
            assertEquals(List.of(), beside.filter(q -> q.getFileName().toString().contains(".densenet4j")).toList(), "no staging folder or lock left");
        }
    }

    @Test
    void theArchiveTrainingRunClassifiesItsImagesInBothFormats(@TempDir Path dir) throws Exception {
        java.io.ByteArrayOutputStream printed = new java.io.ByteArrayOutputStream();
        java.io.PrintStream old = System.out;
        System.setOut(new java.io.PrintStream(printed, true, java.nio.charset.StandardCharsets.UTF_8));
        int rc;
        try {
            rc = ArchiveTraining.run(dir);
        } finally {
            System.setOut(old);
            spark = session();  // the runner stopped it
        }
        String out = printed.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(0, rc, out);
        // both formats: 9 files each, the unreadable one counted
        assertEquals(2, out.split("densenet4j-spark: 9 images in ", -1).length - 1, out);
        assertTrue(out.contains(", 1 unreadable, "), out);
        assertTrue(Files.isDirectory(dir.resolve("out-csv")) && Files.isDirectory(dir.resolve("out-parquet")));
    }
}
