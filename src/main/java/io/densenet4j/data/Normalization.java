package io.densenet4j.data;

import java.util.Arrays;
import java.util.Objects;

/**
 * Per-channel normalisation {@code x' = (x - mean[c]) / std[c]}, torchvision's
 * {@code Normalize(mean, std)}, computed in float32 as PyTorch does ({@code sub_} then
 * {@code div_}). Means and standard deviations are in the value scale of the dataset's images
 * ([0, 1] for 8-bit sources).
 *
 * <p>The arrays are copied on construction and on access; the record is immutable.
 *
 * @param mean per-channel means, length C (at least 1), finite
 * @param std  per-channel standard deviations, same length, finite and positive
 */
public record Normalization(float[] mean, float[] std) {
    /**
     * @param mean per-channel means, copied
     * @param std  per-channel standard deviations, copied
     * @throws IllegalArgumentException if the lengths differ or are 0, a mean is not finite, or
     *                                  a std is not finite and positive
     */
    public Normalization {
        Objects.requireNonNull(mean, "mean");
        Objects.requireNonNull(std, "std");
        if (mean.length == 0 || mean.length != std.length) {
            throw new IllegalArgumentException("mean and std must have the same non-zero length, got " + mean.length
                    + " and " + std.length);
        }
        for (int c = 0; c < mean.length; c++) {
            if (!Float.isFinite(mean[c]) || !Float.isFinite(std[c]) || !(std[c] > 0f)) {
                throw new IllegalArgumentException("normalisation of channel " + c + " needs a finite mean and a finite,"
                        + " positive std, got mean=" + mean[c] + " std=" + std[c]);
            }
        }
        mean = mean.clone();
        std = std.clone();
    }

    /**
     * @param channels C
     * @return mean 0, std 1 for every channel: {@link #apply} leaves values unchanged
     */
    public static Normalization identity(int channels) {
        float[] m = new float[channels];
        float[] s = new float[channels];
        Arrays.fill(s, 1f);
        return new Normalization(m, s);
    }

    /**
     * The exact per-channel mean and population standard deviation ({@code sqrt(E[(x - mean)^2])},
     * divisor N, not N-1) over every pixel of every image of {@code dataset}, computed in
     * double in two passes in index order (so the result is the same on every run) and rounded
     * to float at the end.
     *
     * @param dataset a dataset with at least one sample
     * @return the statistics
     * @throws IllegalArgumentException if the dataset is empty or a channel is constant
     *                                  (std 0, which cannot normalise)
     */
    public static Normalization compute(Dataset dataset) {
        Objects.requireNonNull(dataset, "dataset");
        int n = dataset.size();
        if (n == 0) {
            throw new IllegalArgumentException("cannot compute normalisation statistics of an empty dataset");
        }
        int ch = dataset.channels();
        int plane = dataset.height() * dataset.width();
        float[] buf = new float[ch * plane];
        double[] sum = new double[ch];
        for (int i = 0; i < n; i++) {
            dataset.image(i, buf, 0);
            for (int c = 0; c < ch; c++) {
                double s = 0;
                for (int p = c * plane, end = p + plane; p < end; p++) {
                    s += buf[p];
                }
                sum[c] += s;
            }
        }
        double count = (double) n * plane;
        double[] mu = new double[ch];
        for (int c = 0; c < ch; c++) {
            mu[c] = sum[c] / count;
        }
        double[] sq = new double[ch];
        for (int i = 0; i < n; i++) {
            dataset.image(i, buf, 0);
            for (int c = 0; c < ch; c++) {
                double s = 0;
                double m = mu[c];
                for (int p = c * plane, end = p + plane; p < end; p++) {
                    double d = buf[p] - m;
                    s += d * d;
                }
                sq[c] += s;
            }
        }
        float[] mean = new float[ch];
        float[] std = new float[ch];
        for (int c = 0; c < ch; c++) {
            mean[c] = (float) mu[c];
            std[c] = (float) Math.sqrt(sq[c] / count);
            if (!(std[c] > 0f)) {
                throw new IllegalArgumentException("channel " + c + " has the same value " + mean[c]
                        + " in every pixel (std 0); it cannot be normalised");
            }
        }
        return new Normalization(mean, std);
    }

