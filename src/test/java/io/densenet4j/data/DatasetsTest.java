package io.densenet4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetsTest {
    @TempDir
    Path tmp;

    static ArrayDataset ramp(int n) {
        float[] px = new float[n * 2];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            px[2 * i] = i;
            px[2 * i + 1] = -i;
            labels[i] = i % 3;
        }
        return new ArrayDataset(px, labels, 2, 1, 1, 3);
    }

    @Test
    void testUnknownSpecAndMissingDirs() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Datasets.open("imagenet", null, true));
        assertTrue(e.getMessage().contains("unknown dataset 'imagenet'"), e.getMessage());
        assertTrue(e.getMessage().contains(Datasets.SPECS), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Datasets.open("zip:foo", null, true));
        assertTrue(e.getMessage().contains("unknown dataset"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Datasets.open("folder:", null, true));
        assertTrue(e.getMessage().contains("no path"), e.getMessage());

        Path none = tmp.resolve("none");
        e = assertThrows(IllegalArgumentException.class, () -> Datasets.open("fashion-mnist", none, true));
        assertTrue(e.getMessage().startsWith("Fashion-MNIST not found in " + none), e.getMessage());
        assertTrue(e.getMessage().contains("pass --data-dir"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
        e = assertThrows(IllegalArgumentException.class, () -> Datasets.open("cifar100", none, false));
        assertTrue(e.getMessage().startsWith("CIFAR-100 not found in " + none), e.getMessage());
        assertTrue(e.getMessage().contains("test.bin"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Datasets.mnist(none, false));
        assertTrue(e.getMessage().contains("t10k-images-idx3-ubyte(.gz)"), e.getMessage());
    }

    @Test
    void testIncompleteIdxFolder() {
        TestFiles.write(tmp.resolve("train-images-idx3-ubyte.gz"),
                TestFiles.gzip(TestFiles.idxImages(1, 1, 1, new byte[1])));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Datasets.fashionMnist(tmp, true));
        assertTrue(e.getMessage().contains("incomplete") && e.getMessage().contains("train-labels-idx1-ubyte"),
                e.getMessage());
    }

    @Test
    void testSplitIsSeededDisjointAndComplete() {
        ArrayDataset d = ramp(101);
        Datasets.Split s = Datasets.split(d, 0.1, 42);
        assertEquals(10, s.validation().size()); // round(10.1)
        assertEquals(91, s.train().size());
        int[] all = IntStream.concat(Arrays.stream(s.train().indices()), Arrays.stream(s.validation().indices()))
                .sorted().toArray();
        assertArrayEquals(IntStream.range(0, 101).toArray(), all);
        // samples come from the base
        int bi = s.validation().baseIndex(3);
        assertEquals(d.label(bi), s.validation().label(3));
        assertEquals((float) bi, s.validation().image(3)[0]);
        // same seed same split; another seed another split
        assertArrayEquals(s.validation().indices(), Datasets.split(d, 0.1, 42).validation().indices());
        assertFalse(Arrays.equals(s.validation().indices(), Datasets.split(d, 0.1, 43).validation().indices()));
        // the validation part is not just the first or last samples
        assertFalse(Arrays.equals(IntStream.range(0, 10).toArray(), s.validation().indices()));
        assertThrows(IllegalArgumentException.class, () -> Datasets.split(d, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> Datasets.split(d, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> Datasets.split(ramp(3), 0.01, 1));
    }

    @Test
    void testSubsetChecksIndices() {
        ArrayDataset d = ramp(5);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Subset(d, new int[] {0, 5}));
        assertTrue(e.getMessage().contains("index 5"), e.getMessage());
        Subset s = new Subset(d, new int[] {4, 4, 1});
        assertEquals(3, s.size());
        assertEquals(4 % 3, s.label(0));
        assertEquals(-1f, s.image(2)[1]);
    }

    @Test
    void testArrayDatasetChecks() {
        assertThrows(IllegalArgumentException.class, () -> new ArrayDataset(new float[3], new int[] {0, 1}, 1, 1, 1, 2));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ArrayDataset(new float[2], new int[] {0, 2}, 1, 1, 1, 2));
        assertTrue(e.getMessage().contains("label 2"), e.getMessage());
    }
}
