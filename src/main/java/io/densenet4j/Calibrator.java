package io.densenet4j;

import io.densenet4j.io.StateDict;
import io.densenet4j.io.StateDicts;
import io.densenet4j.io.Tensor;

import java.util.Map;
import java.util.TreeMap;

/**
 * Post-training static quantization for the CPU's {@code int8} inference: calibration.
 *
 * <p>Runs the network in fp32 on the CPU over calibration images and records the per-channel
 * maximum of the input of every convolution that int8 takes: each 1x1 convolution with a BN-ReLU
 * prologue (a dense layer's bottleneck conv1, a transition's conv), measured after BN-ReLU (in a
 * transition after the 2x2 average pool as well), and each dense layer's 3x3 conv2, whose input is
 * the BN-ReLU'd bottleneck. {@link #quantizedWeights()} returns the weights with these ranges added
 * as tensors {@code <conv>.input_max}, shape {@code (C_in)} float32 (e.g.
 * {@code features.denseblock1.denselayer1.conv1.input_max}); a {@link Predictor} with
 * {@code dtype int8} needs them.
 *
 * <p>How int8 then runs (native CPU backend): input channel c of a conv is quantized to uint8 with
 * its own step {@code max_c / 255} (levels 0..127, step {@code max_c / 127}, on CPUs without VNNI
 * dot products, whose int16 pair sums would overflow); the step is folded into the producer (the
 * BN-ReLU prologue, or the 1x1 conv's output scales for the 3x3) and into the consumer's weights,
 * which are then quantized symmetrically per output channel to int8; oneDNN's matmul or direct
 * convolution accumulates in int32, dequantized by the per-channel scales with the bias and ReLU
 * fused. Activations above the calibrated maximum are clipped, so calibrate on images like those
 * the model will see (a few hundred are enough for the maxima to settle; the training split, not
 * the test split). The stem convolution, pooling and classifier stay fp32, and so does a 3x3 conv
 * whose range the weights lack.
 *
 * <p>Not thread-safe; AutoCloseable (frees the native engine).
 */
public final class Calibrator implements AutoCloseable {
    /** Suffix of the range tensors: {@code <conv>.input_max}. */
    public static final String RANGE_SUFFIX = StateDicts.RANGE_SUFFIX;

    private final StateDict weights;
    private final Predictor predictor;
    private long images;
    private boolean closed;

    private Calibrator(DenseNetConfig config, StateDict weights, int threads) {
        this.weights = weights;
        this.predictor = Predictor.calibrating(config, weights, threads);
    }

    /**
     * A calibrator for {@code config} with fp32 {@code weights} (torchvision names; earlier ranges in
     * them are ignored and replaced).
     *
     * @param threads CPU threads, 0 for all cores
     * @throws io.densenet4j.io.WeightsMismatchException if the weights do not fit the network
     */
    public static Calibrator create(DenseNetConfig config, StateDict weights, int threads) {
        return new Calibrator(config, weights, threads);
    }

    /**
     * Runs one calibration batch (fp32 forward, recording the maxima).
     *
     * @param input {@code (n, C, height, width)} float32 NCHW, normalised as for inference
     * @return the batch's {@code (n, classes)} fp32 logits
     * @throws IllegalArgumentException as {@link Predictor#forward(float[], int, int, int)}
     */
    public float[] observe(float[] input, int n, int height, int width) {
        if (closed) throw new IllegalStateException("calibrator is closed");
        float[] logits = predictor.forward(input, n, height, width);
        for (float v : logits) {
            if (!Float.isFinite(v)) {
                throw new IllegalArgumentException("a calibration batch gave non-finite logits (" + v + "): its images hold NaN or Inf, or the weights do");
            }
        }
        images += n;
        return logits;
    }

    /** Images observed so far. */
    public long images() { return images; }

