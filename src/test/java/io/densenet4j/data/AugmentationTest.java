package io.densenet4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class AugmentationTest {
    private static final int C = 3;
    private static final int H = 6;
    private static final int W = 7;

    private static float[] randomImage(long seed) {
        Random r = new Random(seed);
        float[] x = new float[C * H * W];
        for (int i = 0; i < x.length; i++) {
            x[i] = 0.01f + r.nextFloat(); // never 0, so padding is recognisable
        }
        return x;
    }

    /** torchvision's recipe written out: pad with zeros, take the window, then mirror. */
    private static float[] reference(float[] src, int pad, Augmentation.Params p) {
        int ph = H + 2 * pad;
        int pw = W + 2 * pad;
        float[] padded = new float[C * ph * pw];
        for (int c = 0; c < C; c++) {
            for (int y = 0; y < H; y++) {
                for (int x = 0; x < W; x++) {
                    padded[(c * ph + y + pad) * pw + x + pad] = src[(c * H + y) * W + x];
                }
            }
        }
        float[] crop = new float[C * H * W];
        for (int c = 0; c < C; c++) {
            for (int y = 0; y < H; y++) {
                for (int x = 0; x < W; x++) {
                    crop[(c * H + y) * W + x] = padded[(c * ph + y + p.dy()) * pw + x + p.dx()];
                }
            }
        }
        if (!p.flip()) {
            return crop;
        }
        float[] out = new float[crop.length];
        for (int c = 0; c < C; c++) {
            for (int y = 0; y < H; y++) {
                for (int x = 0; x < W; x++) {
                    out[(c * H + y) * W + x] = crop[(c * H + y) * W + (W - 1 - x)];
                }
            }
        }
        return out;
    }

    @Test
    void testMatchesPadCropFlipReferenceForEveryChoice() {
        Augmentation a = Augmentation.standard();
        float[] src = randomImage(1);
        for (int dy = 0; dy <= 8; dy++) {
            for (int dx = 0; dx <= 8; dx++) {
                for (boolean flip : new boolean[] {false, true}) {
                    Augmentation.Params p = new Augmentation.Params(dy, dx, flip);
                    float[] out = new float[src.length + 5];
                    a.apply(src, 0, out, 5, C, H, W, p);
                    float[] got = new float[src.length];
                    System.arraycopy(out, 5, got, 0, got.length);
                    assertArrayEquals(reference(src, 4, p), got, 0f, p.toString());
                }
            }
        }
    }

    @Test
    void testShiftLeavesExactZerosInTheBorderAndFlipMirrors() {
        Augmentation a = Augmentation.standard();
        float[] src = randomImage(2);
        float[] out = new float[src.length];
        // window at the top right of the padded image: rows shift down by 4, columns left by 4
        a.apply(src, 0, out, 0, C, H, W, new Augmentation.Params(0, 8, false));
        for (int c = 0; c < C; c++) {
            for (int y = 0; y < H; y++) {
                for (int x = 0; x < W; x++) {
                    float v = out[(c * H + y) * W + x];
                    if (y < 4 || x >= W - 4) {
                        assertEquals(0f, v, "padded (" + c + "," + y + "," + x + ")");
                    } else {
                        assertEquals(src[(c * H + y - 4) * W + x + 4], v);
                    }
                }
            }
        }
        // centre window + flip: a pure mirror
        a.apply(src, 0, out, 0, C, H, W, new Augmentation.Params(4, 4, true));
        for (int c = 0; c < C; c++) {
            for (int y = 0; y < H; y++) {
                for (int x = 0; x < W; x++) {
                    assertEquals(src[(c * H + y) * W + (W - 1 - x)], out[(c * H + y) * W + x]);
                }
            }
        }
        // none(): identity
        Augmentation.none().apply(src, 0, out, 0, C, H, W, 5L, 3, 9);
        assertArrayEquals(src, out);
    }

    @Test
    void testDeterministicPerSeedEpochIndex() {
        Augmentation a = Augmentation.standard();
        float[] src = randomImage(3);
        float[] o1 = new float[src.length];
        float[] o2 = new float[src.length];
        a.apply(src, 0, o1, 0, C, H, W, 7L, 2, 11);
        a.apply(src, 0, o2, 0, C, H, W, 7L, 2, 11);
        assertArrayEquals(o1, o2);
        assertEquals(a.params(7L, 2, 11), a.params(7L, 2, 11));

        int differentEpoch = 0;
        int differentSeed = 0;
        Set<Integer> dys = new HashSet<>();
        Set<Integer> dxs = new HashSet<>();
        int flips = 0;
        for (int i = 0; i < 200; i++) {
            Augmentation.Params p = a.params(7L, 2, i);
            if (!p.equals(a.params(7L, 3, i))) {
                differentEpoch++;
            }
            if (!p.equals(a.params(8L, 2, i))) {
                differentSeed++;
            }
            dys.add(p.dy());
            dxs.add(p.dx());
            flips += p.flip() ? 1 : 0;
            assertTrue(p.dy() >= 0 && p.dy() <= 8 && p.dx() >= 0 && p.dx() <= 8);
        }
        // 162 equally likely choices: two draws agree with probability 1/162
        assertTrue(differentEpoch > 190, "epochs differ for " + differentEpoch + " of 200");
        assertTrue(differentSeed > 190, "seeds differ for " + differentSeed + " of 200");
        assertEquals(9, dys.size());
        assertEquals(9, dxs.size());
        assertTrue(flips > 70 && flips < 130, "flips " + flips);
        // different epoch, different pixels
        int i = 11;
        while (a.params(7L, 3, i).equals(a.params(7L, 2, i))) {
            i++;
        }
        a.apply(src, 0, o1, 0, C, H, W, 7L, 2, i);
        a.apply(src, 0, o2, 0, C, H, W, 7L, 3, i);
        assertFalse(java.util.Arrays.equals(o1, o2));
        // flipping off keeps the crop offsets of the same draw
        Augmentation cropOnly = new Augmentation(4, false);
        for (int k = 0; k < 20; k++) {
            Augmentation.Params p = a.params(1L, 0, k);
            Augmentation.Params q = cropOnly.params(1L, 0, k);
            assertEquals(p.dy(), q.dy());
            assertEquals(p.dx(), q.dx());
            assertFalse(q.flip());
        }
    }

    @Test
    void testFixedValuesPinTheGenerator() {
        // the sequence is defined by this package (SplitMix64), not by the JDK: pin a few draws
        Augmentation a = Augmentation.standard();
        Augmentation.Params p0 = a.params(0L, 0, 0);
        Augmentation.Params p1 = a.params(12345L, 7, 999);
        assertEquals(p0, a.params(0L, 0, 0));
        assertEquals(p1, a.params(12345L, 7, 999));
        assertEquals(PINNED_0, p0.toString());
        assertEquals(PINNED_1, p1.toString());
    }

    // computed by an independent Python transcription of SplitMix64 + the seed derivation
    static final String PINNED_0 = "Params[dy=6, dx=8, flip=false]";
    static final String PINNED_1 = "Params[dy=7, dx=2, flip=true]";
}
