package io.densenet4j.cli;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** On a platform without native jars, loading fails with one line naming the platform (exit 2). */
class PlatformTest {
    @Test
    void otherPlatformsGetAClearError() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"),
                "-Dorg.bytedeco.javacpp.platform=macosx-arm64", "io.densenet4j.cli.Main", "bench", "--arch", "densenet-bc",
                "--depth", "10", "--seconds", "0.1")).start();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals(2, p.waitFor(), err);
        assertEquals(1, err.lines().count(), err);
        assertTrue(err.contains("linux-x86_64 only") && err.contains("macosx-arm64"), err);
    }
}
