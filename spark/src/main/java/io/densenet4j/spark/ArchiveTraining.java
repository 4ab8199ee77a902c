package io.densenet4j.spark;

import io.densenet4j.DenseNet;
import io.densenet4j.DenseNetConfig;
import io.densenet4j.DenseNets;
import io.densenet4j.Initializers;
import io.densenet4j.io.ConfigJson;
import io.densenet4j.io.SafeTensors;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The training run of the runner's class-data-sharing archive (JDK AppCDS, JEP 350): {@code
 * scripts/densenet4j-spark} runs this once after each build under {@code
 * -XX:ArchiveClassesAtExit=spark/target/runner.jsa}, so that later runs map the classes Spark and
 * densenet4j load (driver and task side, both output formats, the error path) from the archive
 * instead of loading and verifying them again (about 4 s of the runner's fixed cost on 2 cores,
 * measured in {@code bench/results/spark-zen3-2026-12-07}). It classifies a few generated images
 * (6 JPEG, 2 PNG, 1 unreadable) with a tiny random DenseNet-BC in local[2], to parquet and to CSV,
 * in a temporary folder it removes. Exit 0 on success, 1 otherwise (the script then runs without
 * an archive). Given the user's runner arguments, it first checks them as {@link SparkPredict} does
 * and exits 2 with SparkPredict's one-line error on bad ones, so that a mistyped first run after a
 * build fails at once instead of after the training run.
 */
public final class ArchiveTraining {
    private ArchiveTraining() {}

    public static void main(String[] args) throws IOException {
        if (args.length > 0) {
            try {
                SparkPredict.parse(args);
            } catch (IllegalArgumentException e) {
                System.err.println("densenet4j-spark: error: " + e.getMessage());
                System.exit(2);
            }
        }
        Path dir = Files.createTempDirectory("densenet4j-cds-");
        int rc = 1;
        try {
            rc = run(dir);
        } finally {
            deleteTree(dir);
        }
        System.exit(rc);
    }

    static int run(Path dir) throws IOException {
        DenseNetConfig cfg = DenseNets.densenetBC(10, 4, 3, 5);
        Path weights = dir.resolve("w.safetensors");
        SafeTensors.write(weights, Initializers.torchvision(new DenseNet(cfg), 0), Map.of());
        Path config = dir.resolve("w.json");
        Files.writeString(config, ConfigJson.toJson(cfg));
        Path images = Files.createDirectories(dir.resolve("images"));
        for (int i = 0; i < 8; i++) {
            BufferedImage im = new BufferedImage(40 + i, 36, BufferedImage.TYPE_INT_RGB);
            for (int y = 0; y < im.getHeight(); y++) {
                for (int x = 0; x < im.getWidth(); x++) im.setRGB(x, y, (x * 6 + i) << 16 | (y * 7) << 8 | ((x + y) * 3 & 0xff));
            }
            String format = i < 6 ? "jpg" : "png";
            ImageIO.write(im, format, images.resolve(String.format("img%d.%s", i, format)).toFile());
        }
        Files.write(images.resolve("unreadable.jpg"), new byte[] {(byte) 0xff, (byte) 0xd8, 1, 2, 3});
        for (String format : new String[] {"parquet", "csv"}) {
            int rc = SparkPredict.run("predict", "--master", "local[2]", "--weights", weights.toString(), "--config", config.toString(),
                    "--images", images.toString(), "--out", dir.resolve("out-" + format).toString(), "--format", format,
                    "--batch", "4", "--top", "3", "--resize", "36", "--crop", "32", "--threads", "1");
            if (rc != 0) return rc;
        }
        return 0;
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException | UncheckedIOException e) {
            System.err.println("densenet4j-spark: could not remove " + dir + ": " + e.getMessage());
        }
    }
}
