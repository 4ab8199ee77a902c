package io.densenet4j.train;

/**
 * Learning-rate schedules, as a function of training progress p = (epoch + batch / batchesPerEpoch) / epochs.
 * {@code STEP}: the paper's (Huang et al. 2017, Sec. 4.2): the rate is divided by 10 at 50% and at 75%
 * of training; {@code COSINE}: lr * (1 + cos(pi p)) / 2 (Loshchilov and Hutter 2017, no restarts);
 * {@code CONSTANT}.
 */
public enum Schedule {
    STEP, COSINE, CONSTANT;

    public static Schedule parse(String s) {
        for (Schedule v : values()) if (v.name().equalsIgnoreCase(s)) return v;
        throw new IllegalArgumentException("--schedule must be step, cosine or constant, got '" + s + "'");
    }

    public String id() { return name().toLowerCase(); }

    /** The rate at progress {@code p} in [0, 1] for base rate {@code lr}. */
    public double rate(double lr, double p) {
        switch (this) {
            case STEP:
                return p >= 0.75 ? lr * 0.01 : p >= 0.5 ? lr * 0.1 : lr;
            case COSINE:
                return lr * 0.5 * (1 + Math.cos(Math.PI * Math.min(1.0, Math.max(0.0, p))));
            default:
                return lr;
        }
    }
}
