package io.densenet4j.cli;

import io.densenet4j.DenseNet;
import io.densenet4j.DenseNetConfig;
import io.densenet4j.Initializers;
import io.densenet4j.io.SafeTensors;
import io.densenet4j.io.StateDict;
import io.densenet4j.io.StateDicts;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/** {@code plan}: write the native plan (and optionally its weights) for the JDK-less native test programs. */
@Command(name = "plan", mixinStandardHelpOptions = true, description = "Write the inference (or, with --train, training) plan for an input size, and optionally the weights as safetensors, for the native test programs (native/test).")
final class PlanCommand implements Runnable {
    @Mixin ArchOptions arch;

    @Option(names = "--weights", description = "weights (default: fresh torchvision-style init)")
    Path weights;

    @Option(names = "--height", required = true, description = "input height")
    int height;

    @Option(names = "--width", required = true, description = "input width")
    int width;

    @Option(names = "--out", required = true, description = "plan file to write")
    Path out;

    @Option(names = "--train", description = "write the training plan (module-level ops) instead of the inference plan")
    boolean train;

    @Option(names = "--weights-out", description = "also write the weights here (safetensors, float32)")
    Path weightsOut;

    @Override
    public void run() {
        TrainCommand.requireWritableParent(out, "--out");  // both targets checked before either is written
        if (weightsOut != null) TrainCommand.requireWritableParent(weightsOut, "--weights-out");
        DenseNetConfig cfg = arch.resolve();
        StateDict sd = weights != null ? StateDicts.load(weights) : null;
        if (cfg == null) {
            if (sd == null) throw new IllegalArgumentException("give --arch NAME, --config FILE or --weights FILE");
            cfg = io.densenet4j.ArchitectureInference.infer(sd);
        }
        DenseNet net = new DenseNet(cfg);
        try {
            Files.writeString(out, (train ? net.trainingPlan(height, width) : net.inferencePlan(height, width)).text());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out + " (" + e.getClass().getSimpleName() + ")", e);
        }
        if (weightsOut != null) {
            if (sd == null) sd = Initializers.torchvision(net, 1);
            net.checkWeights(sd);
            SafeTensors.write(weightsOut, sd, Map.of());
        }
        System.out.println("wrote " + out + (weightsOut != null ? " and " + weightsOut : ""));
    }
}
