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

    /** Infix of the hidden staging folders beside OUT: {@code .OUT.densenet4j-UUID}. */
    static final String STAGING = ".densenet4j-";

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
        // Ctrl-C or SIGTERM from here on: one line, the staging folder and the lock removed
        Staging staging = new Staging();
        SparkSession[] session = new SparkSession[1];
        Thread onSignal = new Thread(() -> staging.stopped(() -> {
            SparkSession sp = session[0];
            if (sp == null) return;
            // Spark's own hook may be stopping it already: wait (up to 10 s) until it has
            sp.stop();
            for (int i = 0; i < 200 && !sp.sparkContext().isStopped(); i++) sleep(50);
        }), "densenet4j-spark-stop");
        Runtime.getRuntime().addShutdownHook(onSignal);
        // local OUT: one run at a time (a second would silently replace the first's result)
        OutLock lock;
        try {
            lock = OutLock.take(o.get("out"));
        } catch (IllegalArgumentException e) {
            staging.finished();
            Runtime.getRuntime().removeShutdownHook(onSignal);
            System.err.println("densenet4j-spark: error: " + e.getMessage());
            return 2;
        }
        staging.lock(lock);
        // what a run stopped by SIGKILL left beside OUT (no other run can be using it: the lock is ours)
        lock.removeStaleStaging();
        SparkSession.Builder b = SparkSession.builder().appName("densenet4j predict");
        if (o.containsKey("master")) b = b.master(o.get("master"));
        else if (System.getProperty("spark.master") == null) b = b.master("local[*]");
        String master = o.getOrDefault("master", System.getProperty("spark.master", "local[*]"));
        // local mode: no web UI to start (about 1 s of the fixed cost), unless asked for
        if (master.startsWith("local") && System.getProperty("spark.ui.enabled") == null) b = b.config("spark.ui.enabled", "false");
        // local files without Hadoop's checksum layer: it cannot read names with ':' (it builds a
        // relative ".NAME.crc" path from them) and writes no .crc files beside the output
        if (System.getProperty("spark.hadoop.fs.file.impl") == null) b = b.config("spark.hadoop.fs.file.impl", "org.apache.hadoop.fs.RawLocalFileSystem");
        SparkSession spark;
        try {
            spark = b.getOrCreate();
            session[0] = spark;
        } catch (Exception e) {
            // e.g. a master URL Spark cannot parse (SparkException, thrown undeclared from Scala)
            staging.finished();
            lock.release();
            try {
                Runtime.getRuntime().removeShutdownHook(onSignal);
            } catch (IllegalStateException shuttingDown) {
                return 143;
            }
            if (staging.signalled()) return 143;
            System.err.println("densenet4j-spark: error: could not start Spark (--master " + master + "): " + oneLine(rootCause(e).getMessage()));
            return 2;
        }
        org.apache.hadoop.fs.Path outPath = new org.apache.hadoop.fs.Path(o.get("out"));
        String doing = "reading --images " + o.get("images");
        try {
            long t0 = System.nanoTime();
            Dataset<Row> files = spark.read().format("binaryFile").option("recursiveFileLookup", "true")
                    .option("pathGlobFilter", "*.{[jJ][pP][gG],[jJ][pP][eE][gG],[pP][nN][gG]}").load(o.get("images-load"));
            int partitions = files.rdd().getNumPartitions();
            DenseNetClassifier c = new DenseNetClassifier().setWeightsPath(o.get("weights")).setInputCol("content")
                    .setTopK(Integer.parseInt(o.getOrDefault("top", "5"))).setBatchSize(Integer.parseInt(o.getOrDefault("batch", "32")))
                    .setDevice(o.getOrDefault("device", "auto")).setDtype(o.getOrDefault("dtype", "fp32"))
                    .setThreads(Integer.parseInt(o.getOrDefault("threads", "0"))).setOnError(o.getOrDefault("on-error", "null"))
                    .setNormalize(o.getOrDefault("normalize", "auto"));
            if (o.containsKey("config")) c.setConfigPath(o.get("config"));
            // not given: a checkpoint's training size, else 256 and 224 (as predict)
            if (o.containsKey("resize")) c.setResize(Integer.parseInt(o.get("resize")));
            if (o.containsKey("crop")) c.setCrop(Integer.parseInt(o.get("crop")));
            // local mode: the engine is built here before the job (the tasks, in this JVM, reuse it), so bad
            // weights, config, device or dtype fail in one line before anything is written
            doing = "loading --weights " + o.get("weights");
            if (master.startsWith("local")) c.checkEngine(files.schema());
            // the output is written beside OUT and moved into place only when the whole job succeeded:
            // a failed run leaves an earlier OUT as it was
            doing = "writing --out " + o.get("out");
            org.apache.hadoop.fs.FileSystem fs = outPath.getFileSystem(spark.sparkContext().hadoopConfiguration());
            checkReplaceable(fs, outPath, o.get("out"));
            // (a string, not Path(parent, child): a child name with ':' would parse as a URI scheme)
            staging.set(fs, new org.apache.hadoop.fs.Path((outPath.getParent() == null ? outPath : outPath.getParent()).toString() + "/."
                    + outPath.getName() + STAGING + java.util.UUID.randomUUID()));
            Dataset<Row> out = c.transform(files).select("path", "top1", "top1_prob", "topk", "topk_prob", "error");
            // the counts come with the write (one job), not from reading the output back (a second job)
            org.apache.spark.sql.Observation stats = new org.apache.spark.sql.Observation("densenet4j");
            out = out.observe(stats, functions.count(functions.lit(1)).as("n"), functions.count(col("error")).as("failed"));
            String format = o.getOrDefault("format", "parquet");
            doing = "classifying";
            if (format.equals("csv")) {
                // a failed row's lists stay empty (null), as its top1 does
                out = out.withColumn("topk", functions.when(col("topk").isNotNull(), concat_ws(";", col("topk").cast("array<string>"))))
                        .withColumn("topk_prob", functions.when(col("topk_prob").isNotNull(), concat_ws(";", col("topk_prob").cast("array<string>"))));
                // RFC 4180 quoting: a quote inside a quoted field is doubled
                out.write().option("header", "true").option("escape", "\"").csv(staging.path().toString());
            } else {
                out.write().parquet(staging.path().toString());
            }
            Map<String, Object> counts;
            try {
                counts = stats.getAsJava();  // available once the write has run
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while reading the job's counts", e);
            }
            doing = "writing --out " + o.get("out");
            if (fs.exists(outPath) && !fs.delete(outPath, true)) throw new java.io.IOException("cannot remove the earlier result");
            if (!fs.rename(staging.path(), outPath)) throw new java.io.IOException("cannot move " + staging.path() + " into place");
            staging.done();
            long n = ((Number) counts.get("n")).longValue();
            long failed = ((Number) counts.get("failed")).longValue();
            double secs = (System.nanoTime() - t0) / 1e9;
            System.out.println(String.format(Locale.ROOT, "densenet4j-spark: %d images in %.1f s (%.1f img/s), %d unreadable, %d partitions -> %s",
                    n, secs, n / secs, failed, partitions, o.get("out")));
            return 0;
        } catch (Exception e) {  // SparkException is checked in Java's terms, thrown undeclared from Scala
            if (staging.signalled()) return 143;  // the signal hook has said so and cleaned up
            // ours say what they are about; environment errors (I/O, a missing file system) get what was being done
            String ours = ourMessage(e);
            String env = ours == null ? environmentMessage(e) : null;
            if (ours != null || env != null) {
                System.err.println("densenet4j-spark: error: " + (ours != null ? ours : (doing.equals("classifying") ? "" : doing + ": ") + env));
                return 2;
            }
            throw e instanceof RuntimeException r ? r : new IllegalStateException(e);
        } finally {
            spark.stop();
            staging.clean();
            staging.finished();
            try {
                Runtime.getRuntime().removeShutdownHook(onSignal);
            } catch (IllegalStateException shuttingDown) {
                // the JVM is exiting: the hook is running or has run
            }
            lock.release();
        }
    }

    /**
     * An existing OUT is replaced only if it is an earlier result (Spark's {@code _SUCCESS} beside
     * part files) or an empty folder: any other folder (a typo such as {@code --out ~}) is refused.
     */
    static void checkReplaceable(org.apache.hadoop.fs.FileSystem fs, org.apache.hadoop.fs.Path out, String given) throws java.io.IOException {
        if (!fs.exists(out)) return;
        org.apache.hadoop.fs.FileStatus st = fs.getFileStatus(out);
        if (st.isFile()) throw new IllegalArgumentException("--out " + given + " is a file; give a folder (it is replaced by the result)");
        boolean success = false;
        String other = null;
        org.apache.hadoop.fs.FileStatus[] held = fs.listStatus(out);
        for (org.apache.hadoop.fs.FileStatus k : held) {
            String name = k.getPath().getName();
            if (name.equals("_SUCCESS")) success = true;
            else if (!k.isFile() || !(name.startsWith("part-") || name.matches("\\.(part-.*|_SUCCESS)\\.crc"))) other = name;
            if (other != null) break;
        }
        if (other != null || (!success && held.length > 0)) {
            throw new IllegalArgumentException("--out " + given + " exists and is not an earlier result of this runner (" + (other != null ? "it holds " + other
                    : "no _SUCCESS") + "); give a new folder, or remove it first");
        }
    }

    /** The message of the outermost of our own exceptions in the chain, or null. */
    static String ourMessage(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof IllegalArgumentException || t instanceof io.densenet4j.io.WeightsException || t instanceof io.densenet4j.DenseNetException) {
                return oneLine(t.getMessage());
            }
        }
        return null;
    }

    /** A one-line message for an environment error (I/O, a missing file system), or null (a bug). */
    static String environmentMessage(Throwable e) {
        Throwable root = rootCause(e);
        if (root instanceof java.io.IOException) return oneLine(root.getMessage());
        if (root instanceof ClassNotFoundException && String.valueOf(root.getMessage()).contains("FileSystem")) {
            return "no Hadoop file system for that scheme on the classpath (" + oneLine(root.getMessage()) + ")";
        }
        return null;
    }

    /** The hidden folder the result is written to; removed on failure, and by a signal (SIGTERM, Ctrl-C). */
    static final class Staging {
        private org.apache.hadoop.fs.FileSystem fs;
        private volatile org.apache.hadoop.fs.Path path;
        private volatile boolean signalled;
        private volatile OutLock lock;
        private final java.util.concurrent.CountDownLatch finished = new java.util.concurrent.CountDownLatch(1);

        void set(org.apache.hadoop.fs.FileSystem fs, org.apache.hadoop.fs.Path path) {
            this.fs = fs;
            this.path = path;
        }

        org.apache.hadoop.fs.Path path() { return path; }

        void done() { path = null; }

        boolean signalled() { return signalled; }

        /** The lock the signal hook releases. */
        void lock(OutLock l) { lock = l; }

        /**
         * Run by the shutdown hook: the JVM is exiting while the run is in progress. Spark is stopped
         * first (its tasks would otherwise go on writing into the staging folder), then the folder goes.
         */
        void stopped(Runnable stopSpark) {
            signalled = true;
            // Spark's components log their own shutdown errors (lost connections, stopped contexts): not the user's
            try {
                org.apache.logging.log4j.core.config.Configurator.setRootLevel(org.apache.logging.log4j.Level.OFF);
            } catch (RuntimeException | LinkageError noLog4j) {
                // another logging back end (spark-submit's own): its messages stay
            }
            try {
                stopSpark.run();
            } catch (RuntimeException ignored) {
                // already stopping (Spark's own hook)
            }
            // the failing write's clean-up in the run's thread may recreate the folder: wait for that
            // thread's own clean-up (up to 10 s), then remove it here too
            try {
                if (path != null) finished.await(10, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            // tasks being killed may still be writing (a native forward cannot be interrupted): a few times over a second
            for (int i = 0; i < 4 && path != null; i++) {
                clean();
                sleep(300);
            }
            clean();
            OutLock l = lock;
            if (l != null) l.release();
            System.err.println("densenet4j-spark: stopped by a signal; --out is as it was");
        }

        /** The run's thread is done with the folder (after its own {@link #clean()}). */
        void finished() { finished.countDown(); }

        void clean() {
            org.apache.hadoop.fs.Path p = path;
            if (p == null) return;
            try {
                Path local = localPath(p.toString());
                if (local != null) {
                    deleteTree(local);  // plain java.nio: Hadoop's file systems may already be closed by their own hook
                } else {
                    fs.delete(p, true);
                }
            } catch (java.io.IOException | RuntimeException ignored) {
                // best effort: a leftover hidden staging folder beside OUT
            }
        }
    }

    /** Deletes a folder and what it holds (links are removed, not followed). */
    private static void deleteTree(Path dir) throws java.io.IOException {
        if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return;
        try (java.util.stream.Stream<Path> walk = Files.walk(dir)) {
            for (Path q : walk.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A lock file beside a local OUT ({@code .NAME.densenet4j.lock}), held for the run; nothing for other schemes. */
    static final class OutLock {
        private final Path file;
        private final java.nio.channels.FileChannel channel;
        private final java.nio.channels.FileLock lock;

        private final Path to;

        private OutLock(Path to, Path file, java.nio.channels.FileChannel channel, java.nio.channels.FileLock lock) {
            this.to = to;
            this.file = file;
            this.channel = channel;
            this.lock = lock;
        }

        static OutLock take(String out) {
            Path to = localPath(out);
            if (to == null || to.getParent() == null) return new OutLock(null, null, null, null);
            Path file = to.getParent().resolve("." + to.getFileName() + ".densenet4j.lock");
            try {
                Files.createDirectories(to.getParent());
                java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.CREATE,
                        java.nio.file.StandardOpenOption.WRITE);
                java.nio.channels.FileLock l;
                try {
                    l = ch.tryLock();
                } catch (java.nio.channels.OverlappingFileLockException sameJvm) {
                    l = null;
                }
                if (l == null) {
                    ch.close();
                    throw new IllegalArgumentException("--out " + out + " is being written by another run (it holds " + file + "); wait for it or give another folder");
                }
                return new OutLock(to, file, ch, l);
            } catch (java.io.IOException e) {
                throw new IllegalArgumentException("--out " + out + ": cannot be written (" + oneLine(e.getMessage()) + ")", e);
            }
        }

        /** Removes hidden staging folders of OUT that a killed run left (only while holding the lock). */
        void removeStaleStaging() {
            if (file == null) return;
            String prefix = "." + to.getFileName() + STAGING;
            try (java.util.stream.Stream<Path> beside = Files.list(to.getParent())) {
                for (Path q : beside.filter(x -> x.getFileName().toString().startsWith(prefix) && Files.isDirectory(x, java.nio.file.LinkOption.NOFOLLOW_LINKS)).toList()) {
                    deleteTree(q);
                }
            } catch (java.io.IOException | RuntimeException ignored) {
                // best effort
            }
        }

        synchronized void release() {
            if (channel == null || !channel.isOpen()) return;
            try {
                Files.deleteIfExists(file);
                lock.release();
                channel.close();
            } catch (java.io.IOException ignored) {
                // best effort: an unlocked lock file is harmless
            }
        }
    }

    /**
     * The local path of a plain path or a {@code file:} URI, or null for a URI of another scheme
     * (hdfs://, s3a://, ...: Spark's to resolve), parsed as Hadoop (and so Spark) parses it.
     */
    static Path localPath(String p) {
        // a relative name with ':' (a:b, x:y/z) is that file, not a URI of scheme "a" (which Hadoop
        // refuses: a scheme's path must be absolute); hdfs:/x and hdfs://nn/x stay URIs
        int colon = p.indexOf(':');
        if (colon > 0 && colon < (p.indexOf('/') < 0 ? p.length() : p.indexOf('/')) && colon + 1 < p.length() && p.charAt(colon + 1) != '/') {
            return Path.of(p);
        }
        java.net.URI u = new org.apache.hadoop.fs.Path(p).toUri();
        return u.getScheme() == null || u.getScheme().equalsIgnoreCase("file") ? Path.of(u.getPath()) : null;
    }

    /** Refuses a {@code spark://HOST:PORT[,HOST:PORT...]} master none of whose addresses accepts a connection within 3 s. */
    static void checkReachable(String master) {
        String why = null;
        for (String hp : master.substring("spark://".length()).split(",")) {
            int c = hp.lastIndexOf(':');
            int port;
            try {
                port = c < 0 ? 7077 : Integer.parseInt(hp.substring(c + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--master " + master + ": '" + hp + "' is not HOST:PORT");
            }
            try (java.net.Socket sock = new java.net.Socket()) {
                sock.connect(new java.net.InetSocketAddress(c < 0 ? hp : hp.substring(0, c), port), 3000);
                return;
            } catch (java.io.IOException | IllegalArgumentException e) {
                why = hp + ": " + (e.getMessage() == null ? e.getClass().getSimpleName() : oneLine(e.getMessage()));
            }
        }
        throw new IllegalArgumentException("--master " + master + ": no master answers (" + why + ")");
    }

    private static boolean overlap(Path a, Path b) {
        return a.startsWith(b) || b.startsWith(a);
    }

    /** The path with its longest existing part replaced by that part's real path (links resolved). */
    static Path realPath(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        Path existing = abs;
        while (existing != null && !Files.exists(existing)) existing = existing.getParent();
        if (existing == null) return abs;
        try {
            return existing.toRealPath().resolve(existing.relativize(abs));
        } catch (java.io.IOException e) {
            return abs;
        }
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
            if (i + 1 >= args.length || args[i + 1].isEmpty()) throw new IllegalArgumentException(a + " needs a value");
            o.put(a.substring(2), args[++i]);
        }
        for (String need : List.of("weights", "images", "out")) {
            if (!o.containsKey(need)) throw new IllegalArgumentException("--" + need + " is required; " + USAGE);
        }
        Path weights = Path.of(o.get("weights"));
        if (Files.isDirectory(weights)) throw new IllegalArgumentException("--weights " + o.get("weights") + " is a folder; give the weights file (.pth or .safetensors)");
        if (!Files.isRegularFile(weights)) throw new IllegalArgumentException("--weights " + o.get("weights") + ": no such file");
        // a URI with a scheme (hdfs://, s3a://, ...) is Spark's to resolve; a local path or file: URI is checked here
        String images = o.get("images");
        Path in = localPath(images);
        boolean local = in != null;
        if (local && !Files.isDirectory(in)) throw new IllegalArgumentException("--images " + images + ": not a folder");
        // Spark reads the path as a glob: a local folder named e.g. photos[1] is escaped to mean itself
        o.put("images-load", local ? in.toAbsolutePath().normalize().toString().replaceAll("([\\\\*?\\[\\]{}])", "\\\\$1") : images);
        if (o.containsKey("master")) {
            String m = o.get("master");
            // Spark's own master URL forms (SparkContext.createTaskScheduler); anything else fails there with a stack trace
            if (m.equals("yarn") || m.startsWith("k8s://")) {
                throw new IllegalArgumentException("--master " + m + " needs Spark's launcher: run the -all jar with spark-submit --master " + m + " (README, Spark)");
            }
            if (m.startsWith("local-cluster")) {
                throw new IllegalArgumentException("--master local-cluster needs a Spark distribution (it starts worker processes from one); use local[N] here, or spark-submit");
            }
            if (!m.matches("local(\\[([1-9]\\d*|\\*)(,\\d+)?\\])?|spark://.+")) {
                throw new IllegalArgumentException("--master must be local, local[N] (N >= 1), local[*], local[N,F] or spark://HOST:PORT, got '" + m + "'");
            }
            // a standalone master that does not answer: Spark would retry for a minute with stack traces
            if (m.startsWith("spark://")) checkReachable(m);
        }
        if (local && o.containsKey("config") && !Files.isRegularFile(Path.of(o.get("config")))) {
            throw new IllegalArgumentException("--config " + o.get("config") + ": no such file");
        }
        // the output folder is replaced by the result: it must not be, hold or lie in the images
        // (an OUT that is a file is refused in run, through Hadoop's file system, for every scheme)
        String out = o.get("out");
        Path to = localPath(out);
        if (to != null) {
            // "." and ".." resolved (a staging folder is made beside OUT, so OUT must name a folder of its own)
            to = to.toAbsolutePath().normalize();
            if (to.getParent() == null) throw new IllegalArgumentException("--out " + out + ": give a folder below the root (it is replaced by the result)");
            o.put("out", to.toString());
        }
        if (local && to != null) {
            Path from = in.toAbsolutePath().normalize();
            // also through symbolic links: compared as given and as their real paths
            if (overlap(to, from) || overlap(realPath(to), realPath(from))) {
                throw new IllegalArgumentException("--out " + out + " is, holds or lies in --images " + images + " (it is replaced by the result)");
            }
        }
        if (to != null) {
            Path up = to.getParent();
            while (up != null && !Files.exists(up)) up = up.getParent();
            if (up == null || !Files.isDirectory(up) || !Files.isWritable(up)) {
                throw new IllegalArgumentException("--out " + out + ": cannot be written (" + up + " is not a writable folder)");
            }
        }
        String onError = o.getOrDefault("on-error", "null");
        if (!onError.equals("null") && !onError.equals("fail")) throw new IllegalArgumentException("--on-error must be null or fail, got '" + onError + "'");
        String f = o.getOrDefault("format", "parquet");
        if (!f.equals("parquet") && !f.equals("csv")) throw new IllegalArgumentException("--format must be parquet or csv, got '" + f + "'");
        for (String num : List.of("top", "batch", "threads", "resize", "crop")) {
            if (!o.containsKey(num)) continue;
            try {
                int v = Integer.parseInt(o.get(num));
                if (v < (num.equals("threads") || num.equals("resize") ? 0 : 1)) throw new NumberFormatException();
                // the engine's own limits (Predictor.Options, ImageTransform), here so that they fail before Spark starts
                if (num.equals("threads") && v > 1024) throw new IllegalArgumentException("--threads must be from 0 (all cores) to 1024, got " + v);
                if (num.equals("batch") && v > DenseNetClassifier.MAX_BATCH) {
                    throw new IllegalArgumentException("--batch must be from 1 to " + DenseNetClassifier.MAX_BATCH + ", got " + v);
                }
                if ((num.equals("crop") || num.equals("resize")) && v > 8192) throw new IllegalArgumentException("--" + num + " must be at most 8192, got " + v);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--" + num + " must be a " + (num.equals("threads") || num.equals("resize") ? "non-negative" : "positive")
                        + " integer, got '" + o.get(num) + "'");
            }
        }
        return o;
    }
}
