package io.densenet4j.spark;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.apache.spark.sql.functions;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat_ws;

/**
 * {@code predict}: classifies every PNG/JPEG under a folder with Spark, one output row per image
 * ({@code path, top1, top1_prob, topk, topk_prob, error}). Runs in local mode
 * ({@code scripts/densenet4j-spark predict --master local[2] ...}) or under {@code spark-submit --class
 * io.densenet4j.spark.SparkPredict densenet4j-spark.jar predict ...} on a cluster (the master then
 * comes from spark-submit). Exit 0 on success, 2 with one line on stderr for bad input.
 */
public final class SparkPredict {
    static final String USAGE = "usage: predict --weights W --images DIR --out OUT [--master M] [--format parquet|csv] [--top K] [--batch N]"
            + " [--config C.json] [--device auto|cpu|cuda[:I]] [--dtype T] [--threads T] [--resize S] [--crop S] [--normalize N]"
            + " [--on-error null|fail]";

    private SparkPredict() {}

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command and returns its exit code. */
    public static int run(String... args) {
        Map<String, String> o;
        try {
            o = parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("densenet4j-spark: error: " + e.getMessage());
            return 2;
        }
        if (o.containsKey("help")) {
            System.out.println(USAGE);
            return 0;
        }
        SparkSession.Builder b = SparkSession.builder().appName("densenet4j predict");
        if (o.containsKey("master")) b = b.master(o.get("master"));
        else if (System.getProperty("spark.master") == null) b = b.master("local[*]");
        String master = o.getOrDefault("master", System.getProperty("spark.master", "local[*]"));
        // local mode: no web UI to start (about 1 s of the fixed cost), unless asked for
        if (master.startsWith("local") && System.getProperty("spark.ui.enabled") == null) b = b.config("spark.ui.enabled", "false");
        SparkSession spark;
        try {
            spark = b.getOrCreate();
        } catch (Exception e) {
            // e.g. a master URL Spark cannot parse (SparkException, thrown undeclared from Scala)
            System.err.println("densenet4j-spark: error: could not start Spark (--master " + master + "): " + oneLine(rootCause(e).getMessage()));
            return 2;
        }
        org.apache.hadoop.fs.Path outPath = new org.apache.hadoop.fs.Path(o.get("out"));
        org.apache.hadoop.fs.Path staging = null;
        org.apache.hadoop.fs.FileSystem fs = null;
        try {
            long t0 = System.nanoTime();
            Dataset<Row> files = spark.read().format("binaryFile").option("recursiveFileLookup", "true")
                    .option("pathGlobFilter", "*.{jpg,jpeg,png,JPG,JPEG,PNG}").load(o.get("images"));
            int partitions = files.rdd().getNumPartitions();
            DenseNetClassifier c = new DenseNetClassifier().setWeightsPath(o.get("weights")).setInputCol("content")
                    .setTopK(Integer.parseInt(o.getOrDefault("top", "5"))).setBatchSize(Integer.parseInt(o.getOrDefault("batch", "32")))
                    .setDevice(o.getOrDefault("device", "auto")).setDtype(o.getOrDefault("dtype", "fp32"))
                    .setThreads(Integer.parseInt(o.getOrDefault("threads", "0"))).setOnError(o.getOrDefault("on-error", "null"))
                    .setResize(Integer.parseInt(o.getOrDefault("resize", "256"))).setCrop(Integer.parseInt(o.getOrDefault("crop", "224")))
                    .setNormalize(o.getOrDefault("normalize", "imagenet"));
            if (o.containsKey("config")) c.setConfigPath(o.get("config"));
            // local mode: the engine is built here before the job (the tasks, in this JVM, reuse it), so bad
            // weights, config, device or dtype fail in one line before anything is written
            if (master.startsWith("local")) c.checkEngine(files.schema());
            // the output is written beside OUT and moved into place only when the whole job succeeded:
            // a failed run leaves an earlier OUT as it was
            fs = outPath.getFileSystem(spark.sparkContext().hadoopConfiguration());
            if (fs.isFile(outPath)) throw new IllegalArgumentException("--out " + o.get("out") + " is a file; give a folder (it is replaced by the result)");
            staging = new org.apache.hadoop.fs.Path(outPath.getParent() == null ? outPath : outPath.getParent(),
                    "." + outPath.getName() + ".densenet4j-" + java.util.UUID.randomUUID());
            Dataset<Row> out = c.transform(files).select("path", "top1", "top1_prob", "topk", "topk_prob", "error");
            // the counts come with the write (one job), not from reading the output back (a second job)
            org.apache.spark.sql.Observation stats = new org.apache.spark.sql.Observation("densenet4j");
            out = out.observe(stats, functions.count(functions.lit(1)).as("n"), functions.count(col("error")).as("failed"));
            String format = o.getOrDefault("format", "parquet");
            if (format.equals("csv")) {
                out = out.withColumn("topk", concat_ws(";", col("topk").cast("array<string>")))
                        .withColumn("topk_prob", concat_ws(";", col("topk_prob").cast("array<string>")));
                out.write().option("header", "true").csv(staging.toString());
            } else {
                out.write().parquet(staging.toString());
            }
            Map<String, Object> counts;
            try {
                counts = stats.getAsJava();  // available once the write has run
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while reading the job's counts", e);
            }
            if (fs.exists(outPath) && !fs.delete(outPath, true)) throw new java.io.IOException("cannot replace " + outPath);
            if (!fs.rename(staging, outPath)) throw new java.io.IOException("cannot move " + staging + " to " + outPath);
            staging = null;
            long n = ((Number) counts.get("n")).longValue();
            long failed = ((Number) counts.get("failed")).longValue();
            double secs = (System.nanoTime() - t0) / 1e9;
            System.out.println(String.format(Locale.ROOT, "densenet4j-spark: %d images in %.1f s (%.1f img/s), %d unreadable, %d partitions -> %s",
                    n, secs, n / secs, failed, partitions, o.get("out")));
            return 0;
        } catch (IllegalArgumentException e) {
            System.err.println("densenet4j-spark: error: " + oneLine(e.getMessage()));
            return 2;
        } catch (Exception e) {  // SparkException is checked in Java's terms, thrown undeclared from Scala
            Throwable root = rootCause(e);
            if (root instanceof IllegalArgumentException || root instanceof io.densenet4j.io.WeightsException
                    || root instanceof io.densenet4j.DenseNetException || root instanceof java.io.IOException) {
                System.err.println("densenet4j-spark: error: " + (root instanceof java.io.IOException ? "cannot write --out " + o.get("out") + ": " : "")
                        + oneLine(root.getMessage()));
                return 2;
            }
            throw e instanceof RuntimeException r ? r : new IllegalStateException(e);
        } finally {
            if (staging != null) {
                try {
                    fs.delete(staging, true);
                } catch (java.io.IOException | RuntimeException ignored) {
                    // best effort: a leftover hidden staging folder beside OUT
                }
            }
            spark.stop();
        }
    }

