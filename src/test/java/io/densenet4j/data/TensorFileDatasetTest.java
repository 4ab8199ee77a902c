package io.densenet4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.densenet4j.io.SafeTensors;
import io.densenet4j.io.StateDict;
import io.densenet4j.io.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TensorFileDatasetTest {
    @TempDir
    Path tmp;

    private Path write(String name, long[] inShape, float[] input, long[] labels, Map<String, String> meta) {
        StateDict sd = new StateDict();
        if (input != null) {
            sd.put("input", Tensor.ofFloats(inShape, input));
        }
        if (labels != null) {
            sd.put("labels", Tensor.ofLongs(new long[] {labels.length}, labels));
        }
        Path f = tmp.resolve(name);
        SafeTensors.write(f, sd, meta);
        return f;
    }

    private static float[] values(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = -3.5f + 0.25f * i; // outside [0, 1] on purpose: values are used as they are
        }
        return v;
    }

    @Test
    void testReadsValuesAsTheyAre() {
        float[] v = values(3 * 2 * 2 * 3);
        Path f = write("d.safetensors", new long[] {3, 2, 2, 3}, v, new long[] {4, 0, 2}, null);
        TensorFileDataset d = (TensorFileDataset) Datasets.open("tensors:" + f, Path.of("/ignored"), false);
        assertEquals(3, d.size());
        assertEquals(2, d.channels());
        assertEquals(2, d.height());
        assertEquals(3, d.width());
        assertEquals(5, d.numClasses()); // max label + 1
        assertEquals(4, d.label(0));
        assertEquals(2, d.label(2));
        float[] img = d.image(1);
        float[] want = new float[12];
        System.arraycopy(v, 12, want, 0, 12);
        assertArrayEquals(want, img, 0f);
        assertEquals("class 4", d.classNames().get(4));
    }

    @Test
    void testMetadataNumClassesAndNames() {
        Path f = write("m.safetensors", new long[] {2, 1, 1, 1}, new float[] {1, 2}, new long[] {0, 1},
                Map.of("num_classes", "3", "class_names", "[\"a\",\"b\",\"c\"]"));
        TensorFileDataset d = new TensorFileDataset(f);
        assertEquals(3, d.numClasses());
        assertEquals("c", d.classNames().get(2));
    }

    private void assertBad(Path f, String... parts) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new TensorFileDataset(f));
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "message '" + e.getMessage() + "' lacks '" + p + "'");
        }
    }

    @Test
    void testBadInputs() throws Exception {
        assertBad(write("a", new long[] {2, 1, 1, 1}, new float[] {1, 2}, new long[] {0, 3},
                Map.of("num_classes", "3")), "label 3", "sample 1", "num_classes=3");
        assertBad(write("b", new long[] {2, 1, 1, 1}, new float[] {1, 2}, new long[] {0, -1}, null), "label -1",
                "negative");
        assertBad(write("c", new long[] {2, 1, 1, 1}, new float[] {1, 2}, new long[] {0, 1, 1}, null), "N=2",
                "3 labels");
        assertBad(write("d", new long[] {2, 1, 1, 1}, new float[] {1, 2}, null, null), "'labels'");
        assertBad(write("e", new long[] {2, 2}, new float[] {1, 2, 3, 4}, new long[] {0, 1}, null), "(N,C,H,W)");
        assertBad(write("f", new long[] {2, 1, 1, 1}, new float[] {1, 2}, new long[] {0, 1},
                Map.of("num_classes", "many")), "num_classes", "not an integer");
        Path junk = Files.writeString(tmp.resolve("junk.safetensors"), "garbage");
        assertBad(junk, "junk.safetensors");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Datasets.open("tensors:" + tmp.resolve("none.safetensors"), null, true));
        assertTrue(e.getMessage().contains("none.safetensors"), e.getMessage());
    }
}
