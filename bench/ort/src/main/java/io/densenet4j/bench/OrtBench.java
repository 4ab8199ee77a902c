package io.densenet4j.bench;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtSession.SessionOptions;
import ai.onnxruntime.OrtSession.SessionOptions.ExecutionMode;
import ai.onnxruntime.OrtSession.SessionOptions.OptLevel;
import ai.onnxruntime.TensorInfo;

import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.SplittableRandom;

/**
 * Peer benchmark: ONNX Runtime (CPU execution provider) on an ONNX model with a dynamic
 * batch axis, measured the way {@code densenet4j bench} measures itself: warm-up runs,
 * then {@code session.run} on one reusable random input for a fixed wall time; one
 * result line on stdout (key=value, or JSON with --json), diagnostics on stderr.
 *
 * <pre>
 * java -jar densenet4j-bench-ort.jar --model FILE.onnx --batch N [--threads T] [--seconds S]
 *      [--image 224] [--warmup 2] [--json] [--quiet]
 * </pre>
 */
public final class OrtBench {
    private OrtBench() {}

    private static final String USAGE =
            "usage: OrtBench --model FILE.onnx --batch N [--threads T (2)] [--seconds S (10)] [--image SIDE (224)]"
                    + " [--warmup W (2)] [--json] [--quiet]";

    public static void main(String[] args) {
        try {
            System.exit(run(args));
        } catch (IllegalArgumentException e) {
            System.err.println("OrtBench: " + e.getMessage());
            System.err.println(USAGE);
            System.exit(2);
        } catch (OrtException | IOException e) {
            System.err.println("OrtBench: " + e);
            System.exit(1);
        }
    }

