package io.densenet4j.cli;

import io.densenet4j.ArchitectureInference;
import io.densenet4j.DenseNetConfig;
import io.densenet4j.Predictor;
import io.densenet4j.data.Dataset;
import io.densenet4j.data.Datasets;
import io.densenet4j.data.Normalization;
import io.densenet4j.io.SafeTensors;
import io.densenet4j.io.StateDict;
import io.densenet4j.io.StateDicts;
import io.densenet4j.io.WeightsFormat;
import io.densenet4j.train.Checkpoint;
import io.densenet4j.train.Evaluation;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Map;

/** {@code evaluate}: accuracy, per-class accuracy and the confusion matrix on a dataset's test split. */
@Command(name = "evaluate", mixinStandardHelpOptions = true, description = "Accuracy, per-class accuracy and confusion matrix of weights (or a checkpoint) on a dataset.")
final class EvaluateCommand implements Runnable {
    @Mixin ArchOptions arch;
    @Mixin RunOptions run;

    @Option(names = "--weights", required = true, description = "checkpoint or weights (.pth / .safetensors)")
    Path weights;

    @Option(names = "--dataset", description = "fashion-mnist, mnist, cifar10, cifar100 (their test split), folder:DIR (all images of one size, else refused naming the file) or tensors:FILE (default: a checkpoint's own, else fashion-mnist)")
    String dataset;

    @Option(names = "--data-dir", description = "where the dataset's files are")
    Path dataDir;

    @Option(names = "--normalize", description = "computed|imagenet|none|MEAN,STD[;MEAN,STD...] (default: the checkpoint's; for plain weights computed from the training split, none for tensors: datasets)")
    String normalize;

    @Option(names = "--skip-bad", description = "folder: datasets: leave out images that cannot be read, one note each (default: refuse, naming the file)")
    boolean skipBad;

    @Option(names = "--batch", description = "batch size (default 250)")
    int batch = 250;

    @Override
    public void run() {
        if (batch <= 0) throw new IllegalArgumentException("--batch must be positive");
        Predictor.Options options = run.options();  // checked before any note
        NormalizeSpec given = normalize != null ? NormalizeSpec.parse(normalize) : null;
        java.util.List<String> notes = new java.util.ArrayList<>();  // printed once the evaluation is accepted
        Map<String, String> meta = WeightsFormat.detect(weights) == WeightsFormat.SAFETENSORS ? SafeTensors.readMetadata(weights) : Map.of();
        if (dataset == null) dataset = meta.getOrDefault(Checkpoint.RUN_PREFIX + "dataset", "fashion-mnist");
        Dataset test = Datasets.open(dataset, dataDir, false, skipBad);
        if (test instanceof io.densenet4j.data.ImageFolderDataset f) f.skipped().forEach(m -> notes.add("note: skipped " + m));
        if (test instanceof io.densenet4j.data.TensorFileDataset t && !t.inputDtype().equals("F32")) {
            notes.add("note: " + dataset + " stores 'input' as " + t.inputDtype() + "; converted to float32");
        }
        if (dataset.startsWith("folder:") || dataset.startsWith("tensors:")) {
            notes.add("note: " + dataset + " has no separate test split; evaluating on all its " + test.size() + " images");
        }
        Normalization norm;
        DenseNetConfig cfg = arch.resolve();
        StateDict sd;
        if (Checkpoint.isCheckpoint(meta)) {
            Checkpoint ck = Checkpoint.read(weights);
            sd = ck.model();
            if (cfg == null) cfg = ck.config();
            norm = given != null ? null : ck.normalization();
            if (given != null) notes.add("note: --normalize " + given.text() + " replaces the checkpoint's normalisation (" + NormalizeSpec.describe(ck.normalization()) + ")");
        } else {
            sd = StateDicts.load(weights);
            if (cfg == null) cfg = ArchitectureInference.infer(sd);
            // plain weights from `quantize` store the normalisation their ranges were calibrated with
            norm = given == null && meta.containsKey("quantization") ? Checkpoint.normalization(meta) : null;
            if (norm != null) notes.add("note: using the normalisation quantize stored in " + weights + " (" + NormalizeSpec.describe(norm) + ")");
        }
        if (norm == null) {
            NormalizeSpec spec = given != null ? given : dataset.startsWith("tensors:") ? NormalizeSpec.NONE : NormalizeSpec.COMPUTED;
            String ds = dataset;
            norm = spec.resolve(test.channels(), () -> Datasets.open(ds, dataDir, true));
            if (given == null && spec.computed()) {
                notes.add("weights carry no normalisation; using the training split's: mean " + java.util.Arrays.toString(norm.mean())
                        + ", std " + java.util.Arrays.toString(norm.std()));
            } else if (given == null) {
                notes.add("note: " + dataset + " is used as it is (--normalize none, the default for tensors: datasets)");
            }
        }
        if (cfg.inChannels() != test.channels()) {
            throw new IllegalArgumentException("the network takes " + cfg.inChannels() + " input channels, " + dataset + " has " + test.channels());
        }
        if (cfg.numClasses() != test.numClasses()) {
            throw new IllegalArgumentException("the model has " + cfg.numClasses() + " classes, " + dataset + " has " + test.numClasses());
        }
        new io.densenet4j.DenseNet(cfg).checkInputSize(test.height(), test.width());
        try (Predictor p = Predictor.create(cfg, sd, options)) {
            int h = test.height(), w = test.width();
            notes.forEach(System.err::println);
            Evaluation e = Evaluation.run((x, n) -> p.forward(x, n, h, w), test, norm, batch);
            System.out.print(e.report());
        }
    }
}
