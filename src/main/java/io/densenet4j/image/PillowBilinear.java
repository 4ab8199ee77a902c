package io.densenet4j.image;

import java.util.Objects;

/**
 * Antialiased bilinear resize exactly as Pillow (>= 7) does {@code Image.resize(size, BILINEAR)}
 * (libImaging/Resample.c), on planar (C, H, W) float images with values 0..255.
 *
 * <p>Separable, two passes: horizontal first, then vertical; a pass whose size does not change is
 * skipped. Per output pixel {@code i} of a pass with {@code scale = in / out}:
 * {@code filterscale = max(scale, 1)}, {@code support = 1 * filterscale},
 * {@code center = (i + 0.5) * scale}, taps {@code x} in
 * {@code [(int)(center - support + 0.5), (int)(center + support + 0.5))} clipped to the image,
 * weight {@code triangle((x - center + 0.5) / filterscale)} with {@code triangle(t) = max(0, 1 - |t|)},
 * normalised to sum 1 per output pixel. So downscaling averages over the whole footprint
 * (antialiasing); upscaling is plain bilinear interpolation with edge clamping.
 *
 * <p>See {@link ResamplePrecision} for the 8-bit fixed-point versus float paths.
 */
public final class PillowBilinear {
    /** Pillow's {@code PRECISION_BITS} for 8-bit resampling: 32 - 8 - 2. */
    private static final int PRECISION_BITS = 32 - 8 - 2;

    private PillowBilinear() {
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
        return resizeWindow(src, width, height, 0, 0, height, width, precision);
    }

    /**
     * The window {@code [top, top + cropH) x [left, left + cropW)} of {@code resize(src, width, height,
     * precision)}, computing only the output pixels inside it (each output pixel depends only on its
     * own taps, so the values are exactly those of the full resize). This is Resize followed by a
     * CenterCrop that fits inside the resized image.
     *
     * @return a new image (C, cropH, cropW)
     * @throws IllegalArgumentException if a size is not positive or the window is not inside the resized image
     */
    static Image resizeWindow(Image src, int width, int height, int top, int left, int cropH, int cropW, ResamplePrecision precision) {
        Objects.requireNonNull(src, "src");
        Objects.requireNonNull(precision, "precision");
        if (width < 1 || height < 1) {
            throw new IllegalArgumentException("resize target must be positive, got " + width + "x" + height);
        }
        if (cropH < 1 || cropW < 1 || top < 0 || left < 0 || top + cropH > height || left + cropW > width) {
            throw new IllegalArgumentException("window " + cropW + "x" + cropH + " at (" + left + ", " + top + ") is not inside " + width + "x" + height);
        }
        int c = src.channels();
        int inH = src.height();
        int inW = src.width();
        int plane = inH * inW;
        float[] in = src.data();
        // 8-bit samples as ints; AUTO takes the 8-bit path when every sample is an integer in 0..255
        int[] px = null;
        boolean uint8 = false;
        if (precision != ResamplePrecision.FLOAT) {
            px = new int[in.length];
            boolean exact = true;
            for (int i = 0; i < in.length; i++) {
                float v = in[i];
                int q = (int) v;
                px[i] = q;
                exact &= q == v & q >= 0 & q <= 255;
            }
            if (!exact && precision == ResamplePrecision.UINT8) {
                for (int i = 0; i < in.length; i++) {
                    px[i] = toUint8(in[i]);
                }
            }
            uint8 = exact || precision == ResamplePrecision.UINT8;
        }
        Coeffs horiz = Coeffs.of(inW, width);
        Coeffs vert = Coeffs.of(inH, height);
        boolean needH = width != inW;
        boolean needV = height != inH;
        // the input rows the window's output rows read
        int rowLo = top;
        int rowHi = top + cropH;
        if (needV) {
            rowLo = vert.bounds[2 * top];
            rowHi = 0;
            for (int o = top; o < top + cropH; o++) {
                rowHi = Math.max(rowHi, vert.bounds[2 * o] + vert.bounds[2 * o + 1]);
            }
            rowHi = Math.max(rowHi, rowLo + 1);
        }
        int rows = rowHi - rowLo;
        int outPlane = cropH * cropW;
        float[] out = new float[c * outPlane];
        if (uint8) {
            // integers all the way (the sums are Pillow's exactly, whatever the loop order); the
            // vertical pass runs along rows, so it reads and writes memory in order
            int[] fixedH = needH ? horiz.fixedPoint() : null;
            int[] fixedV = needV ? vert.fixedPoint() : null;
            for (int ch = 0; ch < c; ch++) {
                int[] cur = needH ? horizontalInt(px, ch * plane + rowLo * inW, rows, inW, horiz, fixedH, left, cropW)
                        : window(px, ch * plane + rowLo * inW, rows, inW, left, cropW);
                if (needV) {
                    cur = verticalInt(cur, rowLo, cropW, vert, fixedV, top, cropH);
                }
                int base = ch * outPlane;
                for (int i = 0; i < outPlane; i++) {
                    out[base + i] = cur[i];
                }
            }
        } else {
            for (int ch = 0; ch < c; ch++) {
                float[] cur = needH ? horizontalFloat(in, ch * plane + rowLo * inW, rows, inW, horiz, left, cropW)
                        : window(in, ch * plane + rowLo * inW, rows, inW, left, cropW);
                if (needV) {
                    cur = verticalFloat(cur, rowLo, cropW, vert, top, cropH);
                }
                System.arraycopy(cur, 0, out, ch * outPlane, outPlane);
            }
        }
        return new Image(c, cropH, cropW, out);
    }

