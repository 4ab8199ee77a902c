package io.densenet4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdxDatasetTest {
    @TempDir
    Path tmp;

    /** 3 images of 2x3: image i pixel p = 10*i + p (and image 2 pixel 5 = 255). */
    private static byte[] pixels() {
        byte[] px = new byte[3 * 6];
        for (int i = 0; i < 3; i++) {
            for (int p = 0; p < 6; p++) {
                px[i * 6 + p] = (byte) (10 * i + p);
            }
        }
        px[2 * 6 + 5] = (byte) 255;
        return px;
    }

    private void check(IdxDataset d) {
        assertEquals(3, d.size());
        assertEquals(1, d.channels());
        assertEquals(2, d.height());
        assertEquals(3, d.width());
        assertEquals(10, d.numClasses());
        assertEquals(7, d.label(0));
        assertEquals(0, d.label(1));
        assertEquals(9, d.label(2));
        float[] dst = new float[2 + 6];
        Arrays.fill(dst, -1f);
        d.image(1, dst, 2);
        assertEquals(-1f, dst[0]);
        assertEquals(-1f, dst[1]);
        for (int p = 0; p < 6; p++) {
            assertEquals((10 + p) / 255f, dst[2 + p], 0f);
        }
        assertEquals(1f, d.image(2)[5], 0f);
        assertEquals(20 / 255f, d.image(2)[0], 0f);
        assertEquals(255, d.rawPixel(2, 5));
    }

    @Test
    void testPlain() {
        Path im = TestFiles.write(tmp.resolve("train-images-idx3-ubyte"), TestFiles.idxImages(3, 2, 3, pixels()));
        Path lb = TestFiles.write(tmp.resolve("train-labels-idx1-ubyte"), TestFiles.idxLabels(new byte[] {7, 0, 9}));
        check(new IdxDataset(im, lb, Datasets.MNIST_CLASSES));
    }

    @Test
    void testGzipDetectedByContentNotName() {
        // gzip data under a name without .gz, and plain data under a .gz name
        Path im = TestFiles.write(tmp.resolve("images"), TestFiles.gzip(TestFiles.idxImages(3, 2, 3, pixels())));
        Path lb = TestFiles.write(tmp.resolve("labels.gz"), TestFiles.idxLabels(new byte[] {7, 0, 9}));
        check(new IdxDataset(im, lb, Datasets.MNIST_CLASSES));
    }

    @Test
    void testMnistLookupInFolderPrefersGzAndFindsTestSplit() {
        TestFiles.write(tmp.resolve("t10k-images-idx3-ubyte.gz"), TestFiles.gzip(TestFiles.idxImages(3, 2, 3, pixels())));
        TestFiles.write(tmp.resolve("t10k-labels-idx1-ubyte"), TestFiles.idxLabels(new byte[] {7, 0, 9}));
        IdxDataset d = Datasets.mnist(tmp, false);
        check(d);
        assertEquals("9", d.classNames().get(9));
        Dataset viaSpec = Datasets.open("MNIST", tmp, false);
        assertEquals(3, viaSpec.size());
        // the train split is not there: the message says what and where
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Datasets.mnist(tmp, true));
        assertTrue(e.getMessage().contains("MNIST not found in " + tmp), e.getMessage());
        assertTrue(e.getMessage().contains("train-images-idx3-ubyte(.gz)"), e.getMessage());
    }

    @Test
    void testTorchvisionRawLayout() {
        Path raw = tmp.resolve("FashionMNIST/raw");
        TestFiles.write(raw.resolve("train-images-idx3-ubyte"), TestFiles.idxImages(3, 2, 3, pixels()));
        TestFiles.write(raw.resolve("train-labels-idx1-ubyte"), TestFiles.idxLabels(new byte[] {7, 0, 9}));
        IdxDataset d = Datasets.fashionMnist(tmp, true);
        assertEquals(3, d.size());
        assertEquals("Ankle boot", d.classNames().get(d.label(2)));
    }

    @Test
    void testNoClassNamesGivesMaxLabelPlusOne() {
        Path im = TestFiles.write(tmp.resolve("i"), TestFiles.idxImages(3, 2, 3, pixels()));
        Path lb = TestFiles.write(tmp.resolve("l"), TestFiles.idxLabels(new byte[] {3, 0, 1}));
        IdxDataset d = new IdxDataset(im, lb, null);
        assertEquals(4, d.numClasses());
        assertEquals("class 3", d.classNames().get(3));
    }

    private IllegalArgumentException bad(byte[] images, byte[] labels) {
        Path im = TestFiles.write(tmp.resolve("bad-images"), images);
        Path lb = TestFiles.write(tmp.resolve("bad-labels"), labels);
        return assertThrows(IllegalArgumentException.class, () -> new IdxDataset(im, lb, Datasets.MNIST_CLASSES));
    }

    private static void assertMessage(IllegalArgumentException e, String... parts) {
        String m = e.getMessage();
        for (String p : parts) {
            assertTrue(m.contains(p), "message '" + m + "' lacks '" + p + "'");
        }
        assertTrue(!m.contains("\n"), "one line: " + m);
    }

    @Test
    void testTruncatedImages() {
        byte[] full = TestFiles.idxImages(3, 2, 3, pixels());
        assertMessage(bad(Arrays.copyOf(full, full.length - 1), TestFiles.idxLabels(new byte[] {7, 0, 9})),
                "bad-images", "truncated", "18 bytes", "17 data bytes");
        assertMessage(bad(Arrays.copyOf(full, 10), TestFiles.idxLabels(new byte[] {7, 0, 9})),
                "bad-images", "truncated", "16-byte IDX header");
    }

    @Test
    void testTruncatedGzip() {
        byte[] gz = TestFiles.gzip(TestFiles.idxImages(3, 2, 3, pixels()));
        assertMessage(bad(Arrays.copyOf(gz, gz.length - 12), TestFiles.idxLabels(new byte[] {7, 0, 9})),
                "bad-images", "truncated gzip");
    }

    @Test
    void testWrongMagic() {
        byte[] img = TestFiles.idxImages(3, 2, 3, pixels());
        img[3] = 0x01;
        assertMessage(bad(img, TestFiles.idxLabels(new byte[] {7, 0, 9})), "bad-images", "magic", "0x00000801",
                "expected 0x00000803");
        // labels and images swapped
        assertMessage(bad(TestFiles.idxImages(3, 2, 3, pixels()), TestFiles.idxImages(3, 2, 3, pixels())),
                "bad-labels", "not an IDX label file", "expected 0x00000801");
    }

    @Test
    void testCountMismatchAndLabelOutOfRange() {
        assertMessage(bad(TestFiles.idxImages(3, 2, 3, pixels()), TestFiles.idxLabels(new byte[] {7, 0})),
                "bad-labels", "2 labels", "3 images");
        assertMessage(bad(TestFiles.idxImages(3, 2, 3, pixels()), TestFiles.idxLabels(new byte[] {7, 10, 9})),
                "bad-labels", "label 10", "sample 1", "10 classes");
        byte[] labels = TestFiles.idxLabels(new byte[] {7, 0, 9});
        assertMessage(bad(TestFiles.idxImages(3, 2, 3, pixels()), Arrays.copyOf(labels, labels.length - 1)),
                "bad-labels", "truncated");
    }

    @Test
    void testMissingFile() {
        Path lb = TestFiles.write(tmp.resolve("l"), TestFiles.idxLabels(new byte[] {7, 0, 9}));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new IdxDataset(tmp.resolve("nope"), lb, null));
        assertMessage(e, "nope", "not found");
    }

    @Test
    void testIndexChecks() {
        Path im = TestFiles.write(tmp.resolve("i"), TestFiles.idxImages(3, 2, 3, pixels()));
        Path lb = TestFiles.write(tmp.resolve("l"), TestFiles.idxLabels(new byte[] {7, 0, 9}));
        IdxDataset d = new IdxDataset(im, lb, null);
        assertThrows(IndexOutOfBoundsException.class, () -> d.label(3));
        assertThrows(IndexOutOfBoundsException.class, () -> d.image(-1));
        assertThrows(IndexOutOfBoundsException.class, () -> d.image(0, new float[5], 0));
        assertArrayEquals(new float[] {0f, 1 / 255f, 2 / 255f, 3 / 255f, 4 / 255f, 5 / 255f}, d.image(0));
    }
}
