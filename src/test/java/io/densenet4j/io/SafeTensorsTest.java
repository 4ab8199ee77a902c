package io.densenet4j.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafeTensorsTest {

    private static StateDict sample() {
        StateDict sd = new StateDict();
        sd.put("features.conv0.weight", Tensor.ofFloats(new long[] {2, 1, 2, 2},
                new float[] {1f, -2f, 0.5f, Float.MIN_VALUE, -0f, 3.25f, Float.MAX_VALUE, -1e-30f}));
        sd.put("features.norm0.num_batches_tracked", Tensor.ofLongs(new long[0], new long[] {7}));
        sd.put("labels", Tensor.ofLongs(new long[] {3}, new long[] {Long.MIN_VALUE, 0, Long.MAX_VALUE}));
        sd.put("empty", Tensor.ofFloats(new long[] {0, 4}, new float[0]));
        sd.put("a.bias", Tensor.ofFloats(new long[] {3}, new float[] {Float.NaN, Float.POSITIVE_INFINITY, 1f}));
        return sd;
    }

    @Test
    void roundTripKeepsOrderValuesAndMetadataAtomically(@TempDir Path dir) throws IOException {
        Path p = dir.resolve("ckpt.safetensors");
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("config", "{\"growth_rate\": 5}");
        meta.put("epoch", "3");
        meta.put("unicode", "ünïcødé ✓");
        StateDict sd = sample();
        SafeTensors.write(p, sd, meta);

        byte[] raw = Files.readAllBytes(p);
        long headerLen = ByteBuffer.wrap(raw, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, headerLen % 8, "header padded to a multiple of 8");
        String header = new String(raw, 8, (int) headerLen, StandardCharsets.UTF_8);
        assertTrue(header.startsWith("{\"__metadata__\":{\"config\""), header);
        assertTrue(header.stripTrailing().endsWith("}"), header);
        assertTrue(header.substring(header.stripTrailing().length()).isBlank(), "padded with spaces: " + header);
        assertTrue(header.contains("\"features.norm0.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[32,40]}"),
                header);
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(p), s.toList(), "no temporary file left");
        }

        SafeTensorsFile back = SafeTensors.read(p);
        assertEquals(meta, back.metadata());
        assertEquals(new ArrayList<>(sd.keys()), new ArrayList<>(back.tensors().keys()));
        for (Map.Entry<String, Tensor> e : sd.asMap().entrySet()) {
            Tensor a = e.getValue(), b = back.tensors().require(e.getKey());
            assertArrayEquals(a.shape(), b.shape(), e.getKey());
            assertEquals(a.kind(), b.kind(), e.getKey());
            if (a.kind() == Tensor.Kind.FLOAT32) assertArrayEquals(a.floats(), b.floats(), e.getKey());
            else assertArrayEquals(a.longs(), b.longs(), e.getKey());
        }

        // overwrite: replaced atomically, still no temporary file, no metadata this time
        StateDict small = new StateDict();
        small.put("x", Tensor.ofFloats(new long[] {1}, new float[] {42f}));
        SafeTensors.write(p, small, null);
        SafeTensorsFile again = SafeTensors.read(p);
        assertEquals(Map.of(), again.metadata());
        assertArrayEquals(new float[] {42f}, again.tensors().require("x").floats());
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(1, s.count());
        }
    }

    @Test
    void writeIntoMissingFolderFailsCleanly(@TempDir Path dir) {
        Path p = dir.resolve("no/such/folder/x.safetensors");
        WeightsException e = assertThrows(WeightsException.class, () -> SafeTensors.write(p, sample(), Map.of()));
        assertEquals(p + ": folder " + p.getParent() + " does not exist", e.getMessage());
    }

    @Test
    void tensorNamedMetadataIsRefused(@TempDir Path dir) {
        StateDict sd = new StateDict();
        sd.put("__metadata__", Tensor.ofFloats(new long[] {1}, new float[] {1}));
        assertThrows(WeightsException.class, () -> SafeTensors.write(dir.resolve("m.safetensors"), sd, null));
    }

    /** A safetensors file made by hand: header JSON (unpadded) plus data. */
    private static Path handMade(Path p, String json, byte[] data) throws IOException {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        return Files.write(p, b.array());
    }

    @Test
    void readsEveryDtype(@TempDir Path dir) throws IOException {
        ByteBuffer d = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        d.putShort((short) 0x3c00).putShort((short) 0xc100);         // F16 1, -2.5   @0..4
        d.putShort((short) 0x3f80).putShort((short) 0xc020);         // BF16 1, -2.5  @4..8
        d.putDouble(1e-3);                                           // F64           @8..16
        d.putInt(-5).putInt(Integer.MAX_VALUE);                      // I32           @16..24
        d.putShort((short) -300);                                    // I16           @24..26
        d.put((byte) -128).put((byte) 200).put((byte) 2).put((byte) 0);  // I8 -128, U8 200, BOOL 1 0  @26..30
        String json = "{\"f16\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                + "\"bf16\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[4,8]},"
                + "\"f64\":{\"dtype\":\"F64\",\"shape\":[1,1],\"data_offsets\":[8,16]},"
                + "\"i32\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[16,24]},"
                + "\"i16\":{\"dtype\":\"I16\",\"shape\":[],\"data_offsets\":[24,26]},"
                + "\"i8\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[26,27]},"
                + "\"u8\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[27,28]},"
                + "\"bool\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[28,30]},"
                + "\"__metadata__\":{\"format\":\"pt\"}}";
        Path p = handMade(dir.resolve("all.safetensors"), json, Arrays.copyOf(d.array(), 30));
        SafeTensorsFile f = SafeTensors.read(p);
        StateDict sd = f.tensors();
        assertEquals(Map.of("format", "pt"), f.metadata());
        assertEquals(List.of("f16", "bf16", "f64", "i32", "i16", "i8", "u8", "bool"), new ArrayList<>(sd.keys()));
        assertArrayEquals(new float[] {1f, -2.5f}, sd.require("f16").floats());
        assertArrayEquals(new float[] {1f, -2.5f}, sd.require("bf16").floats());
        assertArrayEquals(new float[] {1e-3f}, sd.require("f64").floats());
        assertArrayEquals(new long[] {1, 1}, sd.require("f64").shape());
        assertArrayEquals(new long[] {-5, Integer.MAX_VALUE}, sd.require("i32").longs());
        assertArrayEquals(new long[] {-300}, sd.require("i16").longs());
        assertArrayEquals(new long[] {-128}, sd.require("i8").longs());
        assertArrayEquals(new long[] {200}, sd.require("u8").longs());
        assertArrayEquals(new long[] {1, 0}, sd.require("bool").longs());
    }

    @Test
    void halfPrecisionEdgeCases() {
        assertEquals(65504f, ElementType.halfToFloat((short) 0x7bff));
        assertEquals(0x1p-24f, ElementType.halfToFloat((short) 0x0001));      // smallest subnormal
        assertEquals(Float.NEGATIVE_INFINITY, ElementType.halfToFloat((short) 0xfc00));
        assertTrue(Float.isNaN(ElementType.halfToFloat((short) 0x7e00)));
        assertEquals(-0f, ElementType.halfToFloat((short) 0x8000));
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(ElementType.halfToFloat((short) 0x8000)));
    }

    private static WeightsException refused(Path p) {
        WeightsException e = assertThrows(WeightsException.class, () -> SafeTensors.read(p));
        assertTrue(e.getMessage().startsWith(p + ": "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e;
    }

    @Test
    void emptyAndTruncatedFiles(@TempDir Path dir) throws IOException {
        Path empty = Files.createFile(dir.resolve("empty.safetensors"));
        assertTrue(refused(empty).getMessage().contains("empty"));

        Path good = dir.resolve("good.safetensors");
        SafeTensors.write(good, sample(), Map.of("k", "v"));
        byte[] all = Files.readAllBytes(good);
        Path cut = dir.resolve("cut.safetensors");
        for (int n = 1; n < all.length; n++) {
            Files.write(cut, Arrays.copyOf(all, n));
            String m = refused(cut).getMessage();
            assertTrue(m.contains("truncated") || m.contains("does not fit"), m);
        }
        Files.write(cut, Arrays.copyOf(all, 5));
        assertTrue(refused(cut).getMessage().contains("shorter than the 8-byte header length"));
        Files.write(cut, Arrays.copyOf(all, all.length - 1));
        assertTrue(refused(cut).getMessage().contains("outside the data section"), refused(cut).getMessage());
    }

    @Test
    void inconsistentHeaders(@TempDir Path dir) throws IOException {
        Path p = dir.resolve("bad.safetensors");
        byte[] data = new byte[16];
        handMade(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", data);
        assertTrue(refused(p).getMessage().contains("tensor 'a': shape [3] of F32 needs 12 bytes but data_offsets [0, 16] span 16"));
        handMade(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,32]}}", data);
        assertTrue(refused(p).getMessage().contains("outside the data section"));
        handMade(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", data);
        assertTrue(refused(p).getMessage().contains("outside the data section"));
        handMade(p, "{\"a\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}}", data);
        assertTrue(refused(p).getMessage().contains("unsupported dtype C64"));
        handMade(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", data);
        assertTrue(refused(p).getMessage().contains("not a non-negative integer"));
        handMade(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", data);
        assertTrue(refused(p).getMessage().contains("data_offsets is missing"));
        handMade(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{}}", data);
        assertTrue(refused(p).getMessage().contains("not valid JSON"));
        handMade(p, "[1, 2, 3]", data);
        assertTrue(refused(p).getMessage().contains("not a JSON object"));
        handMade(p, "{\"__metadata__\":{\"epoch\":3}}", data);
        assertTrue(refused(p).getMessage().contains("__metadata__ value of 'epoch' is not a string"));
        handMade(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,4]}}", data);
        assertTrue(refused(p).getMessage().contains("too large"), refused(p).getMessage());

        ByteBuffer huge = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40).putLong(0);
        Files.write(p, huge.array());
        assertTrue(refused(p).getMessage().contains("header length 1099511627776 does not fit a file of 16 bytes"));
    }
}
