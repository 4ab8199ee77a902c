package io.densenet4j.io;

import java.nio.ByteBuffer;

/**
 * Internal: an element type as stored in a file (safetensors dtype, PyTorch storage class),
 * its size in bytes, and how one element at a byte index of a buffer (whose byte order is
 * already set) becomes float32 or int64.
 */
enum ElementType {
    F32(4, true), F64(8, true), F16(2, true), BF16(2, true),
    I64(8, false), I32(4, false), I16(2, false), I8(1, false), U8(1, false), BOOL(1, false);

    final int size;
    final boolean floating;

    ElementType(int size, boolean floating) {
        this.size = size;
        this.floating = floating;
    }

    /** The type of a safetensors {@code dtype} string, or {@code null} if not supported. */
    static ElementType ofSafetensors(String dtype) {
        for (ElementType t : values()) if (t.name().equals(dtype)) return t;
        return null;
    }

    /** The element at {@code byteIndex} as float32 (floating types only). */
    float floatAt(ByteBuffer b, int byteIndex) {
        switch (this) {
            case F32: return b.getFloat(byteIndex);
            case F64: return (float) b.getDouble(byteIndex);
            case F16: return halfToFloat(b.getShort(byteIndex));
            case BF16: return Float.intBitsToFloat((b.getShort(byteIndex) & 0xffff) << 16);
            default: throw new IllegalStateException(this + " is not a floating type");
        }
    }

    /** The element at {@code byteIndex} as int64 (integer and bool types only). */
    long longAt(ByteBuffer b, int byteIndex) {
        switch (this) {
            case I64: return b.getLong(byteIndex);
            case I32: return b.getInt(byteIndex);
            case I16: return b.getShort(byteIndex);
            case I8: return b.get(byteIndex);
            case U8: return b.get(byteIndex) & 0xff;
            case BOOL: return b.get(byteIndex) != 0 ? 1 : 0;
            default: throw new IllegalStateException(this + " is not an integer type");
        }
    }

    /** IEEE 754 binary16 to float32, subnormals, infinities and NaN included. */
    static float halfToFloat(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0x1f) return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        if (exp == 0) {
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }
}
