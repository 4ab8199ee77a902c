package io.densenet4j.image;

import java.util.Objects;

/**
 * The straightforward transcription of Pillow's resampling loops that {@link PillowBilinear} replaced
 * (column-order vertical pass, float buffers), over the same coefficients: the fast code must give
 * exactly its output.
 */
final class PillowBilinearReference {
    /** Pillow's {@code PRECISION_BITS} for 8-bit resampling: 32 - 8 - 2. */
    private static final int PRECISION_BITS = 32 - 8 - 2;

    private PillowBilinearReference() {
    }

    /**
     * Resizes every channel of {@code src} to {@code width x height}.
     *
     * @param src       the image, (C, H, W) float32, values 0..255
     * @param width     output width, at least 1
     * @param height    output height, at least 1
     * @param precision which Pillow code path to follow
     * @return a new image (C, height, width); the input is not modified
     * @throws IllegalArgumentException if a size is not positive
     */
    public static Image resize(Image src, int width, int height, ResamplePrecision precision) {
        Objects.requireNonNull(src, "src");
        Objects.requireNonNull(precision, "precision");
        if (width < 1 || height < 1) {
            throw new IllegalArgumentException("resize target must be positive, got " + width + "x" + height);
        }
        boolean uint8 = switch (precision) {
            case UINT8 -> true;
            case FLOAT -> false;
            case AUTO -> src.isUint8();
        };
        int c = src.channels();
        int inH = src.height();
        int inW = src.width();
        PillowBilinear.Coeffs horiz = PillowBilinear.Coeffs.of(inW, width);
        PillowBilinear.Coeffs vert = PillowBilinear.Coeffs.of(inH, height);
        boolean needH = width != inW;
        boolean needV = height != inH;
        float[] in = src.data();
        if (uint8) {
            in = roundToUint8(in);
        }
        float[] out = new float[c * height * width];
        for (int ch = 0; ch < c; ch++) {
            float[] plane = new float[inH * inW];
            System.arraycopy(in, ch * inH * inW, plane, 0, plane.length);
            int curW = inW;
            if (needH) {
                plane = uint8 ? passInt(plane, inH, inW, horiz, true) : passFloat(plane, inH, inW, horiz, true);
                curW = width;
            }
            if (needV) {
                plane = uint8 ? passInt(plane, inH, curW, vert, false) : passFloat(plane, inH, curW, vert, false);
            }
            System.arraycopy(plane, 0, out, ch * height * width, height * width);
        }
        return new Image(c, height, width, out);
    }

    private static float[] roundToUint8(float[] v) {
        float[] r = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            r[i] = (float) Math.min(255.0, Math.max(0.0, Math.rint(v[i])));
        }
        return r;
    }

    /** One pass along rows (horizontal) or columns (vertical) with Pillow's 8-bit arithmetic. */
    private static float[] passInt(float[] in, int h, int w, PillowBilinear.Coeffs k, boolean horizontal) {
        int outLen = k.outSize;
        int[] fixed = k.fixedPoint();
        int lines = horizontal ? h : w;
        int outH = horizontal ? h : outLen;
        int outW = horizontal ? outLen : w;
        float[] out = new float[outH * outW];
        int stride = horizontal ? 1 : w;
        for (int line = 0; line < lines; line++) {
            int base = horizontal ? line * w : line;
            for (int o = 0; o < outLen; o++) {
                int min = k.bounds[2 * o];
                int cnt = k.bounds[2 * o + 1];
                int off = o * k.ksize;
                int ss = 1 << (PRECISION_BITS - 1);
                for (int t = 0; t < cnt; t++) {
                    ss += ((int) in[base + (min + t) * stride]) * fixed[off + t];
                }
                int v = ss >> PRECISION_BITS;
                out[horizontal ? line * outW + o : o * outW + line] = v < 0 ? 0 : Math.min(v, 255);
            }
        }
        return out;
    }

    /** One pass with Pillow's float ("F" mode) arithmetic: double sums, float storage. */
    private static float[] passFloat(float[] in, int h, int w, PillowBilinear.Coeffs k, boolean horizontal) {
        int outLen = k.outSize;
        int lines = horizontal ? h : w;
        int outH = horizontal ? h : outLen;
        int outW = horizontal ? outLen : w;
        float[] out = new float[outH * outW];
        int stride = horizontal ? 1 : w;
        for (int line = 0; line < lines; line++) {
            int base = horizontal ? line * w : line;
            for (int o = 0; o < outLen; o++) {
                int min = k.bounds[2 * o];
                int cnt = k.bounds[2 * o + 1];
                int off = o * k.ksize;
                double ss = 0.0;
                for (int t = 0; t < cnt; t++) {
                    ss += in[base + (min + t) * stride] * k.kk[off + t];
                }
                out[horizontal ? line * outW + o : o * outW + line] = (float) ss;
            }
        }
        return out;
    }
}
