package io.densenet4j.io;

import java.util.Arrays;

/**
 * A dense, row-major (C-contiguous) host tensor as it appears in a state_dict or a
 * tensor file: float32 data, or int64 data (e.g. {@code num_batches_tracked}, labels).
 *
 * <p>Floating-point files (f16, bf16, f64) are widened or narrowed to float32 on read;
 * integer files (i8..i64, u8, bool) become int64. Shapes follow PyTorch: a 4-d
 * convolution weight is {@code (C_out, C_in, kH, kW)}, an input batch {@code (N, C, H, W)}.
 */
public final class Tensor {
    /** The element type held in memory. */
    public enum Kind { FLOAT32, INT64 }

    private final long[] shape;
    private final float[] floats;
    private final long[] longs;

    private Tensor(long[] shape, float[] floats, long[] longs) {
        this.shape = shape.clone();
        this.floats = floats;
        this.longs = longs;
        long n = numel(shape);
        long have = floats != null ? floats.length : longs.length;
        if (n != have) {
            throw new IllegalArgumentException("tensor of shape " + Arrays.toString(shape)
                    + " needs " + n + " elements, got " + have);
        }
    }

    /** A float32 tensor; {@code data} is taken, not copied. */
    public static Tensor ofFloats(long[] shape, float[] data) {
        return new Tensor(shape, data, null);
    }

    /** An int64 tensor; {@code data} is taken, not copied. */
    public static Tensor ofLongs(long[] shape, long[] data) {
        return new Tensor(shape, null, data);
    }

    /** Number of elements of a shape (1 for a scalar, shape {@code []}). */
    public static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public Kind kind() { return floats != null ? Kind.FLOAT32 : Kind.INT64; }
    public long[] shape() { return shape.clone(); }
    public int rank() { return shape.length; }
    public long dim(int i) { return shape[i]; }
    public long numel() { return numel(shape); }

    /** The float32 data, row-major; throws if this tensor holds int64. */
    public float[] floats() {
        if (floats == null) throw new IllegalStateException("tensor holds int64, not float32");
        return floats;
    }

    /** The int64 data, row-major; throws if this tensor holds float32. */
    public long[] longs() {
        if (longs == null) throw new IllegalStateException("tensor holds float32, not int64");
        return longs;
    }

    /** The data as float32 (int64 converted), a copy for int64 tensors. */
    public float[] toFloats() {
        if (floats != null) return floats;
        float[] f = new float[longs.length];
        for (int i = 0; i < f.length; i++) f[i] = longs[i];
        return f;
    }

    public boolean sameShape(long... other) { return Arrays.equals(shape, other); }

    @Override
    public String toString() {
        return (floats != null ? "float32" : "int64") + Arrays.toString(shape);
    }
}