    static int run(String[] args) throws OrtException, IOException {
        Path model = null;
        int batch = -1;
        int threads = 2;
        double seconds = 10;
        int image = 224;
        int warmup = 2;
        boolean json = false;
        boolean quiet = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--model" -> model = Path.of(value(args, ++i, a));
                case "--batch" -> batch = intValue(args, ++i, a);
                case "--threads" -> threads = intValue(args, ++i, a);
                case "--seconds" -> seconds = doubleValue(args, ++i, a);
                case "--image" -> image = intValue(args, ++i, a);
                case "--warmup" -> warmup = intValue(args, ++i, a);
                case "--json" -> json = true;
                case "--quiet" -> quiet = true;
                case "-h", "--help" -> {
                    System.out.println(USAGE);
                    return 0;
                }
                default -> throw new IllegalArgumentException("unknown argument '" + a + "'");
            }
        }
        if (model == null) throw new IllegalArgumentException("--model is required");
        if (!Files.isRegularFile(model)) throw new IllegalArgumentException("no such model file: " + model);
        if (batch <= 0) throw new IllegalArgumentException("--batch must be given and positive");
        if (threads <= 0) throw new IllegalArgumentException("--threads must be positive");
        if (!(seconds > 0)) throw new IllegalArgumentException("--seconds must be positive");
        if (image <= 0) throw new IllegalArgumentException("--image must be positive");
        if (warmup < 0) throw new IllegalArgumentException("--warmup must be >= 0");

        String bundled = bundledVersion();
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        String runtime = env.getVersion();
        if (!quiet && bundled != null && !bundled.equals(runtime)) {
            System.err.println("OrtBench: warning: built against onnxruntime " + bundled + " but loaded " + runtime);
        }

        try (SessionOptions opts = new SessionOptions()) {
            opts.setOptimizationLevel(OptLevel.ALL_OPT);
            opts.setIntraOpNumThreads(threads);
            opts.setInterOpNumThreads(1);
            opts.setExecutionMode(ExecutionMode.SEQUENTIAL);
            try (OrtSession session = env.createSession(model.toString(), opts)) {
                if (session.getInputNames().size() != 1) {
                    throw new IllegalArgumentException("model must have exactly one input, has " + session.getInputNames());
                }
                String inputName = session.getInputNames().iterator().next();
                NodeInfo in = session.getInputInfo().get(inputName);
                if (!(in.getInfo() instanceof TensorInfo ti)) {
                    throw new IllegalArgumentException("input '" + inputName + "' is not a tensor");
                }
                long[] declared = ti.getShape();
                if (declared.length != 4) {
                    throw new IllegalArgumentException("input '" + inputName + "' must be 4-D (N,C,H,W), is " + Arrays.toString(declared));
                }
                if (declared[0] >= 0) {
                    throw new IllegalArgumentException("model's batch axis is fixed at " + declared[0]
                            + "; export it with a dynamic batch axis");
                }
                int channels = declared[1] > 0 ? (int) declared[1] : 3;
                for (int d = 2; d < 4; d++) {
                    if (declared[d] > 0 && declared[d] != image) {
                        throw new IllegalArgumentException("model's input is fixed at " + declared[d]
                                + " pixels, --image is " + image);
                    }
                }
                long[] shape = {batch, channels, image, image};
                int n = Math.multiplyExact(Math.multiplyExact(batch, channels), Math.multiplyExact(image, image));
                // Direct buffer: ORT wraps it without a copy; one tensor is reused for every run.
                FloatBuffer buf = ByteBuffer.allocateDirect(Math.multiplyExact(n, Float.BYTES))
                        .order(ByteOrder.nativeOrder()).asFloatBuffer();
                SplittableRandom rng = new SplittableRandom(7); // same input recipe as densenet4j bench
                for (int i = 0; i < n; i++) buf.put(i, (float) (rng.nextDouble() * 2 - 1));

                try (OnnxTensor x = OnnxTensor.createTensor(env, buf, shape)) {
                    Map<String, OnnxTensor> feed = Map.of(inputName, x);
                    long[] outShape = null;
                    for (int i = 0; i < Math.max(1, warmup); i++) {
                        try (OrtSession.Result r = session.run(feed)) {
                            outShape = ((TensorInfo) r.get(0).getInfo()).getShape();
                        }
                    }
                    var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
                    long cpu0 = os.getProcessCpuTime();
                    long t0 = System.nanoTime();
                    long deadline = t0 + (long) (seconds * 1e9);
                    long batches = 0;
                    do {
                        try (OrtSession.Result r = session.run(feed)) {
                            batches++;
                        }
                    } while (System.nanoTime() < deadline);
                    long t1 = System.nanoTime();
                    long cpu1 = os.getProcessCpuTime();
                    double elapsed = (t1 - t0) / 1e9;
                    double ips = batches * batch / elapsed;
                    double msPerBatch = 1000 * elapsed / batches;
                    long rss = peakRss();
                    String peer = "onnxruntime-" + runtime;
                    if (json) {
                        System.out.println(String.format(Locale.ROOT,
                                "{\"peer\":\"%s\",\"batch\":%d,\"image\":%d,\"threads\":%d,\"batches\":%d,\"seconds\":%.3f,"
                                        + "\"img_per_s\":%.2f,\"ms_per_batch\":%.3f,\"peak_rss_bytes\":%d}",
                                peer, batch, image, threads, batches, elapsed, ips, msPerBatch, rss));
                    } else {
                        System.out.println(String.format(Locale.ROOT,
                                "peer=%s batch=%d image=%d threads=%d batches=%d img_per_s=%.2f ms_per_batch=%.3f peak_rss_bytes=%d",
                                peer, batch, image, threads, batches, ips, msPerBatch, rss));
                    }
                    if (!quiet) {
                        System.err.println(String.format(Locale.ROOT,
                                "OrtBench: model=%s input=%s%s output=%s opt=ALL_OPT intra_op=%d inter_op=1 mode=SEQUENTIAL"
                                        + " cpu_per_wall=%.2f os_threads=%d",
                                model.getFileName(), inputName, Arrays.toString(shape), Arrays.toString(outShape),
                                threads, (cpu1 - cpu0) / 1e9 / elapsed, osThreads()));
                    }
                }
            }
        }
        return 0;
    }

    private static String value(String[] args, int i, String flag) {
        if (i >= args.length) throw new IllegalArgumentException(flag + " needs a value");
        return args[i];
    }

    private static int intValue(String[] args, int i, String flag) {
        String v = value(args, i, flag);
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " takes an integer, got '" + v + "'");
        }
    }

    private static double doubleValue(String[] args, int i, String flag) {
        String v = value(args, i, flag);
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " takes a number, got '" + v + "'");
        }
    }

    /** The ONNX Runtime version this jar was built against (from the filtered properties). */
    private static String bundledVersion() {
        try (InputStream s = OrtBench.class.getResourceAsStream("/ort-bench.properties")) {
            if (s == null) return null;
            Properties p = new Properties();
            p.load(s);
            return p.getProperty("onnxruntime.version");
        } catch (IOException e) {
            return null;
        }
    }

    /** The process's peak resident set (VmHWM), bytes; -1 where /proc is absent. */
    static long peakRss() {
        return procStatus("VmHWM:") * 1024;
    }

    private static long osThreads() {
        return procStatus("Threads:");
    }

    private static long procStatus(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(key)) return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}
