package io.densenet4j.train;

import io.densenet4j.DenseNetConfig;
import io.densenet4j.data.Batch;
import io.densenet4j.data.BatchLoader;
import io.densenet4j.data.Dataset;
import io.densenet4j.data.Normalization;
import io.densenet4j.io.SafeTensors;
import io.densenet4j.io.StateDict;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The training loop: SGD over a dataset for some epochs with a learning-rate schedule,
 * evaluation on the test split after each epoch, {@code metrics.csv} and {@code plot.png}, and a
 * {@link Checkpoint} ({@code checkpoint.safetensors}) after each epoch and when stopped by
 * {@code maxSteps}. Every random draw (data order, augmentation, dropout) is a function of the
 * seed, the epoch, the step and the sample, so a resumed run continues bit for bit as the
 * uninterrupted one would have (at the same thread count).
 */
public final class Trainer {
    public static final String CHECKPOINT = "checkpoint.safetensors";

    /** What a run ended with. */
    /**
     * @param stoppedEarly the run stopped before its last step ({@code --steps} or {@link #requestStop()}),
     *                     with a checkpoint to resume from
     * @param interrupted  it stopped because {@link #requestStop()} was called
     */
    public record Result(Evaluation test, long steps, int epochsDone, boolean stoppedEarly, StateDict state, boolean interrupted) {
        public Result(Evaluation test, long steps, int epochsDone, boolean stoppedEarly, StateDict state) {
            this(test, steps, epochsDone, stoppedEarly, state, false);
        }
    }

    private volatile boolean stopRequested;
    private long checkpointEvery;
    private java.util.function.LongConsumer afterStep = s -> {};

    private final DenseNetConfig config;
    private final TrainSettings settings;
    private final Dataset train;
    private final Dataset test;
    private final Normalization norm;
    private final Path out;
    private final PrintStream log;
    private boolean progress = true;
    private String device = "cpu";
    private String dtype = "fp32";
    private String banner;

    private final Map<String, String> runInfo = new java.util.LinkedHashMap<>();

    /** Describes where the data came from (dataset spec, split), stored in every checkpoint as {@code run.*}. */
    public Trainer describeRun(Map<String, String> info) {
        runInfo.putAll(info);
        return this;
    }

