package io.densenet4j.cli;

import io.densenet4j.Predictor;
import io.densenet4j.io.SafeTensors;
import io.densenet4j.io.StateDict;
import io.densenet4j.io.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Map;

/** {@code forward}: logits for a tensor file. */
@Command(name = "forward", mixinStandardHelpOptions = true, description = "Read tensor 'input' (N,C,H,W float32, NCHW) from a safetensors file; write 'logits' (N,classes).")
final class ForwardCommand implements Runnable {
    @Mixin ArchOptions arch;
    @Mixin RunOptions run;

    @Option(names = "--weights", required = true, description = "weights (.pth or .safetensors)")
    Path weights;

    @Option(names = "--input", required = true, description = "safetensors file with tensor 'input'")
    Path input;

    @Option(names = "--output", required = true, description = "safetensors file to write tensor 'logits' to")
    Path output;

    @Override
    public void run() {
        refuseOverwrite(output, "--input", input);
        refuseOverwrite(output, "--weights", weights);
        StateDict in = SafeTensors.read(input).tensors();
        Tensor x = in.get("input");
        if (x == null) throw new IllegalArgumentException(input + " has no tensor named 'input'");
        if (x.kind() != Tensor.Kind.FLOAT32) throw new IllegalArgumentException(input + ": tensor 'input' must be floating point");
        try (Predictor p = Predictor.load(weights, arch.resolve(), run.options())) {
            Tensor logits = p.forward(x);
            StateDict out = new StateDict();
            out.put("logits", logits);
            SafeTensors.write(output, out, Map.of());
            System.out.println("wrote logits " + logits + " to " + output);
        }
    }

    /** Throws IllegalArgumentException when {@code out} names the same file as {@code other}: it would be overwritten. */
    static void refuseOverwrite(Path out, String option, Path other) { refuseOverwrite("--output", out, option, other); }

    /** The same for an output option named {@code outOption}. */
    static void refuseOverwrite(String outOption, Path out, String option, Path other) {
        Path a = out.toAbsolutePath().normalize(), b = other.toAbsolutePath().normalize();
        boolean same = a.equals(b);
        try {
            same = same || (java.nio.file.Files.exists(a) && java.nio.file.Files.exists(b) && java.nio.file.Files.isSameFile(a, b));
        } catch (java.io.IOException e) {
            // unreadable: the read or the write fails with its own message
        }
        if (same) throw new IllegalArgumentException(outOption + " " + out + " is the same file as " + option + "; it would be overwritten");
    }
}
