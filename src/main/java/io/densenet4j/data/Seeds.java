package io.densenet4j.data;

/**
 * Internal: the package's pseudo-random numbers, defined here (SplitMix64) rather than taken
 * from {@code java.util}, so that the sequences are fixed forever, whatever the JDK.
 */
final class Seeds {
    static final long GOLDEN = 0x9E3779B97F4A7C15L;
    /** Stream tags, so that shuffling, augmentation and splitting never share numbers. */
    static final long SHUFFLE = 0x53485546464C4531L;
    static final long AUGMENT = 0x4155474D454E5431L;
    static final long SPLIT = 0x53504C4954303031L;

    private long state;

    Seeds(long seed) {
        this.state = seed;
    }

    /** SplitMix64's output function (Stafford's Mix13). */
    static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** A seed derived from a stream tag and any number of values, order-sensitive. */
    static long derive(long tag, long... values) {
        long h = mix64(tag);
        for (long v : values) {
            h = mix64(h + GOLDEN + v);
        }
        return h;
    }

    long nextLong() {
        state += GOLDEN;
        return mix64(state);
    }

    /** Uniform in {@code [0, bound)}, by rejection (no modulo bias). */
    int nextInt(int bound) {
        if (bound <= 0) {
            throw new IllegalArgumentException("bound must be positive");
        }
        long limit = (1L << 32) - ((1L << 32) % bound);
        while (true) {
            long r = nextLong() >>> 32;
            if (r < limit) {
                return (int) (r % bound);
            }
        }
    }

    /** @return uniform double in [0, 1) with 53 random bits */
    double nextDouble() {
        return (nextLong() >>> 11) * 0x1.0p-53;
    }

    /** A uniformly random permutation of {@code 0 .. n-1} (Fisher-Yates). */
    static int[] permutation(int n, long seed) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        Seeds r = new Seeds(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}
