package io.densenet4j;

import io.densenet4j.io.ConfigJson;
import io.densenet4j.io.SafeTensors;
import io.densenet4j.io.StateDict;
import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** The public PyTorch reference cases in ../shared/golden (see its README). */
final class Golden {
    static final Path DIR = Path.of("../shared/golden");

    private Golden() {}

    static Path file(String name) {
        Path p = DIR.resolve(name);
        Assumptions.assumeTrue(Files.exists(p), "golden file " + p.toAbsolutePath() + " is absent");
        return p;
    }

    static DenseNetConfig config(String name) { return ConfigJson.read(file(name + ".json")); }

    static StateDict io(String name) { return SafeTensors.read(file(name + "-io.safetensors")).tensors(); }

    /** The golden tolerance: |got - want| <= 1e-4 + 1e-4 |want|, element by element. */
    static void assertClose(float[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what + ": length");
        double worst = 0;
        int at = -1;
        for (int i = 0; i < want.length; i++) {
            double err = Math.abs(got[i] - want[i]);
            double excess = err - (1e-4 + 1e-4 * Math.abs(want[i]));
            if (!(excess <= 0) && (at < 0 || excess > worst)) {
                worst = excess;
                at = i;
            }
        }
        if (at >= 0) fail(what + ": element " + at + " is " + got[at] + ", want " + want[at] + " (beyond 1e-4 abs + 1e-4 rel)");
    }
}