    /**
     * The ranges recorded so far: for each conv int8 takes (a dense layer's 1x1 and 3x3, a
     * transition's), {@code <conv>.input_max} to its C_in per-channel maxima (the largest over every
     * input size observed; finite and >= 0).
     *
     * @throws IllegalStateException before any {@link #observe}, or after {@link #close()}
     */
    public Map<String, float[]> ranges() {
        if (closed) throw new IllegalStateException("calibrator is closed; take its ranges before closing it");
        if (images == 0) throw new IllegalStateException("no calibration images observed yet");
        Map<String, float[]> out = new TreeMap<>();
        for (String text : predictor.calibration()) {
            for (String line : text.split("\n")) {
                if (line.isBlank()) continue;
                String[] w = line.trim().split(" ");
                float[] v = new float[w.length - 1];
                for (int i = 1; i < w.length; i++) v[i - 1] = Float.parseFloat(w[i]);
                float[] have = out.get(w[0]);
                if (have != null) for (int i = 0; i < v.length; i++) v[i] = Math.max(v[i], have[i]);
                out.put(w[0], v);
            }
        }
        return out;
    }

    /**
     * The weights with the ranges recorded so far added ({@code <conv>.input_max}, (C_in) float32):
     * what {@code dtype int8} needs. The fp32 tensors are the same objects as given.
     *
     * @throws IllegalStateException before any {@link #observe}, or after {@link #close()}
     */
    public StateDict quantizedWeights() {
        Map<String, float[]> r = ranges();
        StateDict out = new StateDict();
        for (Map.Entry<String, Tensor> e : weights.asMap().entrySet()) {
            if (!e.getKey().endsWith(RANGE_SUFFIX)) out.put(e.getKey(), e.getValue());
        }
        r.forEach((k, v) -> out.put(k, Tensor.ofFloats(new long[] {v.length}, v)));
        return out;
    }

    /**
     * Which of {@code net}'s int8 ranges {@code weights} hold: one line for {@code info}, e.g.
     * {@code "26 of 26 ranges (runs with --dtype int8 --device cpu)"}, or null when they hold none.
     * A dense layer's conv1 and a transition's conv need theirs; a 3x3 conv2 without one runs in fp32.
     */
    public static String summary(DenseNet net, StateDict weights) {
        java.util.Set<String> stray = new java.util.TreeSet<>();
        for (String k : weights.keys()) if (k.endsWith(RANGE_SUFFIX)) stray.add(k);
        if (stray.isEmpty()) return null;
        int want = 0, have = 0, requiredMissing = 0, damaged = 0;
        for (Map.Entry<String, long[]> e : net.stateDictShapes().all().entrySet()) {
            String k = e.getKey();
            boolean conv1 = k.endsWith(".conv1.weight") || k.matches(".*transition\\d+\\.conv\\.weight");
            if (!conv1 && !k.endsWith(".conv2.weight")) continue;
            want++;
            String r = k.substring(0, k.length() - ".weight".length()) + RANGE_SUFFIX;
            Tensor t = weights.get(r);
            stray.remove(r);
            boolean shaped = t != null && t.shape().length == 1 && t.shape()[0] == e.getValue()[1];
            if (shaped && valid(t)) have++;
            else if (t != null) damaged++;  // present but unusable: refused at load
            else if (conv1) requiredMissing++;
        }
        String state = have == want ? " (runs with --dtype int8 --device cpu)"
                : damaged + requiredMissing > 0 ? " (" + (damaged > 0 ? damaged + " damaged or mis-shaped" : "")
                        + (damaged > 0 && requiredMissing > 0 ? ", " : "") + (requiredMissing > 0 ? requiredMissing + " that a 1x1 conv needs missing" : "")
                        + ": --dtype int8 refuses these weights; run quantize again)"
                : " (the 3x3 convs without one run in fp32)";
        return have + " of " + want + " ranges" + state + (stray.isEmpty() ? "" : "; " + stray.size() + " other *" + RANGE_SUFFIX + " tensors ignored");
    }

    /** Whether every value of a range tensor is a finite maximum >= 0 (what the native side accepts). */
    private static boolean valid(Tensor t) {
        for (float v : t.toFloats()) if (!(Float.isFinite(v) && v >= 0f)) return false;
        return true;
    }

    @Override
    public void close() {
        closed = true;
        predictor.close();
    }
}
