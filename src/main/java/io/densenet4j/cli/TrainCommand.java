package io.densenet4j.cli;

import io.densenet4j.DenseNet;
import io.densenet4j.DenseNetConfig;
import io.densenet4j.DenseNets;
import io.densenet4j.Initializers;
import io.densenet4j.data.Dataset;
import io.densenet4j.data.Datasets;
import io.densenet4j.data.Normalization;
import io.densenet4j.data.TensorFileDataset;
import io.densenet4j.io.StateDict;
import io.densenet4j.io.StateDicts;
import io.densenet4j.io.Tensor;
import io.densenet4j.train.Checkpoint;
import io.densenet4j.train.Evaluation;
import io.densenet4j.train.Schedule;
import io.densenet4j.train.TrainSettings;
import io.densenet4j.train.Trainer;
import io.densenet4j.train.TrainingEngine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;

/** {@code train}: SGD on a dataset, with the defaults of the README's main job (Fashion-MNIST). */
@Command(name = "train", mixinStandardHelpOptions = true, description = "Train a DenseNet (memory-efficient, Pleiss et al. 2017) on a dataset; evaluate each epoch; checkpoint.")
final class TrainCommand implements Runnable {
    static final int DEFAULT_DEPTH = 28;
    static final int DEFAULT_EPOCHS = 10;

    @Mixin ArchOptions arch;

