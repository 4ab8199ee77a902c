package io.densenet4j.image;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * CMYK JPEG and 16-bit PNG become RGB (and gray) as Pillow's {@code convert("RGB")} /
 * {@code convert("L")} make them (torchvision's loader), against Pillow 9.4's own results
 * (resources made by {@code make_pil_cases.py} beside them).
 */
class PillowConversionTest {
    static Path res(String name) throws Exception {
        return Path.of(PillowConversionTest.class.getResource(name).toURI());
    }

    /** Largest |ours - Pillow's| over the image, in 0..255 levels. */
    static int maxDiff(Image got, byte[] hwc, int channels) {
        int h = got.height(), w = got.width(), worst = 0;
        assertEquals(h * w * channels, hwc.length);
        for (int c = 0; c < channels; c++) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    float v = got.get(c, y, x);
                    assertEquals(Math.rint(v), v, 0, "whole levels, as Pillow's 8-bit result");
                    worst = Math.max(worst, Math.abs((int) v - (hwc[(y * w + x) * channels + c] & 0xff)));
                }
            }
        }
        return worst;
    }

    @Test
    void sixteenBitPngsMatchPillowExactly() throws Exception {
        for (String name : new String[] {"rgb16.png", "gray16.png"}) {
            Image rgb = ImageDecoder.read(res(name));
            assertEquals(0, maxDiff(rgb, Files.readAllBytes(res(name + ".rgb")), 3), name + " RGB");
            Image gray = ImageDecoder.read(res(name), ColorMode.GRAY);
            assertEquals(0, maxDiff(gray, Files.readAllBytes(res(name + ".l")), 1), name + " L");
        }
        // gray16: Pillow's mode I clips (0, 0) = 65535 to 255 and keeps 0..255 as they are
        Image g = ImageDecoder.read(res("gray16.png"), ColorMode.GRAY);
        assertEquals(255f, g.get(0, 0, 0));
        assertEquals(23f, g.get(0, 0, 1));
    }

    @Test
    void cmykJpegMatchesPillowWithinTheDecodersRounding() throws Exception {
        Image rgb = ImageDecoder.read(res("cmyk.jpg"));
        int d = maxDiff(rgb, Files.readAllBytes(res("cmyk.jpg.rgb")), 3);
        // the JDK's libjpeg and Pillow's libjpeg-turbo round their IDCTs differently: a level or two
        assertTrue(d <= 2, "CMYK to RGB within 2 levels of Pillow: " + d);
        Image gray = ImageDecoder.read(res("cmyk.jpg"), ColorMode.GRAY);
        assertTrue(maxDiff(gray, Files.readAllBytes(res("cmyk.jpg.l")), 1) <= 2, "CMYK to L");
        // not an inverted or unconverted image: the top-left pixel (C=M=Y=K=0) is white
        assertEquals(255f, rgb.get(0, 0, 0), 2f);
    }
}
