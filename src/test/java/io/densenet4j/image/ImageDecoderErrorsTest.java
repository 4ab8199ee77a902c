package io.densenet4j.image;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad files give one readable IllegalArgumentException line naming the file. */
class ImageDecoderErrorsTest {
    @TempDir
    Path dir;

    private static String failure(Path f) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ImageDecoder.read(f));
        String m = e.getMessage();
        assertTrue(m.contains(f.toString()), "message names the file: " + m);
        assertFalse(m.contains("\n"), "one line: " + m);
        return m;
    }

    @Test
    void emptyFile() throws IOException {
        Path f = Files.createFile(dir.resolve("empty.png"));
        assertTrue(failure(f).contains("empty"));
    }

    @Test
    void missingFile() {
        assertTrue(failure(dir.resolve("nope.png")).contains("no such file"));
    }

    @Test
    void textRenamedPng() throws IOException {
        Path f = Files.writeString(dir.resolve("notes.png"), "these are not pixels\n", StandardCharsets.UTF_8);
        assertTrue(failure(f).contains("not a PNG or JPEG"));
    }

    @Test
    void truncatedPng() throws IOException {
        byte[] whole = encoded("png");
        Path f = Files.write(dir.resolve("cut.png"), Arrays.copyOf(whole, whole.length / 2));
        String m = failure(f);
        assertTrue(m.contains("PNG") && m.contains("truncated or corrupt"), m);
    }

    @Test
    void truncatedJpeg() throws IOException {
        byte[] whole = encoded("jpeg");
        Path f = Files.write(dir.resolve("cut.jpg"), Arrays.copyOf(whole, whole.length / 2));
        String m = failure(f);
        assertTrue(m.contains("JPEG") && m.contains("truncated or corrupt"), m);
    }

    private byte[] encoded(String format) throws IOException {
        BufferedImage img = new BufferedImage(64, 64, BufferedImage.TYPE_3BYTE_BGR);
        Random rnd = new Random(7);
        for (int y = 0; y < 64; y++) {
            for (int x = 0; x < 64; x++) {
                img.setRGB(x, y, rnd.nextInt(1 << 24));
            }
        }
        Path f = dir.resolve("whole." + format);
        assertTrue(ImageIO.write(img, format, f.toFile()));
        return Files.readAllBytes(f);
    }
}
