package io.densenet4j.data;

/**
 * One mini-batch from a {@link BatchLoader}. The arrays are new for every batch and belong to
 * the receiver.
 *
 * @param input   images, (n, C, H, W) float32, length {@code n * C * H * W}, augmented (if asked)
 *                and normalised
 * @param labels  class labels, length {@code n}, each in {@code [0, numClasses)}
 * @param n       number of samples, {@code batchSize} except possibly for the last batch
 *                of an epoch (when it is not dropped)
 * @param index   position of this batch in the epoch, {@code 0 .. batchesPerEpoch-1}
 * @param samples dataset indices of the samples, length {@code n}
 */
public record Batch(float[] input, long[] labels, int n, int index, int[] samples) {
}
