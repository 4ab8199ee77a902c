package io.densenet4j.image;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * Decodes PNG and JPEG files (through {@code javax.imageio}) into planar float {@link Image}s,
 * layout (C, H, W), values 0..255, converted the way PIL's {@code Image.open(f).convert(mode)}
 * does.
 *
 * <p>What is handled, and how:
 * <ul>
 *   <li>PNG gray, gray+alpha, RGB, RGBA, palette (with or without transparency), 1/2/4/8/16 bits;
 *       JPEG gray and RGB (YCbCr). Other formats {@code javax.imageio} reads (BMP, GIF, ...) go
 *       the same way but are not tested.</li>
 *   <li>Raw sample values are used: no gamma, ICC profile or colour-space conversion
 *       (PIL applies none either).</li>
 *   <li>16-bit samples become {@code v / 257.0} as float (65535 to 255.0, 32896 to 128.0): scaled,
 *       not clipped and not rounded. Samples of fewer than 8 bits are stretched to 0..255
 *       (a 4-bit 15 becomes 255).</li>
 *   <li>{@link ColorMode#RGB}: gray replicated, alpha dropped (not composited), palette looked up.
 *       {@link ColorMode#GRAY}: luma {@code R*299/1000 + G*587/1000 + B*114/1000}, with Pillow's
 *       fixed-point rounding ({@code (R*19595 + G*38470 + B*7471 + 0x8000) >> 16}) for 8-bit
 *       sources, in float for 16-bit ones; alpha dropped.</li>
 *   <li>EXIF orientation is ignored, as {@code PIL.Image.open} and torchvision ignore it.</li>
 * </ul>
 *
 * <p>Errors: a missing, unreadable, empty, non-image, truncated or corrupt file, and CMYK/YCCK
 * JPEGs, raise {@link IllegalArgumentException} with a one-line message naming the file.
 */
public final class ImageDecoder {
    private ImageDecoder() {
    }

    /**
     * Reads an image file as RGB, PIL {@code Image.open(file).convert("RGB")}.
     *
     * @param file a PNG or JPEG file
     * @return the image, 3 channels, (C, H, W) float32, values 0..255
     * @throws IllegalArgumentException if the file cannot be read or decoded
     */
    /** Largest image decoded, in pixels: Pillow's {@code Image.MAX_IMAGE_PIXELS} (decompression-bomb guard). */
    public static final long MAX_PIXELS = 89_478_485L;

    public static Image read(Path file) {
        return read(file, ColorMode.RGB);
    }

    /**
     * Reads an image file and converts it to {@code mode}.
     *
     * @param file a PNG or JPEG file
     * @param mode {@link ColorMode#RGB} (3 channels) or {@link ColorMode#GRAY} (1 channel)
     * @return the image, (C, H, W) float32, values 0..255
     * @throws IllegalArgumentException if the file cannot be read or decoded, naming the file
     */
    public static Image read(Path file, ColorMode mode) {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(mode, "mode");
        BufferedImage bi = readBuffered(file);
        try {
            return convert(bi, mode);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("cannot decode image file " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Converts an already decoded {@link BufferedImage} from its raw raster samples (not
     * {@code getRGB}, which would apply colour-space conversion).
     *
     * @param image a decoded image with 1 or 3 colour components (plus optional alpha),
     *              or an indexed (palette) image
     * @param mode  the channel layout wanted
     * @return the image, (C, H, W) float32, values 0..255
     * @throws IllegalArgumentException for colour spaces with other than 1, 3 or 4 (CMYK, taken as JPEG's
     *                                  inverted Adobe convention, as Pillow does) components
     */
    public static Image convert(BufferedImage image, ColorMode mode) {
        Objects.requireNonNull(image, "image");
        Objects.requireNonNull(mode, "mode");
        int w = image.getWidth();
        int h = image.getHeight();
        int n = w * h;
        ColorModel cm = image.getColorModel();
        Raster raster = image.getRaster();
        float[][] planes;
        boolean eightBit;
        if (cm instanceof IndexColorModel icm) {
            int[] idx = raster.getSamples(0, 0, w, h, 0, (int[]) null);
            planes = new float[3][n];
            for (int i = 0; i < n; i++) {
                int p = idx[i];
                planes[0][i] = icm.getRed(p);
                planes[1][i] = icm.getGreen(p);
                planes[2][i] = icm.getBlue(p);
            }
            eightBit = true;
        } else {
            ColorSpace cs = cm.getColorSpace();
            int colors = cm.getNumColorComponents();
            if (colors == 4 || cs.getType() == ColorSpace.TYPE_CMYK) {
                planes = cmykToRgb(raster, w, h);
                eightBit = true;
            } else if (colors != 1 && colors != 3) {
                throw new IllegalArgumentException("unsupported colour space with " + colors + " colour components");
            } else {
                planes = new float[colors][];
                eightBit = true;
                for (int b = 0; b < colors; b++) {
                    int bits = raster.getSampleModel().getSampleSize(b);
                    planes[b] = bits == 8 ? byteSamples(raster, b) : null;
                    if (planes[b] != null) continue;
                    planes[b] = raster.getSamples(0, 0, w, h, b, (float[]) null);
                    if (bits == 16) {
                        // Pillow: 16-bit gray opens as mode I and convert() clips to 0..255; 16-bit RGB(A)
                        // and gray+alpha keep the high byte
                        boolean clip = colors == 1 && !cm.hasAlpha();
                        float[] v = planes[b];
                        for (int i = 0; i < v.length; i++) v[i] = clip ? Math.min(v[i], 255f) : (float) (((int) v[i]) >> 8);
                    } else {
                        scaleToByteRange(planes[b], bits);
                        eightBit &= bits <= 8;
                    }
                }
            }
        }
        return toMode(planes, h, w, mode, eightBit);
    }

    /**
     * Pillow's CMYK to RGB ({@code convert("RGB")}'s {@code cmyk2rgb}): {@code R = nk - nk * C / 255}
     * with {@code nk = 255 - K}, in Pillow's rounding ({@code MULDIV255}). The samples are true CMYK:
     * the JDK's reader has already undone Adobe's inversion of CMYK JPEG samples, as Pillow does
     * (its rawmode {@code CMYK;I}).
     */
    private static float[][] cmykToRgb(Raster raster, int w, int h) {
        int n = w * h;
        int[][] raw = new int[4][];
        for (int b = 0; b < 4; b++) raw[b] = raster.getSamples(0, 0, w, h, b, (int[]) null);
        float[][] rgb = new float[3][n];
        for (int i = 0; i < n; i++) {
            int nk = 255 - raw[3][i];
            for (int c = 0; c < 3; c++) {
                int ink = raw[c][i];
                int t = ink * nk + 128;
                int v = nk - (((t >> 8) + t) >> 8);
                rgb[c][i] = Math.max(0, Math.min(255, v));
            }
        }
        return rgb;
    }

    /**
     * Band {@code b} of an 8-bit raster read straight from its byte buffer (what the JDK's decoders
     * give: interleaved or banded bytes), the same values as {@code getSamples}; null for other layouts.
     */
    private static float[] byteSamples(Raster raster, int b) {
        if (!(raster.getDataBuffer() instanceof java.awt.image.DataBufferByte db)
                || !(raster.getSampleModel() instanceof java.awt.image.ComponentSampleModel sm)) {
            return null;
        }
        int w = raster.getWidth();
        int h = raster.getHeight();
        int pixel = sm.getPixelStride();
        int scan = sm.getScanlineStride();
        int bank = sm.getBankIndices()[b];
        byte[] data = db.getData(bank);
        // the raster's (0, 0) in the sample model's coordinates, and the bank's own offset
        int x0 = raster.getMinX() - raster.getSampleModelTranslateX();
        int y0 = raster.getMinY() - raster.getSampleModelTranslateY();
        int first = db.getOffsets()[bank] + y0 * scan + x0 * pixel + sm.getBandOffsets()[b];
        float[] out = new float[w * h];
        for (int y = 0; y < h; y++) {
            int src = first + y * scan;
            int dst = y * w;
            for (int x = 0; x < w; x++) {
                out[dst + x] = data[src + x * pixel] & 0xFF;
            }
        }
        return out;
    }

    private static void scaleToByteRange(float[] v, int bits) {
        if (bits == 8) {
            return;
        }
        if (bits == 16) {
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (v[i] / 257.0);
            }
        } else if (bits < 8) {
            double max = (1 << bits) - 1;
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) Math.rint(v[i] * 255.0 / max);
            }
        } else {
            double div = ((1L << bits) - 1) / 255.0;
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (v[i] / div);
            }
        }
    }

    private static Image toMode(float[][] planes, int h, int w, ColorMode mode, boolean eightBit) {
        int n = h * w;
        float[] out = new float[mode.channels() * n];
        if (mode == ColorMode.RGB) {
            for (int c = 0; c < 3; c++) {
                System.arraycopy(planes[planes.length == 1 ? 0 : c], 0, out, c * n, n);
            }
        } else if (planes.length == 1) {
            System.arraycopy(planes[0], 0, out, 0, n);
        } else {
            float[] r = planes[0];
            float[] g = planes[1];
            float[] b = planes[2];
            for (int i = 0; i < n; i++) {
                out[i] = eightBit ? lumaPillow((int) r[i], (int) g[i], (int) b[i]) : lumaFloat(r[i], g[i], b[i]);
            }
        }
        return new Image(mode.channels(), h, w, out);
    }

    /** Pillow's fixed-point ITU-R 601-2 luma for 8-bit RGB ({@code L24 >> 16} in Convert.c). */
    static int lumaPillow(int r, int g, int b) {
        return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
    }

    static float lumaFloat(float r, float g, float b) {
        return (float) (r * 299.0 / 1000.0 + g * 587.0 / 1000.0 + b * 114.0 / 1000.0);
    }

    /** A 4-band raster the JDK would not colour-convert, as an image that {@link #convert} reads as CMYK. */
    private static BufferedImage rawCmyk(Raster r) {
        if (r.getNumBands() != 4) throw new IllegalArgumentException("unsupported JPEG colour space with " + r.getNumBands() + " components");
        ColorSpace cmyk = new ColorSpace(ColorSpace.TYPE_CMYK, 4) {
            private static final long serialVersionUID = 1L;
            @Override public float[] toRGB(float[] v) { throw new UnsupportedOperationException(); }
            @Override public float[] fromRGB(float[] v) { throw new UnsupportedOperationException(); }
            @Override public float[] toCIEXYZ(float[] v) { throw new UnsupportedOperationException(); }
            @Override public float[] fromCIEXYZ(float[] v) { throw new UnsupportedOperationException(); }
        };
        java.awt.image.ComponentColorModel cm = new java.awt.image.ComponentColorModel(cmyk, false, false, java.awt.Transparency.OPAQUE,
                DataBuffer.TYPE_BYTE);
        // the raw samples are Adobe's inverted CMYK (Pillow assumes that of every 4-component JPEG): undo it
        java.awt.image.WritableRaster w = r.createCompatibleWritableRaster();
        int[] px = r.getPixels(r.getMinX(), r.getMinY(), r.getWidth(), r.getHeight(), (int[]) null);
        for (int i = 0; i < px.length; i++) px[i] = 255 - px[i];
        w.setPixels(0, 0, r.getWidth(), r.getHeight(), px);
        return new BufferedImage(cm, w, false, null);
    }

    private static BufferedImage readBuffered(Path file) {
        if (!Files.exists(file)) {
            throw new IllegalArgumentException("cannot read image file " + file + ": no such file");
        }
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("cannot read image file " + file + ": not a regular file");
        }
        try {
            if (Files.size(file) == 0) {
                throw new IllegalArgumentException("cannot read image file " + file + ": the file is empty");
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read image file " + file + ": " + oneLine(e), e);
        }
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            return decodeStream(in, file.toString());
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read image file " + file + ": " + oneLine(e), e);
        }
    }

    /**
     * Decodes an encoded PNG or JPEG held in memory (e.g. a {@code binaryFile} row's content) and
     * converts it to {@code mode}, as {@link #read(Path, ColorMode)} does a file.
     *
     * @param encoded the file's bytes
     * @param name    what to call it in messages (e.g. its path)
     * @return the image, (C, H, W) float32, values 0..255
     * @throws IllegalArgumentException naming {@code name} if the bytes are empty or cannot be decoded
     */
    public static Image decode(byte[] encoded, String name, ColorMode mode) {
        Objects.requireNonNull(encoded, "encoded");
        Objects.requireNonNull(mode, "mode");
        if (encoded.length == 0) throw new IllegalArgumentException("cannot read image file " + name + ": the file is empty");
        BufferedImage bi;
        // in memory: ImageIO.createImageInputStream on a stream would cache it in a temporary file
        try (ImageInputStream in = new javax.imageio.stream.MemoryCacheImageInputStream(new java.io.ByteArrayInputStream(encoded))) {
            bi = decodeStream(in, name);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read image file " + name + ": " + oneLine(e), e);
        }
        try {
            return convert(bi, mode);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("cannot decode image file " + name + ": " + e.getMessage(), e);
        }
    }

    private static BufferedImage decodeStream(ImageInputStream in, String file) {
        String format = "image";
        try {
            if (in == null) {
                throw new IllegalArgumentException("cannot read image file " + file + ": cannot open it");
            }
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new IllegalArgumentException("cannot read image file " + file
                        + ": not a PNG or JPEG image (unrecognised content)");
            }
            ImageReader reader = readers.next();
            format = reader.getFormatName().toUpperCase(java.util.Locale.ROOT);
            List<String> warnings = new ArrayList<>();
            reader.addIIOReadWarningListener((source, warning) -> warnings.add(warning));
            try {
                reader.setInput(in, true, true);
                long pixels = (long) reader.getWidth(0) * reader.getHeight(0);
                if (pixels > MAX_PIXELS) {
                    throw new IllegalArgumentException("cannot read image file " + file + ": " + reader.getWidth(0) + "x" + reader.getHeight(0)
                            + " pixels is over the limit of " + MAX_PIXELS + " (a decompression bomb?)");
                }
                BufferedImage bi;
                try {
                    bi = reader.read(0);
                } catch (javax.imageio.IIOException unsupported) {
                    if (!String.valueOf(unsupported.getMessage()).contains("Unsupported Image Type")) throw unsupported;
                    bi = rawCmyk(reader.readRaster(0, null));  // CMYK JPEG with an embedded ICC profile, or YCCK
                }
                if (!warnings.isEmpty()) {
                    throw new IllegalArgumentException("cannot decode " + format + " file " + file
                            + ": truncated or corrupt (" + oneLine(warnings.get(0)) + ")");
                }
                return bi;
            } finally {
                reader.dispose();
            }
        } catch (IllegalArgumentException e) {
            if (e.getMessage() != null && e.getMessage().contains(file)) {
                throw e;
            }
            throw new IllegalArgumentException("cannot decode " + format + " file " + file + ": " + oneLine(e), e);
        } catch (IOException | RuntimeException e) {
            String msg = oneLine(e);
            if (msg.contains("Unsupported Image Type")) {
                msg = "unsupported JPEG colour space";
            } else {
                msg = "truncated or corrupt (" + msg + ")";
            }
            throw new IllegalArgumentException("cannot decode " + format + " file " + file + ": " + msg, e);
        }
    }

    private static String oneLine(Throwable e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t = e; t != null && sb.length() < 300; t = t.getCause()) {
            if (sb.length() > 0) {
                sb.append(": ");
            }
            sb.append(t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName());
            if (t.getCause() == t) {
                break;
            }
        }
        return oneLine(sb.toString());
    }

    private static String oneLine(String s) {
        return s.replaceAll("\\s+", " ").trim();
    }
}
