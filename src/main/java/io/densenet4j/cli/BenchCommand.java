package io.densenet4j.cli;

import io.densenet4j.DenseNet;
import io.densenet4j.DenseNetConfig;
import io.densenet4j.Devices;
import io.densenet4j.Initializers;
import io.densenet4j.Predictor;
import io.densenet4j.internal.NativeLibrary;
import io.densenet4j.io.StateDict;
import io.densenet4j.io.StateDicts;
import io.densenet4j.train.TrainingEngine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** {@code bench}: inference throughput and peak native memory. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Measure inference throughput (images/s) and peak native memory on random or given weights.")
final class BenchCommand implements Runnable {
    @Mixin ArchOptions arch;
    @Mixin RunOptions run;

    @Option(names = "--weights", description = "weights to use (default: fresh torchvision-style init)")
    Path weights;

    @Option(names = "--batch", description = "batch size (default 8)")
    int batch = 8;

    @Option(names = "--image", description = "input side in pixels (default 224 for ImageNet stems, 32 for CIFAR stems)")
    Integer image;

    @Option(names = "--seconds", description = "measuring time after warm-up (default 10)")
    double seconds = 10;

    @Option(names = "--warmup", description = "warm-up batches (default 2)")
    int warmup = 2;

    @Option(names = "--json", description = "print one JSON object instead of key=value")
    boolean json;

    @Option(names = "--train", description = "time training steps (forward, backward, SGD) instead of inference")
    boolean train;

    @Option(names = "--memory", description = "with --train: efficient (default) or naive")
    String memory = "efficient";

    @Option(names = "--clients", description = "serving benchmark: N client threads each submitting single images through a BatchingPredictor (default 0: plain batches of --batch)")
    int clients = 0;

    @Option(names = "--max-batch", description = "with --clients: the largest batch formed (default 8)")
    int maxBatch = 8;

    @Option(names = "--max-delay-ms", description = "with --clients: how long a forming batch waits for batch-mates, ms (default 2)")
    double maxDelayMs = 2;

    @Option(names = "--input", description = "float (default: (N, C, H, W) float32) or uint8 ((N, H, W, C) bytes, normalised natively)")
    String input = "float";

