package io.densenet4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class BatchLoaderTest {
    /** n samples of 1x1x2: pixel 0 = index, pixel 1 = index / 1000; label index % 7. */
    static ArrayDataset indexed(int n) {
        float[] px = new float[2 * n];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            px[2 * i] = i;
            px[2 * i + 1] = i / 1000f;
            labels[i] = i % 7;
        }
        return new ArrayDataset(px, labels, 1, 1, 2, 7);
    }

    /** n random 3x8x8 images in [0, 1). */
    static ArrayDataset random(int n, long seed) {
        Random r = new Random(seed);
        float[] px = new float[n * 3 * 64];
        for (int i = 0; i < px.length; i++) {
            px[i] = r.nextFloat();
        }
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = r.nextInt(10);
        }
        return new ArrayDataset(px, labels, 3, 8, 8, 10);
    }

    static List<Batch> all(BatchLoader loader) {
        List<Batch> out = new ArrayList<>();
        try (loader) {
            for (Batch b : loader) {
                out.add(b);
            }
        }
        return out;
    }

    @Test
    void testShuffleCoversEveryIndexOnceAndIsSeeded() {
        ArrayDataset d = indexed(103);
        BatchLoader loader = BatchLoader.builder(d, 10).seed(5).epoch(2).shuffle(true).build();
        assertEquals(11, loader.batchesPerEpoch());
        List<Batch> batches = all(loader);
        assertEquals(11, batches.size());
        int[] seen = new int[103];
        List<Integer> order = new ArrayList<>();
        for (int b = 0; b < batches.size(); b++) {
            Batch batch = batches.get(b);
            assertEquals(b, batch.index());
            assertEquals(b < 10 ? 10 : 3, batch.n());
            assertEquals(batch.n() * 2, batch.input().length);
            assertEquals(batch.n(), batch.labels().length);
            for (int i = 0; i < batch.n(); i++) {
                int idx = (int) batch.input()[2 * i]; // the image says which sample it is
                assertEquals(idx, batch.samples()[i]);
                assertEquals(idx % 7, batch.labels()[i]);
                assertEquals(idx / 1000f, batch.input()[2 * i + 1]);
                seen[idx]++;
                order.add(idx);
            }
        }
        for (int i = 0; i < 103; i++) {
            assertEquals(1, seen[i], "sample " + i);
        }
        int[] got = order.stream().mapToInt(Integer::intValue).toArray();
        assertArrayEquals(BatchLoader.order(103, true, 5, 2), got);
        assertFalse(Arrays.equals(IntStream.range(0, 103).toArray(), got), "shuffled");
        assertArrayEquals(got, BatchLoader.order(103, true, 5, 2), "same seed and epoch, same order");
        assertFalse(Arrays.equals(got, BatchLoader.order(103, true, 5, 3)), "another epoch, another order");
        assertFalse(Arrays.equals(got, BatchLoader.order(103, true, 6, 2)), "another seed, another order");
        assertArrayEquals(IntStream.range(0, 103).toArray(), BatchLoader.order(103, false, 5, 2));
        // pinned (independent Python transcription): the order never changes with the JDK
        assertArrayEquals(new int[] {8, 9, 5, 2, 4, 6, 0, 7, 1, 3}, BatchLoader.order(10, true, 5, 2));
    }

    @Test
    void testSequentialAndDropLast() {
        ArrayDataset d = indexed(25);
        List<Batch> batches = all(BatchLoader.builder(d, 10).dropLast(true).build());
        assertEquals(2, batches.size());
        assertArrayEquals(new int[] {10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, batches.get(1).samples());
        assertEquals(3, BatchLoader.batchesPerEpoch(25, 10, false));
        assertEquals(2, BatchLoader.batchesPerEpoch(25, 10, true));
        assertEquals(0, BatchLoader.batchesPerEpoch(5, 10, true));
        assertEquals(0, all(BatchLoader.builder(indexed(5), 10).dropLast(true).build()).size());
    }

    @Test
    void testResumeReproducesTheTailBitForBit() {
        ArrayDataset d = random(45, 9);
        Normalization norm = Normalization.compute(d);
        BatchLoader.Builder b = BatchLoader.builder(d, 8).seed(77).epoch(4).shuffle(true).augment(true)
                .normalization(norm);
        List<Batch> full = all(b.build());
        assertEquals(6, full.size());
        for (int k : new int[] {0, 3, 5, 6}) {
            List<Batch> tail = all(b.startBatch(k).build());
            assertEquals(6 - k, tail.size());
            for (int i = 0; i < tail.size(); i++) {
                Batch want = full.get(k + i);
                Batch got = tail.get(i);
                assertEquals(want.index(), got.index());
                assertArrayEquals(want.samples(), got.samples());
                assertArrayEquals(want.labels(), got.labels());
                assertArrayEquals(want.input(), got.input(), 0f); // exact
            }
        }
        // a fresh loader for the same epoch gives identical batches; another epoch differs
        List<Batch> again = all(b.startBatch(0).build());
        assertArrayEquals(full.get(2).input(), again.get(2).input(), 0f);
        List<Batch> next = all(b.epoch(5).build());
        assertFalse(Arrays.equals(full.get(2).input(), next.get(2).input()));
        assertThrows(IllegalArgumentException.class, () -> b.startBatch(7).build());
    }

    @Test
    void testAugmentThenNormalise() {
        // constant-1 images: after augmentation a pixel is 1 inside the image, 0 in the padding;
        // after normalisation (1 - m) / s and (0 - m) / s exactly
        int n = 20;
        float[] px = new float[n * 3 * 64];
        Arrays.fill(px, 1f);
        ArrayDataset d = new ArrayDataset(px, new int[n], 3, 8, 8, 1);
        Normalization norm = new Normalization(new float[] {0.4914f, 0.4822f, 0.4465f},
                new float[] {0.2470f, 0.2435f, 0.2616f});
        Augmentation aug = Augmentation.standard();
        List<Batch> batches = all(BatchLoader.builder(d, 6).seed(3).epoch(1).shuffle(true).augmentation(aug)
                .normalization(norm).build());
        int padded = 0;
        for (Batch b : batches) {
            for (int i = 0; i < b.n(); i++) {
                Augmentation.Params p = aug.params(3, 1, b.samples()[i]);
                for (int c = 0; c < 3; c++) {
                    float inside = (1f - norm.mean()[c]) / norm.std()[c];
                    float pad = (0f - norm.mean()[c]) / norm.std()[c];
                    for (int y = 0; y < 8; y++) {
                        for (int x = 0; x < 8; x++) {
                            int sy = y + p.dy() - 4;
                            int sx = (p.flip() ? 7 - x : x) + p.dx() - 4;
                            boolean in = sy >= 0 && sy < 8 && sx >= 0 && sx < 8;
                            padded += in ? 0 : 1;
                            assertEquals(in ? inside : pad, b.input()[i * 192 + (c * 8 + y) * 8 + x], 0f);
                        }
                    }
                }
            }
        }
        assertTrue(padded > 0);
    }

    /** Every call goes to {@code base}; tests override the one they break. */
    static class Forwarding implements Dataset {
        final Dataset base;

        Forwarding(Dataset base) {
            this.base = base;
        }

        public int size() {
            return base.size();
        }

        public int channels() {
            return base.channels();
        }

        public int height() {
            return base.height();
        }

        public int width() {
            return base.width();
        }

        public int numClasses() {
            return base.numClasses();
        }

        public List<String> classNames() {
            return base.classNames();
        }

        public void image(int index, float[] dst, int offset) {
            base.image(index, dst, offset);
        }

        public int label(int index) {
            return base.label(index);
        }
    }

    /** A dataset that fails on one sample. */
    static Dataset failing(int badIndex, RuntimeException error) {
        return new Forwarding(indexed(100)) {
            @Override
            public void image(int index, float[] dst, int offset) {
                if (index == badIndex) {
                    throw error;
                }
                base.image(index, dst, offset);
            }
        };
    }

    @Test
    void testLoaderExceptionsReachTheConsumer() {
        Dataset d = failing(57, new IllegalArgumentException("cats.png: corrupt image"));
        try (BatchLoader loader = BatchLoader.builder(d, 10).build()) {
            Iterator<Batch> it = loader.iterator();
            for (int b = 0; b < 5; b++) {
                assertEquals(b, it.next().index());
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, it::next);
            assertEquals("cats.png: corrupt image", e.getMessage());
            assertFalse(it.hasNext());
            assertThrows(IllegalStateException.class, loader::iterator);
        }
        Dataset d2 = failing(3, new UnsupportedOperationException("boom"));
        try (BatchLoader loader = BatchLoader.builder(d2, 10).build()) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> loader.iterator().next());
            assertTrue(e.getMessage().contains("boom"), e.getMessage());
            assertTrue(e.getCause() instanceof UnsupportedOperationException);
        }
        // a label out of range is caught too
        Dataset badLabel = new Forwarding(indexed(10)) {
            @Override
            public int label(int index) {
                return index == 4 ? 9 : 0;
            }
        };
        try (BatchLoader loader = BatchLoader.builder(badLabel, 4).build()) {
            Iterator<Batch> it = loader.iterator();
            it.next();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, it::next);
            assertEquals("sample 4 has label 9, out of range for 7 classes", e.getMessage());
        }
    }

    @Test
    void testCloseStopsTheThread() throws Exception {
        BatchLoader loader = BatchLoader.builder(indexed(1000), 1).build();
        Iterator<Batch> it = loader.iterator();
        assertEquals(0, it.next().index());
        Thread.sleep(50); // the worker is now blocked on the full queue
        assertTrue(loader.workerAlive());
        loader.close();
        assertFalse(loader.workerAlive());
        assertThrows(IllegalStateException.class, it::hasNext);
        loader.close(); // idempotent
    }

    @Test
    void testArgumentChecks() {
        assertThrows(IllegalArgumentException.class, () -> BatchLoader.builder(indexed(3), 0));
        assertThrows(IllegalArgumentException.class, () -> BatchLoader.builder(indexed(3), 1)
                .normalization(Normalization.identity(3)).build());
        assertThrows(IllegalArgumentException.class, () -> BatchLoader.builder(indexed(3), 1).epoch(-1));
    }
}
