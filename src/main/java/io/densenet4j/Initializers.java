package io.densenet4j;

import io.densenet4j.io.StateDict;
import io.densenet4j.io.Tensor;

import java.util.Map;
import java.util.SplittableRandom;

/**
 * Fresh weights as torchvision's DenseNet initialises them: conv weights He-normal
 * ({@code kaiming_normal_}, fan_in, gain sqrt(2)), BatchNorm gamma 1, beta 0, running mean 0,
 * running var 1, the classifier's weight {@code U(-1/sqrt(fan_in), 1/sqrt(fan_in))} (nn.Linear's
 * default) and its bias 0. Seeded: the same seed gives the same weights.
 */
public final class Initializers {
    private Initializers() {}

    /**
     * @throws IllegalArgumentException if the parameters would not fit in this JVM's heap (one line with the size)
     */
    public static StateDict torchvision(DenseNet net, long seed) {
        long params = net.parameterCount();
        long need = params * 4 * 2;  // the weights, plus room for what is done with them
        if (params > Integer.MAX_VALUE / 2 || need > Runtime.getRuntime().maxMemory()) {
            throw new IllegalArgumentException(String.format(java.util.Locale.ROOT,
                    "this network has %,d parameters (%.1f GB as float32), too many for the %.1f GB Java heap (raise -Xmx)",
                    params, params * 4 / 1e9, Runtime.getRuntime().maxMemory() / 1e9));
        }
        SplittableRandom rng = new SplittableRandom(seed);
        StateDict sd = new StateDict();
        for (Map.Entry<String, long[]> e : net.stateDictShapes().all().entrySet()) {
            String k = e.getKey();
            long[] shape = e.getValue();
            if (k.endsWith("num_batches_tracked")) {
                sd.put(k, Tensor.ofLongs(shape, new long[] {0}));
                continue;
            }
            float[] v = new float[Math.toIntExact(Tensor.numel(shape))];
            if (shape.length == 4) {
                double std = Math.sqrt(2.0 / (shape[1] * shape[2] * shape[3]));
                for (int i = 0; i < v.length; i++) v[i] = (float) (gaussian(rng) * std);
            } else if (k.equals("classifier.weight")) {
                double bound = 1.0 / Math.sqrt(shape[1]);
                for (int i = 0; i < v.length; i++) v[i] = (float) ((2 * rng.nextDouble() - 1) * bound);
            } else if (k.endsWith(".weight") || k.endsWith(".running_var")) {
                java.util.Arrays.fill(v, 1f);
            }
            sd.put(k, Tensor.ofFloats(shape, v));
        }
        return sd;
    }

    /** A standard normal sample (Box-Muller). */
    static double gaussian(SplittableRandom rng) {
        double u1 = 1.0 - rng.nextDouble(), u2 = rng.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
}