    @Override
    public void run() {
        if (batch <= 0) throw new IllegalArgumentException("--batch must be positive, got " + batch);
        if (!(seconds > 0) || seconds > 86400) throw new IllegalArgumentException("--seconds must be in (0, 86400], got " + seconds);
        if (clients < 0 || clients > 4096) throw new IllegalArgumentException("--clients must be from 0 to 4096, got " + clients);
        if (maxBatch < 1 || maxBatch > 4096) throw new IllegalArgumentException("--max-batch must be from 1 to 4096, got " + maxBatch);
        if (!(maxDelayMs >= 0) || maxDelayMs > 10000) throw new IllegalArgumentException("--max-delay-ms must be from 0 to 10000, got " + maxDelayMs);
        if (!input.equals("float") && !input.equals("uint8")) throw new IllegalArgumentException("--input must be float or uint8, got '" + input + "'");
        if (train && (clients > 0 || input.equals("uint8"))) throw new IllegalArgumentException("--clients and --input uint8 apply to inference, not --train");
        if (warmup < 0) throw new IllegalArgumentException("--warmup must be >= 0, got " + warmup);
        DenseNetConfig cfg = arch.resolve();
        if (cfg == null && weights == null) throw new IllegalArgumentException("give --arch NAME, --config FILE or --weights FILE");
        StateDict sd;
        if (weights != null) {
            sd = StateDicts.load(weights);
            if (cfg == null) cfg = io.densenet4j.ArchitectureInference.infer(sd);
        } else {
            sd = Initializers.torchvision(new DenseNet(cfg), 1);
        }
        int side = image != null ? image : InfoCommand.defaultImageSize(cfg);
        new DenseNet(cfg).checkInputSize(side, side);
        double floats = (double) batch * cfg.inChannels() * side * side;  // no overflow at any --image
        if (floats > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("--batch " + batch + " at " + side + "x" + side + " needs " + String.format(java.util.Locale.ROOT, "%.0f", floats) + " input floats, more than one Java array holds");
        }
        String threads = Integer.toString(run.threads > 0 ? run.threads : Runtime.getRuntime().availableProcessors());
        if (clients > 0) {
            StateDict given = sd;
            sd = withBenchRanges(cfg, sd, run.options(), ServingBench.randomFloats(cfg.inChannels() * side * side, 7), side);
            System.out.println(ServingBench.run(cfg, sd, run.options(), side, clients, maxBatch, maxDelayMs, input.equals("uint8"), seconds, warmup,
                    name(), threads, json));
            if (sd != given) System.err.println(BENCH_RANGES_NOTE);
            return;
        }
        float[] x = ServingBench.randomFloats((int) floats, 7);
        if (train) {
            benchTrain(cfg, sd, x, side);
            return;
        }
        if (!memory.equals("efficient")) throw new IllegalArgumentException("--memory applies to --train only");
        boolean u8 = input.equals("uint8");
        byte[] xb = u8 ? ServingBench.randomBytes(x.length, 7) : null;
        float[][] norm = ServingBench.uint8Normalization(cfg.inChannels());
        Predictor.Options options = run.options();
        StateDict given = sd;
        sd = withBenchRanges(cfg, sd, options, x, side);
        boolean selfCalibrated = sd != given;
        try (Predictor p = Predictor.create(cfg, sd, options)) {
            sd = null;
            Runnable once = u8 ? () -> p.forwardUint8(xb, batch, side, side, norm[0], norm[1]) : () -> p.forward(x, batch, side, side);
            for (int i = 0; i < Math.max(1, warmup); i++) once.run();
            if (selfCalibrated) System.err.println(BENCH_RANGES_NOTE);  // once the batch is accepted: a refusal stays one line
            long t0 = System.nanoTime();
            long deadline = t0 + (long) (seconds * 1e9);
            int batches = 0;
            long[] lat = new long[1024];
            do {
                long b0 = System.nanoTime();
                once.run();
                if (batches == lat.length) lat = java.util.Arrays.copyOf(lat, batches * 2);
                lat[batches++] = System.nanoTime() - b0;
            } while (System.nanoTime() < deadline);
            double elapsed = (System.nanoTime() - t0) / 1e9;
            java.util.Arrays.sort(lat, 0, batches);
            double p50 = ServingBench.percentileMs(lat, batches, 0.5), p99 = ServingBench.percentileMs(lat, batches, 0.99);
            double ips = batches * batch / elapsed;
            long peak = NativeLibrary.nativeBytesPeak();
            long devicePeak = NativeLibrary.deviceBytesPeak();
            long rss = peakRss();
            if (json) {
                System.out.println(String.format(Locale.ROOT,
                        "{\"arch\":\"%s\",\"batch\":%d,\"image\":%d,\"input\":\"%s\",\"threads\":%s,\"device\":\"%s\",\"dtype\":\"%s\",\"batches\":%d,\"seconds\":%.3f,"
                                + "\"img_per_s\":%.2f,\"ms_per_batch\":%.3f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"peak_native_bytes\":%d,\"peak_device_bytes\":%d,\"peak_rss_bytes\":%d}",
                        name(), batch, side, input, threads, p.device(), run.dtype, batches, elapsed, ips, 1000 * elapsed / batches, p50, p99, peak,
                        devicePeak, rss));
            } else {
                System.out.println(String.format(Locale.ROOT,
                        "arch=%s batch=%d image=%d input=%s threads=%s device=%s dtype=%s batches=%d img_per_s=%.2f ms_per_batch=%.3f p50_ms=%.3f p99_ms=%.3f peak_native_bytes=%d"
                                + (p.device().equals("cpu") ? "" : " peak_device_bytes=" + devicePeak) + " peak_rss_bytes=%d",
                        name(), batch, side, input, threads, p.device(), run.dtype, batches, ips, 1000 * elapsed / batches, p50, p99, peak, rss));
            }
        }
    }

