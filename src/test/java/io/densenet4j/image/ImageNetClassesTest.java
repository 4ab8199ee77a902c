package io.densenet4j.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bundled ImageNet names and user label files. */
class ImageNetClassesTest {
    @TempDir
    Path dir;

    @Test
    void thousandTorchvisionNames() {
        List<String> names = ImageNetClasses.names();
        assertEquals(1000, names.size());
        assertEquals("tench", names.get(0));
        assertEquals("tabby", names.get(281)); // torchvision's spelling (not "tabby cat")
        assertEquals("tiger cat", names.get(282));
        assertEquals("toilet tissue", names.get(999));
        assertEquals(1000, names.stream().distinct().count());
    }

    @Test
    void labelsFile() throws IOException {
        Path f = Files.writeString(dir.resolve("labels.txt"), "\uFEFFcat\r\ndog  \nsea lion\n\n", StandardCharsets.UTF_8);
        assertEquals(List.of("cat", "dog", "sea lion"), Labels.read(f));
    }

    @Test
    void badLabelsFiles() throws IOException {
        Path gap = Files.writeString(dir.resolve("gap.txt"), "cat\n\ndog\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Labels.read(gap));
        assertTrue(e.getMessage().contains("line 2"), e.getMessage());
        Path empty = Files.writeString(dir.resolve("empty.txt"), "\n");
        assertThrows(IllegalArgumentException.class, () -> Labels.read(empty));
        assertThrows(IllegalArgumentException.class, () -> Labels.read(dir.resolve("missing.txt")));
    }
}