    /**
     * The local path of a plain path or a {@code file:} URI, or null for a URI of another scheme
     * (hdfs://, s3a://, ...: Spark's to resolve), parsed as Hadoop (and so Spark) parses it.
     */
    static Path localPath(String p) {
        java.net.URI u = new org.apache.hadoop.fs.Path(p).toUri();
        return u.getScheme() == null || u.getScheme().equalsIgnoreCase("file") ? Path.of(u.getPath()) : null;
    }

    static Throwable rootCause(Throwable e) {
        while (e.getCause() != null) e = e.getCause();
        return e;
    }

    static String oneLine(String s) {
        if (s == null) return "(no message)";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    static Map<String, String> parse(String[] args) {
        if (args.length == 0) throw new IllegalArgumentException("no command; " + USAGE);
        if (args[0].equals("--help") || args[0].equals("-h")) return Map.of("help", "");
        if (!args[0].equals("predict")) throw new IllegalArgumentException("unknown command '" + args[0] + "'; " + USAGE);
        List<String> known = List.of("master", "weights", "images", "out", "format", "top", "batch", "config", "device", "dtype", "threads",
                "resize", "crop", "normalize", "on-error");
        Map<String, String> o = new LinkedHashMap<>();
        for (int i = 1; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--help") || a.equals("-h")) return Map.of("help", "");
            if (!a.startsWith("--") || !known.contains(a.substring(2))) throw new IllegalArgumentException("unknown option '" + a + "'; " + USAGE);
            if (i + 1 >= args.length) throw new IllegalArgumentException(a + " needs a value");
            o.put(a.substring(2), args[++i]);
        }
        for (String need : List.of("weights", "images", "out")) {
            if (!o.containsKey(need)) throw new IllegalArgumentException("--" + need + " is required; " + USAGE);
        }
        if (!Files.isRegularFile(Path.of(o.get("weights")))) throw new IllegalArgumentException("--weights " + o.get("weights") + ": no such file");
        // a URI with a scheme (hdfs://, s3a://, ...) is Spark's to resolve; a local path or file: URI is checked here
        String images = o.get("images");
        Path in = localPath(images);
        boolean local = in != null;
        if (local && !Files.isDirectory(in)) throw new IllegalArgumentException("--images " + images + ": not a folder");
        if (o.containsKey("master")) {
            String m = o.get("master");
            // Spark's own master URL forms (SparkContext.createTaskScheduler); anything else fails there with a stack trace
            if (!m.matches("local(\\[([1-9]\\d*|\\*)(,\\d+)?\\])?|local-cluster\\[\\d+,\\d+,\\d+\\]|spark://.+|yarn|k8s://.+")) {
                throw new IllegalArgumentException("--master must be local, local[N] (N >= 1), local[*], local[N,F], spark://HOST:PORT, yarn or k8s://URL, got '" + m + "'");
            }
        }
        if (local && o.containsKey("config") && !Files.isRegularFile(Path.of(o.get("config")))) {
            throw new IllegalArgumentException("--config " + o.get("config") + ": no such file");
        }
        // the output folder is replaced by the result: it must not be, hold or lie in the images
        // (an OUT that is a file is refused in run, through Hadoop's file system, for every scheme)
        String out = o.get("out");
        Path to = localPath(out);
        if (local && to != null) {
            Path from = in.toAbsolutePath().normalize();
            to = to.toAbsolutePath().normalize();
            if (to.startsWith(from) || from.startsWith(to)) {
                throw new IllegalArgumentException("--out " + out + " is, holds or lies in --images " + images + " (it is replaced by the result)");
            }
            Path up = to.getParent();
            while (up != null && !Files.exists(up)) up = up.getParent();
            if (up == null || !Files.isDirectory(up) || !Files.isWritable(up)) {
                throw new IllegalArgumentException("--out " + out + ": cannot be written (" + up + " is not a writable folder)");
            }
        }
        String f = o.getOrDefault("format", "parquet");
        if (!f.equals("parquet") && !f.equals("csv")) throw new IllegalArgumentException("--format must be parquet or csv, got '" + f + "'");
        for (String num : List.of("top", "batch", "threads", "resize", "crop")) {
            if (!o.containsKey(num)) continue;
            try {
                int v = Integer.parseInt(o.get(num));
                if (v < (num.equals("threads") || num.equals("resize") ? 0 : 1)) throw new NumberFormatException();
                // the engine's own limits (Predictor.Options, ImageTransform), here so that they fail before Spark starts
                if (num.equals("threads") && v > 1024) throw new IllegalArgumentException("--threads must be from 0 (all cores) to 1024, got " + v);
                if ((num.equals("crop") || num.equals("resize")) && v > 8192) throw new IllegalArgumentException("--" + num + " must be at most 8192, got " + v);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--" + num + " must be a " + (num.equals("threads") || num.equals("resize") ? "non-negative" : "positive")
                        + " integer, got '" + o.get(num) + "'");
            }
        }
        return o;
    }
}