    /** A sample rounded and clamped to 0..255 (the identity on 8-bit samples). */
    private static int toUint8(float v) {
        int i = (int) v;
        if (i == v && i >= 0 && i <= 255) {
            return i;
        }
        return (int) Math.min(255.0, Math.max(0.0, Math.rint(v)));
    }

    private static int clampShift(int ss) {
        int v = ss >> PRECISION_BITS;
        return v < 0 ? 0 : Math.min(v, 255);
    }

    /** Columns {@code [left, left + n)} of {@code rows} rows of width {@code w} starting at {@code from}. */
    private static int[] window(int[] in, int from, int rows, int w, int left, int n) {
        int[] out = new int[rows * n];
        for (int y = 0; y < rows; y++) {
            System.arraycopy(in, from + y * w + left, out, y * n, n);
        }
        return out;
    }

    private static float[] window(float[] in, int from, int rows, int w, int left, int n) {
        float[] out = new float[rows * n];
        for (int y = 0; y < rows; y++) {
            System.arraycopy(in, from + y * w + left, out, y * n, n);
        }
        return out;
    }

    /**
     * Pillow's 8-bit horizontal pass ({@code ImagingResampleHorizontal_8bpc}) over {@code rows} rows of
     * width {@code w} starting at {@code from}, output columns {@code [o0, o0 + n)}.
     */
    private static int[] horizontalInt(int[] in, int from, int rows, int w, Coeffs k, int[] fixed, int o0, int n) {
        int[] out = new int[rows * n];
        if (k.ksize == 3 && w >= 3) {
            // upscaling (every output has at most 3 taps): 3 taps each, padded with zero weights,
            // which add nothing to the integer sums
            int[] start = new int[n];
            int[] c3 = new int[3 * n];
            for (int j = 0; j < n; j++) {
                int o = o0 + j;
                int min = k.bounds[2 * o];
                int cnt = k.bounds[2 * o + 1];
                int st = Math.min(min, w - 3);
                start[j] = st;
                for (int t = 0; t < cnt; t++) {
                    c3[3 * j + min - st + t] = fixed[o * k.ksize + t];
                }
            }
            for (int y = 0; y < rows; y++) {
                int row = from + y * w;
                int orow = y * n;
                for (int j = 0; j < n; j++) {
                    int i = row + start[j];
                    int ss = (1 << (PRECISION_BITS - 1)) + in[i] * c3[3 * j] + in[i + 1] * c3[3 * j + 1] + in[i + 2] * c3[3 * j + 2];
                    out[orow + j] = clampShift(ss);
                }
            }
            return out;
        }
        for (int y = 0; y < rows; y++) {
            int row = from + y * w;
            for (int j = 0; j < n; j++) {
                int o = o0 + j;
                int first = row + k.bounds[2 * o];
                int cnt = k.bounds[2 * o + 1];
                int off = o * k.ksize;
                int ss = 1 << (PRECISION_BITS - 1);
                for (int t = 0; t < cnt; t++) {
                    ss += in[first + t] * fixed[off + t];
                }
                out[y * n + j] = clampShift(ss);
            }
        }
        return out;
    }