    /**
     * For {@code --dtype int8} with weights that carry no calibration ranges: ranges from one image of
     * the benchmark's own random input (speed is what is measured; the note says so), and the native
     * peak reset after, so that it is the int8 engine's own.
     */
    static final String BENCH_RANGES_NOTE = "note: these weights carry no int8 calibration ranges; calibrated on the benchmark's random input "
            + "(speed only: for accuracy make them with `densenet4j quantize`)";

    static StateDict withBenchRanges(DenseNetConfig cfg, StateDict sd, Predictor.Options options, float[] x, int side) {
        if (!options.dtype().equals("int8") || sd.keys().stream().anyMatch(k -> k.endsWith(io.densenet4j.Calibrator.RANGE_SUFFIX))) return sd;
        Devices.checkFor(options.device(), options.dtype(), false);
        int per = cfg.inChannels() * side * side;
        try (io.densenet4j.Calibrator c = io.densenet4j.Calibrator.create(cfg, sd, options.threads())) {
            c.observe(java.util.Arrays.copyOf(x, per), 1, side, side);
            sd = c.quantizedWeights();
        }
        NativeLibrary.resetPeak();
        return sd;
    }

    private void benchTrain(DenseNetConfig cfg, StateDict sd, float[] x, int side) {
        TrainingEngine.Memory mode = TrainingEngine.Memory.parse(memory);
        long[] y = new long[batch];
        for (int i = 0; i < batch; i++) y[i] = i % cfg.numClasses();
        try (TrainingEngine t = TrainingEngine.create(cfg, sd, side, side, mode, run.threads, batch, run.device, run.dtype)) {
            for (int i = 0; i < Math.max(1, warmup); i++) {
                t.forwardBackward(x, y, batch, i, null);
                t.sgdStep(0.01f, 0.9f, 1e-4f, true);
            }
            long t0 = System.nanoTime();
            long deadline = t0 + (long) (seconds * 1e9);
            int steps = 0;
            do {
                t.forwardBackward(x, y, batch, steps, null);
                t.sgdStep(0.01f, 0.9f, 1e-4f, true);
                steps++;
            } while (System.nanoTime() < deadline);
            double elapsed = (System.nanoTime() - t0) / 1e9;
            long peak = NativeLibrary.nativeBytesPeak();
            long devicePeak = NativeLibrary.deviceBytesPeak();
            String fmt = json
                    ? "{\"arch\":\"%s\",\"train\":true,\"device\":\"%s\",\"dtype\":\"%s\",\"memory\":\"%s\",\"batch\":%d,\"image\":%d,\"depth\":%d,\"steps\":%d,\"ms_per_step\":%.1f,"
                            + "\"img_per_s\":%.2f,\"peak_native_bytes\":%d,\"peak_device_bytes\":%d,\"estimate_bytes\":%d,\"peak_rss_bytes\":%d}"
                    : "arch=%s train=true device=%s dtype=%s memory=%s batch=%d image=%d depth=%d steps=%d ms_per_step=%.1f img_per_s=%.2f peak_native_bytes=%d peak_device_bytes=%d estimate_bytes=%d peak_rss_bytes=%d";
            System.out.println(String.format(Locale.ROOT, fmt, name(), t.device(), t.dtype(), mode.id(), batch, side, new DenseNet(cfg).depth(), steps,
                    1000 * elapsed / steps, steps * batch / elapsed, peak, devicePeak, t.estimateBytes(batch), peakRss()));
        }
    }

    private String name() {
        if (arch.config != null) return arch.config.getFileName().toString();
        if (arch.arch != null) return arch.arch + (arch.depth != null ? "-L" + arch.depth : "");
        return weights.getFileName().toString();
    }

    /** The process's peak resident set (VmHWM), bytes; -1 where /proc is absent. */
    static long peakRss() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}
