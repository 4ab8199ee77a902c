package io.densenet4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.densenet4j.image.ColorMode;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageFolderDatasetTest {
    @TempDir
    Path tmp;

    /** An RGB PNG whose pixel (y, x) is (r + x, g + y, b). */
    private static Path png(Path file, int w, int h, int r, int g, int b) throws IOException {
        BufferedImage im = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                im.setRGB(x, y, ((r + x) << 16) | ((g + y) << 8) | b);
            }
        }
        Files.createDirectories(file.getParent());
        assertTrue(ImageIO.write(im, "png", file.toFile()));
        return file;
    }

    private Path folder() throws IOException {
        Path root = tmp.resolve("imgs");
        png(root.resolve("dog/2.png"), 4, 3, 10, 20, 30);
        png(root.resolve("dog/1.PNG"), 4, 3, 40, 50, 60);
        png(root.resolve("dog/sub/0.png"), 4, 3, 70, 80, 90);
        png(root.resolve("cat/x.png"), 4, 3, 100, 110, 120);
        Files.writeString(root.resolve("cat/readme.txt"), "not an image");
        png(root.resolve(".hidden/y.png"), 4, 3, 0, 0, 0);
        return root;
    }

    @Test
    void testClassesOrderAndValues() throws IOException {
        Path root = folder();
        ImageFolderDataset d = (ImageFolderDataset) Datasets.open("folder:" + root, null, true);
        assertEquals(List.of("cat", "dog"), d.classNames());
        assertEquals(2, d.numClasses());
        assertEquals(4, d.size());
        assertEquals(3, d.channels());
        assertEquals(3, d.height());
        assertEquals(4, d.width());
        // torchvision order: cat/x, then dog's own files by name (1.PNG, 2.png), then dog/sub/0.png
        assertEquals(root.resolve("cat/x.png"), d.file(0));
        assertEquals(root.resolve("dog/1.PNG"), d.file(1));
        assertEquals(root.resolve("dog/2.png"), d.file(2));
        assertEquals(root.resolve("dog/sub/0.png"), d.file(3));
        assertEquals(0, d.label(0));
        assertEquals(1, d.label(1));
        assertEquals(1, d.label(3));
        float[] img = d.image(2); // dog/2.png: (10 + x, 20 + y, 30)
        for (int y = 0; y < 3; y++) {
            for (int x = 0; x < 4; x++) {
                assertEquals((10 + x) / 255f, img[(0 * 3 + y) * 4 + x], 0f);
                assertEquals((20 + y) / 255f, img[(1 * 3 + y) * 4 + x], 0f);
                assertEquals(30 / 255f, img[(2 * 3 + y) * 4 + x], 0f);
            }
        }
    }

    @Test
    void testGrayMode() throws IOException {
        Path root = folder();
        ImageFolderDataset d = new ImageFolderDataset(root, ColorMode.GRAY, 0);
        assertEquals(1, d.channels());
        float[] img = d.image(0); // cat/x.png pixel (0,0) = (100, 110, 120)
        int luma = (100 * 19595 + 110 * 38470 + 120 * 7471 + 0x8000) >> 16;
        assertEquals(luma / 255f, img[0], 0f);
    }

    @Test
    void testSizeMismatchNamesTheOddFile() throws IOException {
        Path root = folder();
        png(root.resolve("dog/3.png"), 5, 3, 1, 2, 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ImageFolderDataset(root));
        assertTrue(e.getMessage().startsWith(root.resolve("dog/3.png").toString()), e.getMessage());
        assertTrue(e.getMessage().contains("5x3"), e.getMessage());
        assertTrue(e.getMessage().contains("4x3"), e.getMessage());

        // with a target size they are resized and centre-cropped to s x s
        ImageFolderDataset d = new ImageFolderDataset(root, ColorMode.RGB, 2);
        assertEquals(5, d.size());
        assertEquals(2, d.height());
        assertEquals(2, d.width());
        float[] img = d.image(0);
        assertEquals(12, img.length);
        for (int i = 8; i < 12; i++) {
            assertEquals(120 / 255f, img[i], 1.01f / 255f); // the constant blue plane stays 120
        }
    }

    @Test
    void testErrors() throws IOException {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Datasets.open("folder:" + tmp.resolve("missing"), null, true));
        assertTrue(e.getMessage().contains("not found") && e.getMessage().contains("missing"), e.getMessage());
        Files.createDirectories(tmp.resolve("flat"));
        png(tmp.resolve("flat/a.png"), 2, 2, 0, 0, 0);
        e = assertThrows(IllegalArgumentException.class, () -> new ImageFolderDataset(tmp.resolve("flat")));
        assertTrue(e.getMessage().contains("no class sub-folders"), e.getMessage());
        Files.createDirectories(tmp.resolve("flat/empty"));
        e = assertThrows(IllegalArgumentException.class, () -> new ImageFolderDataset(tmp.resolve("flat")));
        assertTrue(e.getMessage().contains("empty") && e.getMessage().contains("no .png/.jpg/.jpeg"), e.getMessage());
        Path root = folder();
        Files.writeString(root.resolve("dog/broken.jpg"), "not really a jpeg");
        e = assertThrows(IllegalArgumentException.class, () -> new ImageFolderDataset(root));
        assertTrue(e.getMessage().contains("broken.jpg"), e.getMessage());
    }
}