    /**
     * Pillow's 8-bit vertical pass ({@code ImagingResampleVertical_8bpc}), a row at a time: {@code in}
     * holds input rows from {@code rowLo} on, of width {@code w}; output rows {@code [o0, o0 + n)}.
     */
    private static int[] verticalInt(int[] in, int rowLo, int w, Coeffs k, int[] fixed, int o0, int n) {
        int[] out = new int[n * w];
        int[] acc = new int[w];
        for (int j = 0; j < n; j++) {
            int o = o0 + j;
            int min = k.bounds[2 * o];
            int cnt = k.bounds[2 * o + 1];
            int off = o * k.ksize;
            java.util.Arrays.fill(acc, 1 << (PRECISION_BITS - 1));
            for (int t = 0; t < cnt; t++) {
                int f = fixed[off + t];
                int row = (min + t - rowLo) * w;
                for (int x = 0; x < w; x++) {
                    acc[x] += in[row + x] * f;
                }
            }
            int base = j * w;
            for (int x = 0; x < w; x++) {
                out[base + x] = clampShift(acc[x]);
            }
        }
        return out;
    }

    /** Pillow's float ("F" mode) horizontal pass: double sums over the taps in order, float storage. */
    private static float[] horizontalFloat(float[] in, int from, int rows, int w, Coeffs k, int o0, int n) {
        float[] out = new float[rows * n];
        for (int y = 0; y < rows; y++) {
            int row = from + y * w;
            for (int j = 0; j < n; j++) {
                int o = o0 + j;
                int first = row + k.bounds[2 * o];
                int cnt = k.bounds[2 * o + 1];
                int off = o * k.ksize;
                double ss = 0.0;
                for (int t = 0; t < cnt; t++) {
                    ss += in[first + t] * k.kk[off + t];
                }
                out[y * n + j] = (float) ss;
            }
        }
        return out;
    }

    /** Pillow's float vertical pass, a row at a time; each output's taps are still summed in order. */
    private static float[] verticalFloat(float[] in, int rowLo, int w, Coeffs k, int o0, int n) {
        float[] out = new float[n * w];
        double[] acc = new double[w];
        for (int j = 0; j < n; j++) {
            int o = o0 + j;
            int min = k.bounds[2 * o];
            int cnt = k.bounds[2 * o + 1];
            int off = o * k.ksize;
            java.util.Arrays.fill(acc, 0.0);
            for (int t = 0; t < cnt; t++) {
                double f = k.kk[off + t];
                int row = (min + t - rowLo) * w;
                for (int x = 0; x < w; x++) {
                    acc[x] += in[row + x] * f;
                }
            }
            int base = j * w;
            for (int x = 0; x < w; x++) {
                out[base + x] = (float) acc[x];
            }
        }
        return out;
    }

    /**
     * Pillow's {@code precompute_coeffs} for the bilinear filter over the full input box (also used
     * by the tests' plain transcription of the resampling loops).
     */
    static final class Coeffs {
        final int outSize;
        final int ksize;
        final int[] bounds;
        final double[] kk;

        private Coeffs(int outSize, int ksize, int[] bounds, double[] kk) {
            this.outSize = outSize;
            this.ksize = ksize;
            this.bounds = bounds;
            this.kk = kk;
        }

        static Coeffs of(int inSize, int outSize) {
            double scale = (double) inSize / outSize;
            double filterscale = Math.max(scale, 1.0);
            double support = 1.0 * filterscale;
            int ksize = (int) Math.ceil(support) * 2 + 1;
            int[] bounds = new int[2 * outSize];
            double[] kk = new double[outSize * ksize];
            double ss = 1.0 / filterscale;
            for (int xx = 0; xx < outSize; xx++) {
                double center = (xx + 0.5) * scale;
                int xmin = (int) (center - support + 0.5);
                if (xmin < 0) {
                    xmin = 0;
                }
                int xmax = (int) (center + support + 0.5);
                if (xmax > inSize) {
                    xmax = inSize;
                }
                xmax -= xmin;
                double ww = 0.0;
                int off = xx * ksize;
                for (int x = 0; x < xmax; x++) {
                    double w = triangle((x + xmin - center + 0.5) * ss);
                    kk[off + x] = w;
                    ww += w;
                }
                if (ww != 0.0) {
                    for (int x = 0; x < xmax; x++) {
                        kk[off + x] /= ww;
                    }
                }
                bounds[2 * xx] = xmin;
                bounds[2 * xx + 1] = xmax;
            }
            return new Coeffs(outSize, ksize, bounds, kk);
        }

        /** Pillow's {@code normalize_coeffs_8bpc}: round half away from zero to 22-bit fixed point. */
        int[] fixedPoint() {
            int[] r = new int[kk.length];
            for (int i = 0; i < kk.length; i++) {
                double v = kk[i] * (1 << PRECISION_BITS);
                r[i] = (int) (kk[i] < 0 ? -0.5 + v : 0.5 + v);
            }
            return r;
        }

        private static double triangle(double x) {
            x = Math.abs(x);
            return x < 1.0 ? 1.0 - x : 0.0;
        }
    }
}
