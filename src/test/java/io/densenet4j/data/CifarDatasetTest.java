package io.densenet4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CifarDatasetTest {
    @TempDir
    Path tmp;

    private static void assertImage(Dataset d, int index, int seed) {
        float[] img = d.image(index);
        assertEquals(3 * 32 * 32, img.length);
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < 32; y++) {
                for (int x = 0; x < 32; x++) {
                    float want = TestFiles.cifarPixel(seed, c, y, x) / 255f;
                    assertEquals(want, img[(c * 32 + y) * 32 + x], 0f, "image " + index + " (c,y,x)=(" + c + ","
                            + y + "," + x + ")");
                }
            }
        }
    }

    @Test
    void testCifar10PlanesLabelsAndBatchOrder() throws IOException {
        Path dir = tmp.resolve("cifar-10-batches-bin");
        for (int b = 1; b <= 5; b++) {
            // batch b holds two records with labels b-1 and 9-b+1... and seeds 100*b, 100*b+1
            TestFiles.write(dir.resolve("data_batch_" + b + ".bin"), TestFiles.concat(
                    TestFiles.cifarRecord(100 * b, b - 1), TestFiles.cifarRecord(100 * b + 1, 10 - b)));
        }
        TestFiles.write(dir.resolve("test_batch.bin"), TestFiles.cifarRecord(7, 3));
        Files.writeString(dir.resolve("batches.meta.txt"),
                "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n");

        CifarDataset train = Datasets.cifar10(tmp, true); // finds the cifar-10-batches-bin sub-folder
        assertEquals(10, train.size());
        assertEquals(3, train.channels());
        assertEquals(32, train.height());
        assertEquals(32, train.width());
        assertEquals(10, train.numClasses());
        assertEquals("truck", train.classNames().get(9));
        assertEquals("airplane", train.classNames().get(0));
        for (int b = 1; b <= 5; b++) {
            assertEquals(b - 1, train.label(2 * (b - 1)));
            assertEquals(10 - b, train.label(2 * (b - 1) + 1));
            assertImage(train, 2 * (b - 1), 100 * b);
            assertImage(train, 2 * (b - 1) + 1, 100 * b + 1);
        }
        // one explicit value per plane: R at (0,0,0), G at (1,2,3), B at (2,31,31) of sample 0 (seed 100)
        float[] img = train.image(0);
        assertEquals(100 / 255f, img[0], 0f);
        assertEquals((100 + 64 + 4 + 3) / 255f, img[(1 * 32 + 2) * 32 + 3], 0f);
        assertEquals(((100 + 128 + 62 + 31) & 0xff) / 255f, img[(2 * 32 + 31) * 32 + 31], 0f);

        CifarDataset test = (CifarDataset) Datasets.open("cifar10", dir, false);
        assertEquals(1, test.size());
        assertEquals(3, test.label(0));
        assertImage(test, 0, 7);
    }

    @Test
    void testCifar100UsesFineLabel() throws IOException {
        Path dir = tmp.resolve("c100");
        TestFiles.write(dir.resolve("train.bin"), TestFiles.concat(TestFiles.cifarRecord(5, 19, 99),
                TestFiles.cifarRecord(6, 3, 42), TestFiles.cifarRecord(7, 0, 0)));
        TestFiles.write(dir.resolve("test.bin"), TestFiles.cifarRecord(9, 4, 17));
        CifarDataset train = Datasets.cifar100(dir, true);
        assertEquals(3, train.size());
        assertEquals(100, train.numClasses());
        assertEquals(99, train.label(0));
        assertEquals(42, train.label(1));
        assertEquals(0, train.label(2));
        assertEquals(19, train.coarseLabel(0));
        assertEquals(3, train.coarseLabel(1));
        assertEquals("class 42", train.classNames().get(42)); // no names file
        assertImage(train, 0, 5);
        assertImage(train, 1, 6);
        assertImage(train, 2, 7);
        CifarDataset test = Datasets.cifar100(dir, false);
        assertEquals(17, test.label(0));
        assertImage(test, 0, 9);

        StringBuilder names = new StringBuilder();
        for (int i = 0; i < 100; i++) {
            names.append("fine").append(i).append('\n');
        }
        Files.writeString(dir.resolve("fine_label_names.txt"), names);
        assertEquals("fine42", Datasets.cifar100(dir, true).classNames().get(42));
    }

    @Test
    void testWrongSizeIsReported() {
        Path dir = tmp.resolve("c100");
        byte[] rec = TestFiles.cifarRecord(5, 1, 2);
        TestFiles.write(dir.resolve("test.bin"), Arrays.copyOf(rec, rec.length - 1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Datasets.cifar100(dir, false));
        assertTrue(e.getMessage().contains("test.bin"), e.getMessage());
        assertTrue(e.getMessage().contains("3073 bytes"), e.getMessage());
        assertTrue(e.getMessage().contains("3074-byte record"), e.getMessage());

        // a CIFAR-10 file read as CIFAR-100: 3073 is not a multiple of 3074
        TestFiles.write(dir.resolve("test.bin"), TestFiles.cifarRecord(5, 1));
        e = assertThrows(IllegalArgumentException.class, () -> Datasets.cifar100(dir, false));
        assertTrue(e.getMessage().contains("not a multiple"), e.getMessage());
        TestFiles.write(dir.resolve("test.bin"), new byte[0]);
        e = assertThrows(IllegalArgumentException.class, () -> Datasets.cifar100(dir, false));
        assertTrue(e.getMessage().contains("empty"), e.getMessage());
    }

    @Test
    void testLabelOutOfRange() {
        Path f = TestFiles.write(tmp.resolve("test_batch.bin"), TestFiles.concat(TestFiles.cifarRecord(1, 2),
                TestFiles.cifarRecord(1, 10)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new CifarDataset(CifarDataset.Variant.CIFAR10, List.of(f), null));
        assertTrue(e.getMessage().contains("record 1 has label 10"), e.getMessage());
    }

    @Test
    void testMissingBatchAndMissingDir() {
        Path dir = tmp.resolve("c10");
        for (int b = 1; b <= 4; b++) {
            TestFiles.write(dir.resolve("data_batch_" + b + ".bin"), TestFiles.cifarRecord(b, 1));
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Datasets.cifar10(dir, true));
        assertTrue(e.getMessage().contains("data_batch_5.bin"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Datasets.cifar10(tmp.resolve("nowhere"), false));
        assertTrue(e.getMessage().startsWith("CIFAR-10 not found in " + tmp.resolve("nowhere")), e.getMessage());
        assertTrue(e.getMessage().contains("test_batch.bin"), e.getMessage());
    }

    @Test
    void testWrongNumberOfClassNames() throws IOException {
        Path dir = tmp.resolve("c10");
        TestFiles.write(dir.resolve("test_batch.bin"), TestFiles.cifarRecord(1, 1));
        Files.writeString(dir.resolve("batches.meta.txt"), "a\nb\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Datasets.cifar10(dir, false));
        assertTrue(e.getMessage().contains("expected 10 class names"), e.getMessage());
    }
}
