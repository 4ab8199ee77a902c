package io.densenet4j.io;

import java.math.BigInteger;
import java.util.Arrays;

/** Internal: what the restricted unpickler builds for storages and tensors (no data yet). */
final class PickledTensors {
    private PickledTensors() {}

    /**
     * A storage a tensor refers to: the file's storage {@code key} of {@code rootNumel} elements,
     * or a legacy view of it ({@code numel} elements from element {@code viewOffset}).
     */
    record StorageRef(String key, ElementType type, long rootNumel, long viewOffset, long numel) {}

    /** {@code torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, ...)}. */
    record TensorRef(StorageRef storage, long offset, long[] size, long[] stride) {
        @Override
        public String toString() {
            return "tensor" + Arrays.toString(size);
        }
    }

    /** A pickled integer as a long; {@link FormatError} if it is not an integer or too large. */
    static long toLong(Object o, String what) {
        if (o instanceof Integer || o instanceof Long || o instanceof Short || o instanceof Byte) {
            return ((Number) o).longValue();
        }
        if (o instanceof BigInteger b && b.bitLength() < 64) return b.longValue();
        throw new FormatError(what + " is " + describe(o) + ", not an integer");
    }

    /** A pickled tuple of integers as long[]. */
    static long[] toLongs(Object o, String what) {
        if (!(o instanceof Object[] a)) throw new FormatError(what + " is " + describe(o) + ", not a tuple");
        long[] out = new long[a.length];
        for (int i = 0; i < a.length; i++) out[i] = toLong(a[i], what + "[" + i + "]");
        return out;
    }

    /** A short description of an unpickled value for messages. */
    static String describe(Object o) {
        if (o == null) return "None";
        if (o instanceof Object[] a) return "a tuple of " + a.length;
        if (o instanceof String s) return "the string '" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "'";
        if (o instanceof java.util.Map<?, ?>) return "a dict";
        if (o instanceof java.util.List<?>) return "a list";
        if (o instanceof TensorRef) return "a tensor";
        if (o instanceof StorageRef) return "a storage";
        if (o instanceof Number n) return "the number " + n;
        if (o instanceof Boolean b) return b ? "True" : "False";
        if (o instanceof byte[] b) return "bytes of length " + b.length;
        if (o instanceof net.razorvine.pickle.IObjectConstructor) return "a class or function";
        if (o instanceof java.util.Set<?>) return "a set";
        return "an object of type " + o.getClass().getName();
    }
}
