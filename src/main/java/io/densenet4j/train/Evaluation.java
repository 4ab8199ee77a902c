package io.densenet4j.train;

import io.densenet4j.data.BatchLoader;
import io.densenet4j.data.Batch;
import io.densenet4j.data.Dataset;
import io.densenet4j.data.Normalization;

import java.util.List;
import java.util.Locale;

/**
 * Accuracy, mean cross-entropy, per-class accuracy and the confusion matrix of a classifier on a
 * dataset (eval mode, no augmentation, in dataset order).
 *
 * @param confusion {@code confusion[true][predicted]} counts
 */
public record Evaluation(int samples, int correct, double loss, long[][] confusion, List<String> classNames) {

    /** Eval-mode logits {@code (n, classes)} for a normalised batch {@code (n, C, H, W)}. */
    @FunctionalInterface
    public interface Model {
        float[] logits(float[] input, int n);
    }

    public double accuracy() { return samples == 0 ? 0 : (double) correct / samples; }

    /** Accuracy of class {@code c} (recall), NaN when the dataset has none of it. */
    public double classAccuracy(int c) {
        long total = 0;
        for (long v : confusion[c]) total += v;
        return total == 0 ? Double.NaN : (double) confusion[c][c] / total;
    }

    public static Evaluation run(Model model, Dataset data, Normalization norm, int batch) {
        int k = data.numClasses();
        long[][] confusion = new long[k][k];
        int correct = 0;
        double lossSum = 0;
        try (BatchLoader loader = BatchLoader.builder(data, batch).normalization(norm).build()) {
            for (Batch b : loader) {
                float[] logits = model.logits(b.input(), b.n());
                if (logits.length / b.n() != k) {
                    throw new IllegalArgumentException("the model has " + logits.length / b.n() + " classes, the dataset " + k);
                }
                for (int i = 0; i < b.n(); i++) {
                    int pred = argmax(logits, i * k, k);
                    int label = (int) b.labels()[i];
                    confusion[label][pred]++;
                    if (pred == label) correct++;
                    lossSum += crossEntropy(logits, i * k, k, label);
                }
            }
        }
        return new Evaluation(data.size(), correct, data.size() == 0 ? 0 : lossSum / data.size(), confusion, data.classNames());
    }

    static int argmax(float[] v, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (v[off + i] > v[off + best]) best = i;
        return best;
    }

    static double crossEntropy(float[] logits, int off, int k, int label) {
        double m = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < k; j++) m = Math.max(m, logits[off + j]);
        double s = 0;
        for (int j = 0; j < k; j++) s += Math.exp(logits[off + j] - m);
        return m + Math.log(s) - logits[off + label];
    }

    /** Accuracy, per-class accuracy and the confusion matrix as text. */
    public String report() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "accuracy: %.4f (%d/%d)  loss: %.4f%n", accuracy(), correct, samples, loss));
        sb.append("per-class accuracy:\n");
        for (int c = 0; c < confusion.length; c++) {
            sb.append(String.format(Locale.ROOT, "  %-20s %.4f%n", classNames.get(c), classAccuracy(c)));
        }
        sb.append("confusion matrix (rows: true class, columns: predicted):\n");
        for (long[] row : confusion) {
            sb.append(' ');
            for (long v : row) sb.append(String.format(Locale.ROOT, " %6d", v));
            sb.append('\n');
        }
        return sb.toString();
    }
}
