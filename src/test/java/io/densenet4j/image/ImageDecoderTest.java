package io.densenet4j.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.awt.Transparency;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.IndexColorModel;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.nio.file.Path;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Decoding of small PNGs and JPEGs written here, with exact pixel values. */
class ImageDecoderTest {
    @TempDir
    Path dir;

    private Path png(BufferedImage img, String name) throws IOException {
        Path f = dir.resolve(name);
        if (!ImageIO.write(img, "png", f.toFile())) {
            throw new IllegalStateException("no PNG writer for " + img);
        }
        return f;
    }

    @Test
    void gray8IsReplicatedIntoRgb() throws IOException {
        BufferedImage img = new BufferedImage(3, 2, BufferedImage.TYPE_BYTE_GRAY);
        img.getRaster().setPixels(0, 0, 3, 2, new int[] {0, 1, 127, 128, 254, 255});
        Path f = png(img, "gray.png");

        Image rgb = ImageDecoder.read(f);
        assertEquals(3, rgb.channels());
        assertEquals(2, rgb.height());
        assertEquals(3, rgb.width());
        float[] plane = {0, 1, 127, 128, 254, 255};
        float[] want = new float[18];
        for (int c = 0; c < 3; c++) {
            System.arraycopy(plane, 0, want, c * 6, 6);
        }
        assertArrayEquals(want, rgb.data());

        Image gray = ImageDecoder.read(f, ColorMode.GRAY);
        assertEquals(1, gray.channels());
        assertArrayEquals(plane, gray.data());
        assertEquals(128f, gray.get(0, 1, 0));
    }

    @Test
    void grayAlphaDropsAlpha() throws IOException {
        ComponentColorModel cm = new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_GRAY), true, false,
                Transparency.TRANSLUCENT, DataBuffer.TYPE_BYTE);
        WritableRaster r = cm.createCompatibleWritableRaster(2, 1);
        r.setPixels(0, 0, 2, 1, new int[] {200, 0, 37, 128});
        Path f = png(new BufferedImage(cm, r, false, null), "gray-alpha.png");

        assertArrayEquals(new float[] {200, 37}, ImageDecoder.read(f, ColorMode.GRAY).data());
        assertArrayEquals(new float[] {200, 37, 200, 37, 200, 37}, ImageDecoder.read(f).data());
    }

    @Test
    void rgbaDropsAlphaWithoutCompositing() throws IOException {
        BufferedImage img = new BufferedImage(2, 1, BufferedImage.TYPE_INT_ARGB);
        img.setRGB(0, 0, 0x00C86432); // fully transparent (200, 100, 50)
        img.setRGB(1, 0, 0x800A141E); // half transparent (10, 20, 30)
        Path f = png(img, "rgba.png");

        Image rgb = ImageDecoder.read(f);
        assertArrayEquals(new float[] {200, 10, 100, 20, 50, 30}, rgb.data());
        // Pillow's L: (R*19595 + G*38470 + B*7471 + 0x8000) >> 16
        Image gray = ImageDecoder.read(f, ColorMode.GRAY);
        assertArrayEquals(new float[] {124, 18}, gray.data());
    }

    @Test
    void paletteWithTransparencyIsLookedUp() throws IOException {
        byte[] red = {(byte) 255, 0, 0, 10};
        byte[] green = {0, (byte) 255, 0, 20};
        byte[] blue = {0, 0, (byte) 255, 30};
        byte[] alpha = {(byte) 255, 0, (byte) 128, (byte) 255};
        IndexColorModel icm = new IndexColorModel(8, 4, red, green, blue, alpha);
        BufferedImage img = new BufferedImage(4, 1, BufferedImage.TYPE_BYTE_INDEXED, icm);
        img.getRaster().setPixels(0, 0, 4, 1, new int[] {3, 2, 1, 0});
        Path f = png(img, "palette.png");

        Image rgb = ImageDecoder.read(f);
        assertArrayEquals(new float[] {10, 0, 0, 255, 20, 0, 255, 0, 30, 255, 0, 0}, rgb.data());
        // L of (10,20,30)=18, (0,0,255)=29, (0,255,0)=150, (255,0,0)=76, as Pillow's P->L gives
        assertArrayEquals(new float[] {18, 29, 150, 76}, ImageDecoder.read(f, ColorMode.GRAY).data());
    }

    @Test
    void oneBitGrayIsStretchedTo255() throws IOException {
        BufferedImage img = new BufferedImage(3, 1, BufferedImage.TYPE_BYTE_BINARY);
        img.getRaster().setPixels(0, 0, 3, 1, new int[] {1, 0, 1});
        Path f = png(img, "bits1.png");
        assertArrayEquals(new float[] {255, 0, 255}, ImageDecoder.read(f, ColorMode.GRAY).data());
    }

    @Test
    void jpegGrayAndRgb() throws IOException {
        BufferedImage gray = new BufferedImage(16, 16, BufferedImage.TYPE_BYTE_GRAY);
        int[] g = new int[256];
        java.util.Arrays.fill(g, 77);
        gray.getRaster().setPixels(0, 0, 16, 16, g);
        Image dg = ImageDecoder.read(jpeg(gray, "gray.jpg"), ColorMode.GRAY);
        assertEquals(1, dg.channels());
        for (float v : dg.data()) {
            assertEquals(77f, v); // a flat block survives JPEG exactly
        }
        Image dgRgb = ImageDecoder.read(dir.resolve("gray.jpg"));
        assertEquals(3, dgRgb.channels());
        assertEquals(77f, dgRgb.get(2, 15, 15));

        BufferedImage rgb = new BufferedImage(16, 16, BufferedImage.TYPE_3BYTE_BGR);
        for (int y = 0; y < 16; y++) {
            for (int x = 0; x < 16; x++) {
                rgb.setRGB(x, y, 0xC86432);
            }
        }
        Image d = ImageDecoder.read(jpeg(rgb, "rgb.jpg"));
        assertEquals(3, d.channels());
        assertEquals(16, d.width());
        // YCbCr round trip of a flat colour: within 2 levels of (200, 100, 50)
        assertEquals(200f, d.get(0, 8, 8), 2f);
        assertEquals(100f, d.get(1, 8, 8), 2f);
        assertEquals(50f, d.get(2, 8, 8), 2f);
    }

    private Path jpeg(BufferedImage img, String name) throws IOException {
        Path f = dir.resolve(name);
        ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
        ImageWriteParam p = w.getDefaultWriteParam();
        p.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
        p.setCompressionQuality(1.0f);
        try (ImageOutputStream out = ImageIO.createImageOutputStream(f.toFile())) {
            w.setOutput(out);
            w.write(null, new IIOImage(img, null, null), p);
        } finally {
            w.dispose();
        }
        return f;
    }
}
