package io.densenet4j.cli;

import io.densenet4j.data.Dataset;
import io.densenet4j.data.Normalization;

import java.util.Locale;
import java.util.function.Supplier;

/**
 * The {@code --normalize} option of {@code train}, {@code evaluate} and {@code predict}: how
 * image values (in [0, 1] for 8-bit sources) are normalised, {@code (x - mean[c]) / std[c]} as
 * torchvision's {@code Normalize} does.
 * <ul>
 *   <li>{@code computed}: the exact per-channel mean and population std of the training split
 *       ({@link Normalization#compute});</li>
 *   <li>{@code imagenet}: torchvision's ImageNet mean/std (3 channels only);</li>
 *   <li>{@code none}: values are used as they are (mean 0, std 1);</li>
 *   <li>{@code MEAN,STD} for every channel, or {@code MEAN,STD;MEAN,STD;...} one pair per channel.</li>
 * </ul>
 *
 * @param text the option as given, trimmed and lower-cased for the keywords
 */
record NormalizeSpec(String text) {
    static final String SYNTAX = "computed|" + Normalization.SYNTAX;
    static final NormalizeSpec COMPUTED = new NormalizeSpec("computed");
    static final NormalizeSpec NONE = new NormalizeSpec("none");

    /**
     * @param s the option value
     * @return the checked spec
     * @throws IllegalArgumentException one sentence naming the bad part, if {@code s} is not of {@link #SYNTAX}
     */
    static NormalizeSpec parse(String s) {
        String t = s.strip();
        String lower = t.toLowerCase(Locale.ROOT);
        if (lower.equals("computed") || lower.equals("imagenet") || lower.equals("none")) return new NormalizeSpec(lower);
        Normalization.parse(t, -1);  // syntax and values checked now, the channel count when it is known
        return new NormalizeSpec(t.replace(" ", ""));
    }

    boolean computed() { return text.equals("computed"); }

    /**
     * @param channels   the network's input channels C
     * @param trainSplit the training split, opened only for {@code computed}
     * @return the normalisation, C channels
     * @throws IllegalArgumentException if the spec does not fit C channels (imagenet on other than
     *                                  3, a pair list of another length) or a computed channel is constant
     */
    Normalization resolve(int channels, Supplier<Dataset> trainSplit) {
        if (text.equals("computed")) return Normalization.compute(trainSplit.get());
        return Normalization.parse(text, channels);
    }

    /** What {@code predict} normalises photos with when nothing says otherwise: ImageNet's for RGB, 0.5, 0.5 for gray. */
    static Normalization photoDefault(int channels) {
        return channels == 3 ? new Normalization(io.densenet4j.image.ImageTransform.IMAGENET_MEAN, io.densenet4j.image.ImageTransform.IMAGENET_STD)
                : new Normalization(new float[] {0.5f}, new float[] {0.5f});
    }

    /** The normalisation written as {@code --normalize} takes it, one pair per channel. */
    static String describe(Normalization n) {
        float[] m = n.mean(), s = n.std();
        StringBuilder sb = new StringBuilder();
        for (int c = 0; c < m.length; c++) {
            if (c > 0) sb.append(';');
            sb.append(m[c]).append(',').append(s[c]);
        }
        return sb.toString();
    }
}