    @Option(names = "--dataset", description = "fashion-mnist (default; with --resume: the checkpoint's), mnist, cifar10, cifar100, folder:DIR (one sub-folder per class; all images of one size, else refused naming the file) or tensors:FILE")
    String dataset;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--data-dir", description = "where the dataset's files are (default: Debian's share folder for (fashion-)mnist)")
    Path dataDir;

    @Option(names = "--test-dataset", description = "test split as another dataset spec (for datasets without one)")
    String testDataset;

    @Option(names = "--val-split", description = "hold out this fraction of the training set as the test split")
    Double valSplit;

    @Option(names = "--weights", description = "initial weights (fine-tuning); a classifier of another class count is re-initialised")
    Path weights;

    @Option(names = "--epochs", description = "epochs (default " + DEFAULT_EPOCHS + ")")
    int epochs = DEFAULT_EPOCHS;

    @Option(names = "--batch", description = "batch size (default 64)")
    int batch = 64;

    @Option(names = "--lr", description = "base learning rate (default 0.1)")
    double lr = 0.1;

    @Option(names = "--schedule", description = "step (/10 at 50%% and 75%%), cosine (default) or constant")
    String schedule = "cosine";

    @Option(names = "--momentum", description = "SGD momentum (default 0.9)")
    double momentum = 0.9;

    // two options, not picocli's negatable one: that sets a true-by-default flag to false when its positive form is given
    boolean nesterov = true;

    @Option(names = "--nesterov", description = "Nesterov momentum (the default)")
    void nesterov(boolean on) { nesterov = true; }

    @Option(names = "--no-nesterov", description = "plain (heavy-ball) momentum instead of Nesterov's")
    void noNesterov(boolean on) { nesterov = false; }

    @Option(names = "--weight-decay", description = "weight decay (default 1e-4)")
    double weightDecay = 1e-4;

    @Option(names = "--drop-rate", description = "dropout on each dense layer's new features (default 0)")
    double dropRate = 0;

    @Option(names = "--seed", description = "seed of data order, augmentation and dropout (default 0)")
    long seed = 0;

    @Option(names = "--out", description = "output folder: checkpoint.safetensors, metrics.csv, plot.png (default runs/DATASET)")
    Path out;

    @Option(names = "--resume", description = "continue from this checkpoint (its settings and data order)")
    Path resume;

    @Option(names = "--steps", description = "stop after N SGD steps in all (checkpoint kept for --resume); 0, the default: no limit")
    long steps = 0;

    @Option(names = "--no-shuffle", description = "keep the dataset order")
    boolean noShuffle;

    @Option(names = "--no-augment", description = "no random crop / flip")
    boolean noAugment;

    @Option(names = "--save-state", description = "write the final state_dict (torchvision names) as safetensors here")
    Path saveState;

    @Option(names = "--checkpoint-every", description = "also write the checkpoint every N steps within epochs (default 0: at epoch ends only); Ctrl-C or SIGTERM always writes one after the step in progress")
    long checkpointEvery = 0;

    @Option(names = "--normalize", description = "computed (default: mean/std of the training split), imagenet, none (default for tensors: datasets: values as they are), MEAN,STD for all channels or MEAN,STD;MEAN,STD;... one pair per channel (values in [0, 1] units); stored in the checkpoint")
    String normalize;

    @Option(names = "--memory", description = "efficient (default) or naive")
    String memory = "efficient";

    @Option(names = "--threads", description = "CPU threads, 0 (all cores, the default) to 1024")
    int threads = 0;

    @Option(names = "--device", description = "auto (default: CUDA if available, else CPU), cpu, cuda or cuda:INDEX; a resumed run may change it")
    String device = "auto";

    @Option(names = "--dtype", description = "fp32 (default, true fp32), or on CUDA fp16 or bf16: mixed precision with fp32 master weights (fp16 with dynamic loss scaling); a resumed run may change it")
    String dtype = "fp32";

    /** Options that a resumed run takes from its checkpoint instead. */
    static final String[] FROM_CHECKPOINT = {"--arch", "--config", "--depth", "--growth-rate", "--in-channels", "--num-classes", "--weights",
        "--epochs", "--batch", "--lr", "--schedule", "--momentum", "--nesterov", "--no-nesterov", "--weight-decay", "--drop-rate", "--seed", "--no-shuffle",
        "--no-augment", "--memory", "--threads", "--normalize"};

    @Override
    public void run() {
        // an unusable device or dtype fails here, before any output (auto's fallback line comes when training starts)
        io.densenet4j.Devices.checkFor(device, dtype, true);
        if (out != null && out.toString().isEmpty()) throw new IllegalArgumentException("--out must not be empty");
        if (checkpointEvery < 0) throw new IllegalArgumentException("--checkpoint-every must be 0 or more steps, got " + checkpointEvery);
        // every value is checked, also those a resumed run ignores
        TrainSettings given = new TrainSettings(epochs, batch, lr, Schedule.parse(schedule), momentum, nesterov, weightDecay, seed, !noShuffle,
                !noAugment, TrainingEngine.Memory.parse(memory), threads, steps);
        NormalizeSpec normalizeSpec = normalize != null ? NormalizeSpec.parse(normalize) : null;
        java.util.List<String> notes = new java.util.ArrayList<>();  // printed once the run is accepted
        Checkpoint ck = resume != null ? Checkpoint.read(resume) : null;
        if (ck != null) {
            java.util.List<String> ignored = new java.util.ArrayList<>();
            for (String o : FROM_CHECKPOINT) if (spec.commandLine().getParseResult().hasMatchedOption(o)) ignored.add(o);
            if (!ignored.isEmpty()) notes.add("resuming: " + String.join(", ", ignored) + " ignored; the checkpoint's settings apply");
            if (dataset == null) dataset = ck.run().get("dataset");
            if (valSplit == null && ck.run().containsKey("val_split")) valSplit = Double.parseDouble(ck.run().get("val_split"));
            if (testDataset == null) testDataset = ck.run().get("test_dataset");
            if (ck.epoch() >= ck.settings().epochs()) {
                System.out.println("the run in " + resume + " is complete (" + ck.settings().epochs() + " epochs, " + ck.step()
                        + " steps); nothing to resume");
                return;
            }
        }
        if (dataset == null) dataset = "fashion-mnist";
        if (valSplit != null && testDataset != null) throw new IllegalArgumentException("give --val-split or --test-dataset, not both");
        if (saveState != null) {
            requireWritableParent(saveState, "--save-state");
            if (java.nio.file.Files.isDirectory(saveState)) throw new IllegalArgumentException("--save-state " + saveState + " is a folder; give a file name");
        }
        Dataset train = Datasets.open(dataset, dataDir, true);
        if (train instanceof TensorFileDataset t && !t.inputDtype().equals("F32")) {
            notes.add("note: " + dataset + " stores 'input' as " + t.inputDtype() + "; converted to float32");
        }
        Dataset test;
        if (valSplit != null) {
            Datasets.Split s = Datasets.split(train, valSplit, seed);
            train = s.train();
            test = s.validation();
        } else if (testDataset != null) {
            test = Datasets.open(testDataset, dataDir, false);
        } else if (dataset.startsWith("folder:") || dataset.startsWith("tensors:")) {
            test = null;
        } else {
            test = Datasets.open(dataset, dataDir, false);
        }
        TrainSettings settings;
        DenseNetConfig cfg;
        StateDict init = null;
        Normalization norm;
        Path dir = out != null ? out : Path.of("runs", dataset.replaceAll("[^A-Za-z0-9_.-]", "_"));
        if (ck != null) {
            settings = ck.settings();
            cfg = ck.config();
            norm = ck.normalization();
            if (out == null) dir = resume.toAbsolutePath().getParent();
        } else {
            boolean tensors = train instanceof TensorFileDataset || dataset.startsWith("tensors:");
            settings = new TrainSettings(given.epochs(), given.batch(), given.lr(), given.schedule(), given.momentum(), given.nesterov(),
                    given.weightDecay(), given.seed(), given.shuffle(), given.augment() && !tensors, given.memory(), given.threads(), given.maxSteps());
            cfg = config(train);
            if (dropRate != 0) cfg = cfg.withDropRate(dropRate);
            if (normalizeSpec == null) normalizeSpec = tensors ? NormalizeSpec.NONE : NormalizeSpec.COMPUTED;
            Dataset trainSplit = train;
            norm = normalizeSpec.resolve(train.channels(), () -> trainSplit);
        }
        dir = dir.toAbsolutePath().normalize();  // the log and the notes name the folder as it is, wherever the run was started
        if (ck != null) settings = withSteps(settings, steps);  // a limit applies to this invocation only
        Trainer trainer = new Trainer(cfg, settings, train, test, norm, dir, System.err);  // a network that does not fit the data fails here, before any output
        if (ck != null) notes.add(0, "resuming " + resume + " at epoch " + (ck.epoch() + 1) + ", step " + ck.step() + " (its settings apply)");
        else init = weights != null ? fineTuneStart(cfg, notes) : Initializers.torchvision(new DenseNet(cfg), seed);
        if (ck == null && java.nio.file.Files.exists(dir.resolve(Trainer.CHECKPOINT))) {
            notes.add("note: replacing the earlier run in " + dir + " (use --resume " + dir.resolve(Trainer.CHECKPOINT) + " to continue it)");
        }
        java.util.Map<String, String> info = new java.util.LinkedHashMap<>();
        info.put("dataset", dataset);
        if (valSplit != null) info.put("val_split", Double.toString(valSplit));
        if (testDataset != null) info.put("test_dataset", testDataset);
        String normalizeText = ck != null ? ck.run().getOrDefault("normalize", NormalizeSpec.describe(norm)) : normalizeSpec.text();
        info.put("normalize", normalizeText);
        requireFolderPossible(dir);
        // printed by run() once the network, device and memory are accepted, before the folder is made
        notes.add(String.format(Locale.ROOT, "training %s on %s (%d images, %dx%dx%d, %d classes), %d epoch%s, batch %d, %s memory%s -> %s",
                cfg, dataset, train.size(), train.channels(), train.height(), train.width(), train.numClasses(), settings.epochs(),
                settings.epochs() == 1 ? "" : "s",
                settings.batch(), settings.memory().id(), dtype.equals("fp32") ? "" : ", " + dtype, dir)
                + "; normalize " + (normalizeText.equals("computed") || normalizeText.equals("imagenet") ? normalizeText + " (" + NormalizeSpec.describe(norm) + ")" : normalizeText));
        trainer.onDevice(device).dtype(dtype).describeRun(info).banner(String.join("\n", notes)).checkpointEvery(checkpointEvery);
        Trainer.Result r;
        try (Interrupts interrupts = Interrupts.install(trainer, System.err)) {
            r = trainer.run(init, ck);
            if (r.interrupted()) throw new Interrupts.Stopped(interrupts.exitCode());
        }
        if (saveState != null) {
            Trainer.saveState(r.state(), saveState);
            System.out.println("wrote state_dict to " + saveState);
        }
        if (r.stoppedEarly()) return;
        if (r.test() != null) {
            Evaluation e = r.test();
            System.out.println(String.format(Locale.ROOT, "test accuracy: %.4f (%d/%d)", e.accuracy(), e.correct(), e.samples()));
            printSamples(r.state(), cfg, test, norm, settings.threads());
        }
        System.out.println("checkpoint: " + dir.resolve(Trainer.CHECKPOINT));
    }

    /** --out DIR: refused now (not after the banner) when it is a file or sits below one, or cannot be made. */
    static void requireFolderPossible(Path dir) {
        Path p = dir.toAbsolutePath();
        while (p != null && !java.nio.file.Files.exists(p)) p = p.getParent();
        if (p == null) return;
        if (!java.nio.file.Files.isDirectory(p)) {
            throw new IllegalArgumentException("--out " + dir + ": " + p + " is a file, not a folder");
        }
        if (!java.nio.file.Files.isWritable(p)) throw new IllegalArgumentException("--out " + dir + ": folder " + p + " is not writable");
    }

    static void requireWritableParent(Path file, String option) {
        Path parent = file.toAbsolutePath().getParent();
        if (parent == null || !java.nio.file.Files.isDirectory(parent) || !java.nio.file.Files.isWritable(parent)) {
            throw new IllegalArgumentException(option + " " + file + ": folder " + parent + " does not exist or is not writable");
        }
    }

    private static TrainSettings withSteps(TrainSettings s, long steps) {
        return new TrainSettings(s.epochs(), s.batch(), s.lr(), s.schedule(), s.momentum(), s.nesterov(), s.weightDecay(), s.seed(),
                s.shuffle(), s.augment(), s.memory(), s.threads(), steps);
    }

    private DenseNetConfig config(Dataset train) {
        DenseNetConfig c = arch.resolve(weights == null ? DEFAULT_DEPTH : -1);  // --depth/--growth-rate alone: the default DenseNet-BC
        if (c == null && weights != null) c = io.densenet4j.ArchitectureInference.infer(StateDicts.load(weights));
        if (c == null) c = DenseNets.densenetBC(DEFAULT_DEPTH, 12, train.channels(), train.numClasses());
        // given: used as given (the Trainer refuses one that differs from the data); else the dataset's
        c = c.withInChannels(arch.inChannels != null ? arch.inChannels : train.channels());
        c = c.withNumClasses(arch.numClasses != null ? arch.numClasses : train.numClasses());
        return c;
    }

    /** Weights to fine-tune from: the classifier is re-initialised when the class count differs. */
    private StateDict fineTuneStart(DenseNetConfig cfg, java.util.List<String> notes) {
        StateDict sd = StateDicts.load(weights);
        Tensor conv0 = sd.get("features.conv0.weight");
        if (conv0 != null && conv0.rank() == 4 && conv0.dim(1) != cfg.inChannels()) {
            throw new IllegalArgumentException("--weights " + weights + " take " + conv0.dim(1) + " input channels, the dataset has "
                    + cfg.inChannels() + " (convert the data or train from scratch)");
        }
        Tensor fc = sd.get("classifier.weight");
        if (fc != null && fc.rank() == 2 && fc.dim(0) != cfg.numClasses()) {
            StateDict fresh = Initializers.torchvision(new DenseNet(cfg), seed);
            sd.put("classifier.weight", fresh.require("classifier.weight"));
            sd.put("classifier.bias", fresh.require("classifier.bias"));
            notes.add("classifier re-initialised: the weights have " + fc.dim(0) + " classes, the dataset " + cfg.numClasses());
        }
        return sd;
    }

    /** Classifies the first test images with the trained model and prints them beside their labels. */
    private static void printSamples(StateDict state, DenseNetConfig cfg, Dataset test, Normalization norm, int threads) {
        int n = Math.min(8, test.size());
        int c = test.channels(), h = test.height(), w = test.width();
        float[] x = new float[n * c * h * w];
        for (int i = 0; i < n; i++) {
            test.image(i, x, i * c * h * w);
            norm.apply(x, i * c * h * w, h, w);
        }
        try (io.densenet4j.Predictor p = io.densenet4j.Predictor.create(cfg, state, new io.densenet4j.Predictor.Options("cpu", threads))) {
            float[] logits = p.forward(x, n, h, w);
            System.out.println("sample test images:");
            for (int i = 0; i < n; i++) {
                float[] prob = PredictCommand.softmax(logits, i * cfg.numClasses(), cfg.numClasses());
                int best = PredictCommand.topK(prob, 1)[0];
                String truth = test.classNames().get(test.label(i));
                System.out.println(String.format(Locale.ROOT, "  test[%d]: %-12s %5.1f%%  (true: %s)%s", i, test.classNames().get(best),
                        100 * prob[best], truth, best == test.label(i) ? "" : "  <- wrong"));
            }
        }
    }
}
