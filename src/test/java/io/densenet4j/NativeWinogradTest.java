package io.densenet4j;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The native Winograd test program (native/test/winograd_test.cpp): the CPU backend's Winograd
 *  3x3 conv and oneDNN's direct conv against a double reference, odd sizes, slices, BN, ReLU. */
class NativeWinogradTest {
    static final Path WINOGRAD_TEST = Path.of("target/native-build/winograd_test");

    @Test
    void winogradMatchesDirectConvAndReference() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(WINOGRAD_TEST), "native test program not built at " + WINOGRAD_TEST);
        ProcessBuilder pb = new ProcessBuilder(WINOGRAD_TEST.toString()).redirectErrorStream(true);
        pb.environment().remove("DN4J_WINOGRAD");
        pb.environment().remove("DN4J_WINOGRAD_TILES");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), out);
        assertFalse(out.contains("FAIL"), out);
        assertTrue(out.contains("path=winograd") && out.contains("path=direct"), out);
        assertTrue(out.strip().endsWith("PASS"), out);
    }
}