    /**
     * @throws IllegalArgumentException if the network does not fit the data: fewer images than one
     *                                  batch, other channels or classes, or images too small for its pooling
     */
    public Trainer(DenseNetConfig config, TrainSettings settings, Dataset train, Dataset test, Normalization norm, Path out, PrintStream log) {
        if (train.size() < settings.batch()) {
            throw new IllegalArgumentException("the training set has " + train.size() + " images, fewer than one batch of " + settings.batch());
        }
        if (config.inChannels() != train.channels()) {
            throw new IllegalArgumentException("the network takes " + config.inChannels() + " input channels, the dataset has " + train.channels());
        }
        if (config.numClasses() != train.numClasses()) {
            throw new IllegalArgumentException("the network has " + config.numClasses() + " classes, the dataset " + train.numClasses());
        }
        if (test != null && (test.channels() != train.channels() || test.height() != train.height() || test.width() != train.width()
                || test.numClasses() != train.numClasses())) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "the test split's images are %dx%dx%d in %d classes, the training set's %dx%dx%d in %d; they must match",
                    test.channels(), test.height(), test.width(), test.numClasses(), train.channels(), train.height(), train.width(),
                    train.numClasses()));
        }
        new io.densenet4j.DenseNet(config).checkInputSize(train.height(), train.width());
        this.config = config;
        this.settings = settings;
        this.train = train;
        this.test = test;
        this.norm = norm;
        this.out = out;
        this.log = log;
    }

    /**
     * Where steps run: {@code cpu} (the default), {@code cuda}, {@code cuda:INDEX} or {@code auto}
     * (see {@link io.densenet4j.Devices}). Not part of the run's settings: a run may be resumed
     * on another device. The GPU's sums run in another order, so a run is reproducible bit for
     * bit on one device, not across devices.
     */
    public Trainer onDevice(String device) {
        this.device = io.densenet4j.Devices.checkName(device);
        return this;
    }

    /**
     * The training precision: {@code fp32} (the default), or on CUDA {@code fp16} or {@code bf16}
     * (mixed precision, see {@link TrainingEngine#create(DenseNetConfig, StateDict, int, int,
     * TrainingEngine.Memory, int, int, String, String)}). Not part of the run's settings: a run may be
     * resumed in another precision.
     *
     * @throws IllegalArgumentException for a dtype other than fp32, fp16, bf16
     */
    public Trainer dtype(String dtype) {
        io.densenet4j.Devices.trainOptions("cuda", dtype);  // the name only; the device is checked when the run starts
        this.dtype = dtype;
        return this;
    }

    /**
     * Asks a running {@link #run} to stop after the step in progress: it writes a resumable
     * checkpoint (mid-epoch: sampler position, running sums, momentum; the RNG is a function of
     * seed, epoch, step and sample), the metrics so far and the plot, and returns a result with
     * {@code interrupted}. Safe from any thread (e.g. a signal handler).
     */
    public void requestStop() { stopRequested = true; }

    /** Also writes the checkpoint every {@code steps} steps within epochs (0, the default: at epoch ends only). */
    public Trainer checkpointEvery(long steps) {
        if (steps < 0) throw new IllegalArgumentException("--checkpoint-every must be 0 or more steps, got " + steps);
        this.checkpointEvery = steps;
        return this;
    }

    /** Called with the step count after every SGD step, on the training thread (tests, progress hooks). */
    public Trainer afterStep(java.util.function.LongConsumer hook) {
        this.afterStep = java.util.Objects.requireNonNull(hook);
        return this;
    }

    /** A line to log once the run is accepted (network, device and memory), before the output folder is made. */
    public Trainer banner(String line) {
        this.banner = line;
        return this;
    }

    /** Turns the progress bar off (tests, logs). */
    public Trainer quiet() {
        progress = false;
        return this;
    }

    /** Starts from {@code init} (torchvision names), or continues {@code resume} when it is not null. */
    public Result run(StateDict init, Checkpoint resume) {
        int h = train.height(), w = train.width();
        StateDict start = resume != null ? resume.model() : init;
        int epoch0 = resume != null ? resume.epoch() : 0;
        int batch0 = resume != null ? resume.batch() : 0;
        long step = resume != null ? resume.step() : 0;
        if (settings.maxSteps() > 0 && step >= settings.maxSteps()) {
            throw new IllegalArgumentException("--steps " + settings.maxSteps() + ": the checkpoint is already at step " + step
                    + "; give a larger --steps, or none to run to the end");
        }
        Metrics metrics = resume != null && resume.run().containsKey("metrics") ? Metrics.parse(resume.run().get("metrics")) : new Metrics();
        int perEpoch = BatchLoader.batchesPerEpoch(train.size(), settings.batch(), true);
        long totalSteps = (long) perEpoch * settings.epochs();
        Evaluation last = null;
        try (TrainingEngine engine = TrainingEngine.create(config, start, h, w, settings.memory(), settings.threads(), settings.batch(), device, dtype)) {
            if (banner != null) log.println(banner);
            try {  // only once the engine exists: a refused network or device leaves no folder behind
                Files.createDirectories(out);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create output folder " + out + " (" + e.getClass().getSimpleName() + ")", e);
            }
            if (resume != null) engine.loadMomentumBuffers(resume.momentum());
            if (!engine.device().equals("cpu")) {
                log.println("training on " + engine.device() + (dtype.equals("fp32") ? "" : " in " + dtype + " mixed precision") + " ("
                        + io.densenet4j.internal.NativeLibrary.cudaInfo() + ")");
            }
            for (int epoch = epoch0; epoch < settings.epochs(); epoch++) {
                long t0 = System.nanoTime();
                double lossSum = 0;
                long seen = 0, correct = 0;
                if (epoch == epoch0 && resume != null && batch0 > 0) {  // the sums of the batches before the stop
                    lossSum = Double.parseDouble(resume.run().getOrDefault("epoch_loss_sum", "0"));
                    seen = Long.parseLong(resume.run().getOrDefault("epoch_seen", "0"));
                    correct = Long.parseLong(resume.run().getOrDefault("epoch_correct", "0"));
                }
                long seenBefore = seen;  // images of this epoch before a resume: not timed here
                double lr = settings.lr();
                float[] logits = new float[settings.batch() * config.numClasses()];
                int first = epoch == epoch0 ? batch0 : 0;
                try (BatchLoader loader = BatchLoader.builder(train, settings.batch()).seed(settings.seed()).epoch(epoch)
                        .shuffle(settings.shuffle()).augment(settings.augment()).normalization(norm).dropLast(true).startBatch(first).build();
                     ProgressBar bar = progress && System.console() != null ? new ProgressBarBuilder().setTaskName("epoch " + (epoch + 1) + "/" + settings.epochs())
                             .setInitialMax(perEpoch).setStyle(ProgressBarStyle.ASCII).setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err))
                             .setUpdateIntervalMillis(500).build() : null) {
                    if (bar != null) bar.stepTo(first);
                    for (Batch b : loader) {
                        lr = settings.schedule().rate(settings.lr(), (epoch + (double) b.index() / perEpoch) / settings.epochs());
                        double loss = engine.forwardBackward(b.input(), b.labels(), b.n(), dropoutSeed(step), logits);
                        engine.sgdStep((float) lr, (float) settings.momentum(), (float) settings.weightDecay(), settings.nesterov());
                        step++;
                        lossSum += loss * b.n();
                        seen += b.n();
                        for (int i = 0; i < b.n(); i++) {
                            if (Evaluation.argmax(logits, i * config.numClasses(), config.numClasses()) == b.labels()[i]) correct++;
                        }
                        afterStep.accept(step);
                        String status = String.format(Locale.ROOT, "loss %.4f acc %.2f%% %.0f img/s", lossSum / seen, 100.0 * correct / seen,
                                (seen - seenBefore) / ((System.nanoTime() - t0) / 1e9));
                        if (bar != null) {
                            bar.step();
                            bar.setExtraMessage(status);
                        } else if (progress && (b.index() + 1) % Math.max(1, perEpoch / 10) == 0) {
                            log.println(String.format(Locale.ROOT, "epoch %d/%d batch %d/%d: %s", epoch + 1, settings.epochs(), b.index() + 1,
                                    perEpoch, status));
                        }
                        if (!Double.isFinite(loss)) {
                            throw new TrainingDivergedException("the loss became " + loss + " at step " + step + " (learning rate " + lr + " too high?)"
                                    + (epoch > epoch0 || resume != null ? "; the last checkpoint is kept" : "; no checkpoint was written"));
                        }
                        boolean limit = settings.maxSteps() > 0 && step >= settings.maxSteps();
                        boolean interrupt = stopRequested;
                        boolean endOfEpoch = b.index() + 1 == perEpoch;
                        if ((limit || interrupt) && step < totalSteps) {
                            double secs = (System.nanoTime() - t0) / 1e9;
                            if (endOfEpoch) {
                                last = test == null ? null : Evaluation.run(engine::predict, test, norm, settings.batch());
                                metrics.add(row(epoch + 1, step, lr, lossSum, seen, correct, last, seen - seenBefore, secs));
                                save(engine, epoch + 1, 0, step, metrics, 0, 0, 0);
                                metrics.write(out);
                            } else {
                                save(engine, epoch, b.index() + 1, step, metrics, lossSum, seen, correct);
                                // the file shows the epoch so far; the checkpoint keeps whole epochs only
                                metrics.plus(row(epoch + 1, step, lr, lossSum, seen, correct, null, seen - seenBefore, secs)).write(out);
                            }
                            log.println(String.format(Locale.ROOT, "stopped after %d step%s (%s) at epoch %d/%d, batch %d/%d; checkpoint, metrics.csv and"
                                            + " plot.png in %s; continue with --resume %s", step, step == 1 ? "" : "s", interrupt ? "interrupted" : "--steps",
                                    epoch + 1, settings.epochs(), b.index() + 1, perEpoch, out.toAbsolutePath(), out.resolve(CHECKPOINT).toAbsolutePath()));
                            return new Result(null, step, epoch, true, engine.stateDict(), interrupt);
                        }
                        if (checkpointEvery > 0 && step % checkpointEvery == 0 && !endOfEpoch) {
                            save(engine, epoch, b.index() + 1, step, metrics, lossSum, seen, correct);
                        }
                    }
                }
                double secs = (System.nanoTime() - t0) / 1e9;
                last = test == null ? null : Evaluation.run(engine::predict, test, norm, settings.batch());
                metrics.add(row(epoch + 1, step, lr, lossSum, seen, correct, last, seen - seenBefore, secs));  // training time, as the log line
                save(engine, epoch + 1, 0, step, metrics, 0, 0, 0);  // the checkpoint (with the metrics) first
                metrics.write(out);
                log.println(String.format(Locale.ROOT, "epoch %d/%d: train loss %.4f acc %.2f%%, test loss %s acc %s, %.0f img/s, %.0f s",
                        epoch + 1, settings.epochs(), lossSum / Math.max(1, seen), 100.0 * correct / Math.max(1, seen),
                        last == null ? "-" : String.format(Locale.ROOT, "%.4f", last.loss()),
                        last == null ? "-" : String.format(Locale.ROOT, "%.2f%%", 100 * last.accuracy()), (seen - seenBefore) / secs, secs));
            }
            if (last == null && test != null) last = Evaluation.run(engine::predict, test, norm, settings.batch());
            return new Result(last, step, settings.epochs(), false, engine.stateDict());
        }
    }

    /** The dropout masks of step {@code step}: a pure function of the seed and the step. */
    long dropoutSeed(long step) {
        long z = settings.seed() * 0x9E3779B97F4A7C15L + step;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        return z ^ (z >>> 31);
    }

    /**
     * The metrics row of an epoch; {@code epoch} counts from 1, as the log does; {@code timed}: the images
     * trained in {@code secs} (training, without evaluation; after a resume only those since it).
     */
    private static Metrics.Row row(int epoch, long step, double lr, double lossSum, long seen, long correct, Evaluation test, long timed, double secs) {
        return new Metrics.Row(epoch, step, lr, seen == 0 ? Double.NaN : lossSum / seen, seen == 0 ? Double.NaN : (double) correct / seen,
                test == null ? Double.NaN : test.loss(), test == null ? Double.NaN : test.accuracy(), timed / secs, secs);
    }

    private void save(TrainingEngine engine, int epoch, int batch, long step, Metrics metrics, double lossSum, long seen, long correct) {
        StateDict model = engine.stateDict();
        Map<String, float[]> mom = engine.momentumBuffers();
        List<String> names = train.classNames();
        Map<String, String> run = new java.util.LinkedHashMap<>(runInfo);
        run.put("metrics", metrics.csv());
        if (batch > 0) {
            run.put("epoch_loss_sum", Double.toString(lossSum));
            run.put("epoch_seen", Long.toString(seen));
            run.put("epoch_correct", Long.toString(correct));
        }
        new Checkpoint(config, settings, model, mom, epoch, batch, step, norm, names, train.height(), train.width(), run)
                .write(out.resolve(CHECKPOINT));
    }

    /** Writes the plain state_dict (torchvision names, no optimizer state) as safetensors. */
    public static void saveState(StateDict state, Path file) {
        SafeTensors.write(file, state, Map.of());
    }
}
