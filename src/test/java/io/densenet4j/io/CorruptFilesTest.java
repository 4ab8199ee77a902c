package io.densenet4j.io;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Seeded random corruption (bytes overwritten, files cut) of every kind of weights file:
 * reading either succeeds or throws a one-line {@link WeightsException} naming the file;
 * nothing else (no NPE, ClassCastException, OutOfMemoryError, ...) may escape.
 */
class CorruptFilesTest {

    @ParameterizedTest
    @ValueSource(strings = {"views.pth", "views-legacy.pth", "odd-k5-legacy.pth", "wrapped-module.pth",
            "evil-legacy.pth", "torchscript.pt", "golden:odd-k5.safetensors"})
    void corruptionGivesAWeightsExceptionOrNothing(String name, @TempDir Path dir) throws IOException {
        Path src = name.startsWith("golden:") ? Fixtures.golden(name.substring(7)) : Fixtures.resource(name);
        byte[] all = Files.readAllBytes(src);
        Random r = new Random(name.hashCode());
        Path p = dir.resolve("corrupt.bin");
        for (int it = 0; it < 400; it++) {
            byte[] b = all.clone();
            for (int k = 1 + r.nextInt(4); k > 0; k--) b[r.nextInt(b.length)] = (byte) r.nextInt(256);
            if (r.nextInt(4) == 0) b = Arrays.copyOf(b, r.nextInt(b.length));
            Files.write(p, b);
            try {
                StateDicts.load(p);
            } catch (WeightsException e) {
                assertTrue(e.getMessage().startsWith(p + ": "), e.getMessage());
                assertFalse(e.getMessage().chars().anyMatch(c -> c < 0x20), "one line: " + e.getMessage());
            } catch (Throwable t) {
                fail("iteration " + it + " of " + name + " leaked " + t, t);
            }
        }
        assertFalse(Files.exists(Fixtures.EXPLOIT_MARKER));
    }
}