    /** What {@link #parse} takes. */
    public static final String SYNTAX = "imagenet|none|MEAN,STD[;MEAN,STD...]";

    /**
     * A normalisation written as the CLI's {@code --normalize} takes it: {@code imagenet}
     * (torchvision's ImageNet mean/std, 3 channels only), {@code none} (mean 0, std 1), {@code MEAN,STD}
     * for every channel, or {@code MEAN,STD;MEAN,STD;...} one pair per channel.
     *
     * @param spec     the text
     * @param channels C, or -1 to check the syntax only (a pair list then gives as many channels as pairs)
     * @throws IllegalArgumentException one sentence naming the bad part
     */
    public static Normalization parse(String spec, int channels) {
        String t = spec.strip();
        switch (t.toLowerCase(java.util.Locale.ROOT)) {
            case "none": return identity(Math.max(1, channels));
            case "imagenet":
                if (channels != 3 && channels != -1) {
                    throw new IllegalArgumentException("--normalize imagenet is for 3-channel (RGB) input; this network takes " + channels
                            + " channel" + (channels == 1 ? "" : "s") + " (use computed, none or MEAN,STD)");
                }
                return new Normalization(io.densenet4j.image.ImageTransform.IMAGENET_MEAN, io.densenet4j.image.ImageTransform.IMAGENET_STD);
            default:
                break;
        }
        String[] parts = t.split(";", -1);
        if (channels > 0 && parts.length != 1 && parts.length != channels) {
            throw new IllegalArgumentException("--normalize gives " + parts.length + " MEAN,STD pairs; the network takes " + channels
                    + " channels (give one pair for all, or one per channel)");
        }
        int n = channels > 0 ? channels : parts.length;
        float[] mean = new float[n], std = new float[n];
        for (int i = 0; i < parts.length; i++) {
            String[] ms = parts[i].split(",", -1);
            if (ms.length != 2) throw new IllegalArgumentException("--normalize must be computed|" + SYNTAX + ", got '" + t + "'");
            float m, sd;
            try {
                m = Float.parseFloat(ms[0].strip());
                sd = Float.parseFloat(ms[1].strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--normalize must be computed|" + SYNTAX + " with decimal numbers, got '" + t + "'");
            }
            if (!Float.isFinite(m) || !Float.isFinite(sd) || !(sd > 0)) {
                throw new IllegalArgumentException("--normalize needs a finite MEAN and a finite, positive STD, got '" + parts[i].strip() + "'");
            }
            mean[i] = m;
            std[i] = sd;
        }
        if (parts.length == 1) {
            Arrays.fill(mean, mean[0]);
            Arrays.fill(std, std[0]);
        }
        return new Normalization(mean, std);
    }

    /** @return number of channels C */
    public int channels() {
        return mean.length;
    }

    /** @return per-channel means (a copy) */
    @Override
    public float[] mean() {
        return mean.clone();
    }

    /** @return per-channel standard deviations (a copy) */
    @Override
    public float[] std() {
        return std.clone();
    }

    /**
     * Normalises one (C, H, W) image in place: {@code x = (x - mean[c]) / std[c]} in float32.
     *
     * @param chw    the array holding the image
     * @param offset index of its first value
     * @param height H
     * @param width  W
     * @throws IndexOutOfBoundsException if {@code chw} is shorter than {@code offset + C*H*W}
     */
    public void apply(float[] chw, int offset, int height, int width) {
        int plane = height * width;
        Objects.checkFromIndexSize(offset, mean.length * plane, chw.length);
        for (int c = 0; c < mean.length; c++) {
            float m = mean[c];
            float s = std[c];
            for (int p = offset + c * plane, end = p + plane; p < end; p++) {
                chw[p] = (chw[p] - m) / s;
            }
        }
    }

    /**
     * @param c     channel
     * @param value a raw value of channel {@code c}
     * @return {@code (value - mean[c]) / std[c]} in float32, what {@link #apply} writes
     */
    public float normalize(int c, float value) {
        return (value - mean[c]) / std[c];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Normalization n && Arrays.equals(mean, n.mean) && Arrays.equals(std, n.std);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(mean) + Arrays.hashCode(std);
    }

    @Override
    public String toString() {
        return "Normalization[mean=" + Arrays.toString(mean) + ", std=" + Arrays.toString(std) + "]";
    }
}
