package io.densenet4j.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StateDictsTest {

    private static Tensor f(long... shape) {
        return Tensor.ofFloats(shape, new float[(int) Tensor.numel(shape)]);
    }

    @Test
    void normalizeStripsDataParallelAndRenamesLegacyDenseLayers() {
        StateDict sd = new StateDict();
        sd.put("module.features.conv0.weight", f(4, 3, 7, 7));
        sd.put("module.features.denseblock1.denselayer1.norm.1.weight", f(4));
        sd.put("module.features.denseblock1.denselayer12.conv.2.weight", f(2, 8, 3, 3));
        sd.put("module.features.denseblock1.denselayer1.norm.2.running_var", f(8));
        sd.put("features.transition1.norm.weight", f(4));          // not a dense layer: unchanged
        sd.put("features.denseblock1.denselayer1.norm.1.num_batches_tracked", Tensor.ofLongs(new long[0], new long[] {1}));
        StateDict n = StateDicts.normalize(sd);
        assertEquals(List.of("features.conv0.weight",
                "features.denseblock1.denselayer1.norm1.weight",
                "features.denseblock1.denselayer12.conv2.weight",
                "features.denseblock1.denselayer1.norm2.running_var",
                "features.transition1.norm.weight",
                "features.denseblock1.denselayer1.norm.1.num_batches_tracked"),   // torchvision's regex leaves it
                new ArrayList<>(n.keys()));
        assertEquals(sd.get("module.features.conv0.weight"), n.get("features.conv0.weight"));
    }

    @Test
    void normalizeRefusesCollisions() {
        StateDict sd = new StateDict();
        sd.put("module.a", f(1));
        sd.put("a", f(1));
        WeightsException e = assertThrows(WeightsException.class, () -> StateDicts.normalize(sd));
        assertTrue(e.getMessage().contains("collide"), e.getMessage());
    }

    @Test
    void checkListsEveryProblemInOneMessage() {
        Map<String, long[]> expected = new LinkedHashMap<>();
        expected.put("conv.weight", new long[] {8, 3, 3, 3});
        expected.put("norm.weight", new long[] {8});
        expected.put("norm.num_batches_tracked", new long[0]);
        expected.put("fc.weight", new long[] {10, 8});
        expected.put("fc.bias", new long[] {10});
        expected.put("extra.optional", new long[] {2});
        StateDict sd = new StateDict();
        sd.put("conv.weight", f(8, 3, 5, 5));                 // wrong shape
        sd.put("fc.weight", f(10, 8));
        sd.put("surprise", f(3));                             // unexpected
        sd.put("optimizer.momentum.fc.weight", f(10, 8));     // checkpoint momentum: ignored
        WeightsMismatchException e = assertThrows(WeightsMismatchException.class,
                () -> StateDicts.check(expected, sd, Set.of("extra.optional")));
        assertEquals("state_dict does not match the model: 2 missing, 1 unexpected, 1 with the wrong shape "
                + "(first: conv.weight (expected [8, 3, 3, 3], got [8, 3, 5, 5]))", e.getMessage());
        assertEquals(java.util.List.of("missing: norm.weight [8]", "missing: fc.bias [10]", "unexpected: surprise [3]",
                "wrong shape: conv.weight (expected [8, 3, 3, 3], got [8, 3, 5, 5])"), e.details());
    }

    @Test
    void checkPassesOnAMatch() {
        StateDict sd = PthReader.read(Fixtures.golden("odd-k5.pth"));
        Map<String, long[]> expected = new LinkedHashMap<>();
        sd.asMap().forEach((k, v) -> expected.put(k, v.shape()));
        StateDict without = new StateDict(sd.asMap());
        without.remove("features.norm0.num_batches_tracked");
        assertDoesNotThrow(() -> StateDicts.check(expected, without, null));
    }

    @Test
    void loadDispatchesOnContentNotExtension(@TempDir Path dir) throws IOException {
        Path st = Files.copy(Fixtures.golden("odd-k5.safetensors"), dir.resolve("really-safetensors.pth"));
        Path zip = Files.copy(Fixtures.golden("odd-k5.pth"), dir.resolve("really-zip.safetensors"));
        Path legacy = Files.copy(Fixtures.resource("odd-k5-legacy.pth"), dir.resolve("legacy.bin"),
                StandardCopyOption.REPLACE_EXISTING);
        StateDict a = StateDicts.load(st), b = StateDicts.load(zip), c = StateDicts.load(legacy);
        assertEquals(WeightsFormat.SAFETENSORS, WeightsFormat.detect(st));
        assertEquals(WeightsFormat.PTH_ZIP, WeightsFormat.detect(zip));
        assertEquals(WeightsFormat.PTH_LEGACY, WeightsFormat.detect(legacy));
        assertEquals(127, a.size());
        assertEquals(new ArrayList<>(a.keys()), new ArrayList<>(b.keys()));
        assertEquals(new ArrayList<>(a.keys()), new ArrayList<>(c.keys()));
        assertArrayEquals(a.require("classifier.weight").floats(), c.require("classifier.weight").floats());
    }

    @Test
    void safetensorsWhoseHeaderLengthStartsLikeAPickleIsSafetensors(@TempDir Path dir) throws IOException {
        String json = "{\"module.w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        byte[] h = (json + " ".repeat(0x180 - json.length())).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 + h.length + 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).putFloat(1.5f);
        Path p = Files.write(dir.resolve("w.bin"), b.array());
        assertEquals((byte) 0x80, Files.readAllBytes(p)[0]);
        assertEquals(WeightsFormat.SAFETENSORS, WeightsFormat.detect(p));
        assertArrayEquals(new float[] {1.5f}, StateDicts.load(p).require("w").floats());
    }

    @Test
    void loadNormalizesAWrappedDataParallelCheckpoint() {
        StateDict sd = StateDicts.load(Fixtures.resource("wrapped-module.pth"));
        StateDict golden = PthReader.read(Fixtures.golden("odd-k5.pth"));
        assertEquals(List.of("features.conv0.weight", "features.norm0.weight", "features.norm0.bias",
                "features.norm0.running_mean", "features.norm0.running_var", "features.norm0.num_batches_tracked",
                "features.denseblock1.denselayer1.norm1.weight", "features.denseblock1.denselayer1.norm1.bias",
                "features.denseblock1.denselayer1.norm1.running_mean", "features.denseblock1.denselayer1.norm1.running_var",
                "features.denseblock1.denselayer1.conv1.weight",
                "features.denseblock1.denselayer1.norm2.weight", "features.denseblock1.denselayer1.norm2.bias",
                "features.denseblock1.denselayer1.norm2.running_mean", "features.denseblock1.denselayer1.norm2.running_var",
                "features.denseblock1.denselayer1.conv2.weight", "classifier.weight", "classifier.bias"),
                new ArrayList<>(sd.keys()));
        for (String k : sd.keys()) {
            Tensor a = sd.require(k), g = golden.require(k);
            if (a.kind() == Tensor.Kind.FLOAT32) assertArrayEquals(g.floats(), a.floats(), k);
            else assertArrayEquals(g.longs(), a.longs(), k);
        }
    }

    @Test
    void loadRefusesUnknownAndEmptyFiles(@TempDir Path dir) throws IOException {
        Path empty = Files.createFile(dir.resolve("e.safetensors"));
        WeightsException e = assertThrows(WeightsException.class, () -> StateDicts.load(empty));
        assertTrue(e.getMessage().contains("empty"), e.getMessage());
        Path txt = Files.writeString(dir.resolve("w.pth"), "{\"not\": \"weights\"}");
        e = assertThrows(WeightsException.class, () -> StateDicts.load(txt));
        assertTrue(e.getMessage().contains("not a .pth or .safetensors file: it starts with bytes 7b 22 6e 6f"), e.getMessage());
        e = assertThrows(WeightsException.class, () -> StateDicts.load(Fixtures.resource("torchscript.pt")));
        assertTrue(e.getMessage().contains("TorchScript"), e.getMessage());
        assertFalse(e.getMessage().isBlank());
    }
}
