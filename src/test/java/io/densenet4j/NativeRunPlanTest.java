package io.densenet4j;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The JDK-less native test program (native/test/run_plan.cpp) on a plan the Java side wrote. */
class NativeRunPlanTest {
    static final Path RUN_PLAN = Path.of("target/native-build/run_plan");

    @Test
    void runPlanReproducesGoldenLogits(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(RUN_PLAN), "native test program not built at " + RUN_PLAN);
        for (String name : new String[] {"odd-k5", "bc-28-fmnist"}) {
            DenseNetConfig cfg = Golden.config(name);
            long[] shape = Golden.io(name).require("input").shape();
            Path plan = dir.resolve(name + ".plan");
            Files.writeString(plan, new DenseNet(cfg).inferencePlan((int) shape[2], (int) shape[3]).text());
            Process p = new ProcessBuilder(RUN_PLAN.toString(), plan.toString(), Golden.file(name + ".safetensors").toString(),
                    Golden.file(name + "-io.safetensors").toString(), "--threads", "2").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            assertEquals(0, p.waitFor(), name + ": " + out);
            assertTrue(out.startsWith("PASS"), out);
        }
    }
}
