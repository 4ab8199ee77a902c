package io.densenet4j.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Internal: builds a dense row-major {@link Tensor} from a strided view of a storage
 * (PyTorch's storage offset, size and stride, all in elements). Contiguous views are
 * decoded in chunks; others read the spanned bytes once and gather.
 */
final class TensorDecoder {
    private static final int CHUNK = 1 << 22;   // bytes per read for contiguous tensors
    private static final long MAX_ELEMENTS = Integer.MAX_VALUE - 16;

    private TensorDecoder() {}

    /**
     * @param storageNumel elements the storage holds (for the bounds check)
     * @param offset       storage offset of element [0,...,0]
     */
    static Tensor decode(ElementType type, ByteOrder order, StorageReader src, long storageNumel,
                         long offset, long[] size, long[] stride) throws IOException {
        if (size.length != stride.length) {
            throw new FormatError("tensor size " + Arrays.toString(size) + " and stride " + Arrays.toString(stride)
                    + " have different ranks");
        }
        long numel;
        try {
            numel = Tensor.numel(size);
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw new FormatError("invalid tensor size " + Arrays.toString(size));
        }
        if (numel > MAX_ELEMENTS) {
            throw new FormatError("tensor of size " + Arrays.toString(size) + " has more elements than a Java array can hold");
        }
        if (numel == 0) return make(type, size, 0);
        if (offset < 0) throw new FormatError("negative storage offset " + offset);
        long last = offset;
        boolean contiguous = true;
        long expect = 1;
        for (int i = size.length - 1; i >= 0; i--) {
            if (stride[i] < 0) throw new FormatError("negative stride in " + Arrays.toString(stride));
            try {
                last = Math.addExact(last, Math.multiplyExact(size[i] - 1, stride[i]));
            } catch (ArithmeticException e) {
                throw new FormatError("stride " + Arrays.toString(stride) + " overflows");
            }
            if (size[i] != 1 && stride[i] != expect) contiguous = false;
            expect *= size[i];
        }
        if (last >= storageNumel) {
            throw new FormatError("tensor of size " + Arrays.toString(size) + ", stride " + Arrays.toString(stride)
                    + " and offset " + offset + " reaches element " + last + " of a storage of " + storageNumel + " elements");
        }
        int n = (int) numel;
        Tensor t = make(type, size, n);
        if (contiguous) {
            decodeContiguous(type, order, src, offset * type.size, n, t);
        } else {
            long spanBytes = (last - offset + 1) * type.size;
            if (spanBytes > Integer.MAX_VALUE - 16) {
                throw new FormatError("strided tensor of size " + Arrays.toString(size) + " spans more than 2 GiB of its storage");
            }
            ByteBuffer buf = ByteBuffer.allocate((int) spanBytes).order(order);
            src.read(offset * type.size, buf);
            gather(type, buf, size, stride, t);
        }
        return t;
    }

    private static Tensor make(ElementType type, long[] size, int n) {
        return type.floating ? Tensor.ofFloats(size, new float[n]) : Tensor.ofLongs(size, new long[n]);
    }

    private static void decodeContiguous(ElementType type, ByteOrder order, StorageReader src, long byteOffset,
                                         int n, Tensor t) throws IOException {
        int perChunk = CHUNK / type.size;
        // direct: FileChannel reads into it without an extra copy, and bulk gets from it are fast
        ByteBuffer buf = ByteBuffer.allocateDirect(Math.min(n, perChunk) * type.size).order(order);
        for (int done = 0; done < n; ) {
            int count = Math.min(n - done, perChunk);
            buf.clear().limit(count * type.size);
            src.read(byteOffset + (long) done * type.size, buf);
            buf.flip();
            if (type == ElementType.F32) {
                buf.asFloatBuffer().get(t.floats(), done, count);
            } else if (type == ElementType.I64) {
                buf.asLongBuffer().get(t.longs(), done, count);
            } else if (type.floating) {
                float[] dst = t.floats();
                for (int i = 0; i < count; i++) dst[done + i] = type.floatAt(buf, i * type.size);
            } else {
                long[] dst = t.longs();
                for (int i = 0; i < count; i++) dst[done + i] = type.longAt(buf, i * type.size);
            }
            done += count;
        }
    }

    private static void gather(ElementType type, ByteBuffer buf, long[] size, long[] stride, Tensor t) {
        int rank = size.length;
        long[] idx = new long[rank];
        long src = 0;                       // element index relative to the storage offset
        int n = (int) t.numel();
        float[] f = type.floating ? t.floats() : null;
        long[] l = type.floating ? null : t.longs();
        for (int i = 0; i < n; i++) {
            int byteIndex = (int) (src * type.size);
            if (f != null) f[i] = type.floatAt(buf, byteIndex);
            else l[i] = type.longAt(buf, byteIndex);
            for (int d = rank - 1; d >= 0; d--) {
                if (++idx[d] < size[d]) {
                    src += stride[d];
                    break;
                }
                src -= (size[d] - 1) * stride[d];
                idx[d] = 0;
            }
        }
    }
}
