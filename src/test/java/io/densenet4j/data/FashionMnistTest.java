package io.densenet4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The real Fashion-MNIST files of Debian's dataset-fashion-mnist (skipped when not installed). */
class FashionMnistTest {
    static final Path DIR = Path.of(Datasets.FASHION_MNIST_DIR);

    @BeforeAll
    static void needFiles() {
        Assumptions.assumeTrue(Files.isRegularFile(DIR.resolve("t10k-images-idx3-ubyte.gz")),
                "Fashion-MNIST not installed in " + DIR);
    }

    @Test
    void testSplitSizesLabelsAndClasses() {
        IdxDataset test = Datasets.fashionMnist(null, false);
        assertEquals(10_000, test.size());
        assertEquals(1, test.channels());
        assertEquals(28, test.height());
        assertEquals(28, test.width());
        assertEquals(10, test.numClasses());
        assertEquals("Ankle boot", test.classNames().get(9));
        assertEquals("T-shirt/top", test.classNames().get(0));
        // first ten test labels, known from the files: 9 2 1 1 6 1 4 6 5 7
        int[] expected = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], test.label(i), "label of test[" + i + "]");
        }
        // same through the spec
        Dataset viaSpec = Datasets.open("fashion-mnist", null, false);
        assertEquals(10_000, viaSpec.size());
        assertEquals(9, viaSpec.label(0));
    }

    @Test
    void testImageZeroMatchesBytesReadIndependently() throws IOException {
        IdxDataset test = Datasets.fashionMnist(DIR, false);
        float[] img = test.image(0);
        assertEquals(784, img.length);
        byte[] raw = new byte[784];
        try (InputStream in = new GZIPInputStream(Files.newInputStream(DIR.resolve("t10k-images-idx3-ubyte.gz")));
                DataInputStream d = new DataInputStream(in)) {
            assertEquals(0x803, d.readInt());
            assertEquals(10_000, d.readInt());
            assertEquals(28, d.readInt());
            assertEquals(28, d.readInt());
            d.readFully(raw);
        }
        long sum = 0;
        for (int i = 0; i < 784; i++) {
            assertEquals((raw[i] & 0xff) / 255f, img[i], 0f, "pixel " + i);
            sum += raw[i] & 0xff;
        }
        // values known from the file (checked with Python's gzip module)
        assertEquals(33456, sum);
        assertEquals(37, raw[221] & 0xff);
        assertEquals(255, raw[577] & 0xff);
        assertEquals(37 / 255f, img[221], 0f);
        assertEquals(1f, img[577], 0f);
        assertEquals(0f, img[0], 0f);
    }

    @Test
    void testTrainNormalisationStatistics() {
        IdxDataset train = Datasets.fashionMnist(DIR, true);
        assertEquals(60_000, train.size());
        Normalization n = Normalization.compute(train);
        assertEquals(1, n.channels());
        // the commonly quoted 0.2860 / 0.3530; exact values from Python in double
        assertEquals(0.2860, n.mean()[0], 5e-5);
        assertEquals(0.3530, n.std()[0], 5e-5);
        assertEquals(0.28604059698879553, n.mean()[0], 1e-7);
        assertEquals(0.35302424451492237, n.std()[0], 1e-7);
        assertTrue(train.label(0) >= 0 && train.label(0) < 10);
    }
}
