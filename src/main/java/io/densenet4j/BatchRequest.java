package io.densenet4j;

import java.util.Arrays;
import java.util.concurrent.CompletableFuture;

/** One queued image of a {@link BatchingPredictor}: its input, what it may be batched with, its future. */
final class BatchRequest {
    /** Requests batch together when their keys are equal: same input kind, size and normalisation. */
    record Key(boolean uint8, int height, int width, float[] mean, float[] std) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && k.uint8 == uint8 && k.height == height && k.width == width
                    && Arrays.equals(k.mean, mean) && Arrays.equals(k.std, std);
        }

        @Override
        public int hashCode() {
            return ((Boolean.hashCode(uint8) * 31 + height) * 31 + width) * 31 + Arrays.hashCode(mean) * 17 + Arrays.hashCode(std);
        }
    }

    final Key key;
    final float[] floats;  // (C, H, W), or null
    final byte[] bytes;    // (H, W, C) uint8, or null
    final long arrivalNanos;
    final CompletableFuture<float[]> future = new CompletableFuture<>();

    BatchRequest(Key key, float[] floats, byte[] bytes, long arrivalNanos) {
        this.key = key;
        this.floats = floats;
        this.bytes = bytes;
        this.arrivalNanos = arrivalNanos;
    }

    int length() { return floats != null ? floats.length : bytes.length; }

    void fail(Throwable t) { future.completeExceptionally(t); }
}
