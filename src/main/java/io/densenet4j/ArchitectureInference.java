package io.densenet4j;

import io.densenet4j.io.StateDict;
import io.densenet4j.io.Tensor;
import io.densenet4j.io.WeightsException;

import java.util.ArrayList;
import java.util.List;

/**
 * Infers a {@link DenseNetConfig} from a torchvision-named state_dict's tensor shapes: the stem
 * from {@code features.conv0.weight} (7x7: ImageNet, 3x3: CIFAR), k and bn_size from the first
 * dense layer, the block sizes from the layer keys, theta from the transitions (the simplest
 * value that reproduces every transition's {@code floor(theta * m)}), classes from the classifier.
 * Dropout is not visible in weights and is 0.
 */
public final class ArchitectureInference {
    private ArchitectureInference() {}

    /** @throws WeightsException if the tensors do not look like a DenseNet */
    public static DenseNetConfig infer(StateDict sd) {
        Tensor conv0 = need(sd, "features.conv0.weight", 4);
        int init = (int) conv0.dim(0), in = (int) conv0.dim(1), k0 = (int) conv0.dim(2);
        DenseNetConfig.Stem stem;
        if (k0 == 7) stem = DenseNetConfig.Stem.IMAGENET;
        else if (k0 == 3) stem = DenseNetConfig.Stem.CIFAR;
        else throw new WeightsException("cannot infer the architecture: features.conv0.weight is " + k0 + "x" + k0 + " (expected 7x7 or 3x3)");
        Tensor conv2 = need(sd, "features.denseblock1.denselayer1.conv2.weight", 4);
        Tensor conv1 = need(sd, "features.denseblock1.denselayer1.conv1.weight", 4);
        int k = (int) conv2.dim(0);
        int bottleneck = (int) conv1.dim(0);
        if (k <= 0 || bottleneck % k != 0) {
            throw new WeightsException("cannot infer the architecture: bottleneck width " + bottleneck + " is not a multiple of growth rate " + k);
        }
        List<Integer> blocks = new ArrayList<>();
        for (int b = 1; sd.contains("features.denseblock" + b + ".denselayer1.conv1.weight"); b++) {
            int n = 0;
            while (sd.contains("features.denseblock" + b + ".denselayer" + (n + 1) + ".conv1.weight")) n++;
            blocks.add(n);
        }
        List<int[]> transitions = new ArrayList<>();
        for (int t = 1; t < blocks.size(); t++) {
            Tensor w = need(sd, "features.transition" + t + ".conv.weight", 4);
            transitions.add(new int[] {(int) w.dim(1), (int) w.dim(0)});
        }
        Tensor fc = need(sd, "classifier.weight", 2);
        double theta = inferCompression(transitions);
        return new DenseNetConfig(k, blocks, init, bottleneck / k, theta, stem, in, (int) fc.dim(0), 0.0);
    }

    private static double inferCompression(List<int[]> transitions) {
        if (transitions.isEmpty()) return 0.5;
        if (reproduces(0.5, transitions)) return 0.5;
        for (int scale : new int[] {10, 100, 1000}) {
            for (int i = 1; i <= scale; i++) {
                double theta = (double) i / scale;
                if (reproduces(theta, transitions)) return theta;
            }
        }
        int[] t = transitions.get(0);
        return (double) t[1] / t[0];
    }

    private static boolean reproduces(double theta, List<int[]> transitions) {
        for (int[] t : transitions) if ((int) Math.floor(t[0] * theta) != t[1]) return false;
        return true;
    }

    private static Tensor need(StateDict sd, String key, int rank) {
        Tensor t = sd.get(key);
        if (t == null) throw new WeightsException("cannot infer the architecture: no tensor '" + key + "' (not a torchvision DenseNet state_dict?)");
        if (t.rank() != rank) throw new WeightsException("cannot infer the architecture: '" + key + "' has shape " + t + ", expected rank " + rank);
        return t;
    }
}
