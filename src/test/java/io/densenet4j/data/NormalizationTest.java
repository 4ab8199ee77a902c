package io.densenet4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class NormalizationTest {
    @Test
    void testComputeExactStatistics() {
        // 2 images, 2 channels, 1x2: channel 0 values {0, 1, 0.5, 0.5}, channel 1 values {2, 2, 2, 6}
        float[] px = {0f, 1f, 2f, 2f, 0.5f, 0.5f, 2f, 6f};
        ArrayDataset d = new ArrayDataset(px, new int[] {0, 0}, 2, 1, 2, 1);
        Normalization n = Normalization.compute(d);
        assertEquals(0.5f, n.mean()[0]);
        assertEquals((float) Math.sqrt(0.125), n.std()[0]); // population: ((.25+.25+0+0)/4)
        assertEquals(3f, n.mean()[1]);
        assertEquals((float) Math.sqrt(3.0), n.std()[1]); // (1+1+1+9)/4
    }

    @Test
    void testApplyInPlace() {
        Normalization n = new Normalization(new float[] {0.5f, 1f}, new float[] {0.25f, 2f});
        float[] x = {9f, 1f, 0f, 3f, 5f, 9f};
        n.apply(x, 1, 1, 2);
        assertArrayEquals(new float[] {9f, 2f, -2f, 1f, 2f, 9f}, x);
        assertEquals((0.3f - 0.5f) / 0.25f, n.normalize(0, 0.3f));
        float[] y = {0.7f};
        Normalization.identity(1).apply(y, 0, 1, 1);
        assertEquals(0.7f, y[0]);
    }

    @Test
    void testValidation() {
        assertThrows(IllegalArgumentException.class, () -> new Normalization(new float[] {0}, new float[] {0}));
        assertThrows(IllegalArgumentException.class, () -> new Normalization(new float[] {0, 1}, new float[] {1}));
        ArrayDataset constant = new ArrayDataset(new float[] {0.2f, 0.2f}, new int[] {0, 0}, 1, 1, 1, 1);
        assertThrows(IllegalArgumentException.class, () -> Normalization.compute(constant));
        float[] m = {0.1f};
        Normalization n = new Normalization(m, new float[] {1f});
        m[0] = 5f;
        assertEquals(0.1f, n.mean()[0]); // copied
        assertEquals(n, new Normalization(new float[] {0.1f}, new float[] {1f}));
    }
}
