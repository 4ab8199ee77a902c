package io.densenet4j.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** PthReader on the fixtures of make_fixtures.py: both layouts, views, dtypes, refusals, broken files. */
class PthReaderTest {

    @Test
    void legacyLayoutEqualsZipLayout() {
        StateDict legacy = PthReader.read(Fixtures.resource("odd-k5-legacy.pth"));
        StateDict zip = PthReader.read(Fixtures.golden("odd-k5.pth"));
        assertEquals(new ArrayList<>(zip.keys()), new ArrayList<>(legacy.keys()));
        for (Map.Entry<String, Tensor> e : zip.asMap().entrySet()) {
            Tensor a = e.getValue(), b = legacy.require(e.getKey());
            assertArrayEquals(a.shape(), b.shape(), e.getKey());
            if (a.kind() == Tensor.Kind.FLOAT32) assertArrayEquals(a.floats(), b.floats(), e.getKey());
            else assertArrayEquals(a.longs(), b.longs(), e.getKey());
        }
        assertArrayEquals(new long[] {7}, legacy.require("features.norm5.num_batches_tracked").longs());
    }

    private static float base(int i, int j) {
        return (i * 6 + j) * 0.5f - 3.0f;
    }

    @ParameterizedTest
    @ValueSource(strings = {"views.pth", "views-legacy.pth"})
    void viewsAndDtypes(String name) {
        StateDict sd = PthReader.read(Fixtures.resource(name));
        assertEquals(List.of("transposed", "sliced", "base", "row", "empty", "scalar", "f16", "bf16", "f64",
                "i64", "i32", "i16", "i8", "u8", "bool"), new ArrayList<>(sd.keys()), "tensors in order, the int ignored");

        Tensor t = sd.require("transposed");                  // base.t(): stride (1, 6)
        assertArrayEquals(new long[] {6, 4}, t.shape());
        for (int a = 0; a < 6; a++) for (int b = 0; b < 4; b++) assertEquals(base(b, a), t.floats()[a * 4 + b]);

        Tensor s = sd.require("sliced");                      // base[1:, ::2]: offset 6, stride (6, 2)
        assertArrayEquals(new long[] {3, 3}, s.shape());
        for (int a = 0; a < 3; a++) for (int b = 0; b < 3; b++) assertEquals(base(1 + a, 2 * b), s.floats()[a * 3 + b]);

        float[] whole = sd.require("base").floats();
        for (int i = 0; i < 24; i++) assertEquals(base(i / 6, i % 6), whole[i]);
        assertArrayEquals(new float[] {base(2, 0), base(2, 1), base(2, 2), base(2, 3), base(2, 4), base(2, 5)},
                sd.require("row").floats());

        assertArrayEquals(new long[] {0, 3}, sd.require("empty").shape());
        assertEquals(0, sd.require("empty").floats().length);
        assertArrayEquals(new long[0], sd.require("scalar").shape());
        assertArrayEquals(new float[] {2.5f}, sd.require("scalar").floats());

        assertArrayEquals(new float[] {1f, -2.5f, 65504f, 0.0009765625f}, sd.require("f16").floats());
        assertArrayEquals(new float[] {1f, -2.5f, 3.00405527047391e38f, 0.0078125f}, sd.require("bf16").floats());
        assertArrayEquals(new float[] {1.5f, 1e30f, -1e-3f, 7f}, sd.require("f64").floats());   // transposed f64

        assertArrayEquals(new long[] {-(1L << 40), 7}, sd.require("i64").longs());
        assertArrayEquals(new long[] {-5, Integer.MAX_VALUE}, sd.require("i32").longs());
        assertArrayEquals(new long[] {-300, 300}, sd.require("i16").longs());
        assertArrayEquals(new long[] {-128, 127}, sd.require("i8").longs());
        assertArrayEquals(new long[] {0, 255}, sd.require("u8").longs());
        assertArrayEquals(new long[] {1, 0, 1}, sd.require("bool").longs());
        assertEquals(Tensor.Kind.INT64, sd.require("bool").kind());
    }

    @Test
    void wrappedStateDictIsUnwrappedKeysAsStored() {
        StateDict sd = PthReader.read(Fixtures.resource("wrapped-module.pth"));
        assertTrue(sd.contains("module.features.denseblock1.denselayer1.norm.1.weight"), sd.keys().toString());
        assertTrue(sd.contains("module.classifier.bias"));
        assertFalse(sd.contains("epoch"));
    }

    @Test
    void torchvision2017StyleLegacyFileLoadsAndNormalizes() {
        // legacy layout, torch._utils._rebuild_tensor (v1), OrderedDict([[k, v], ...]), 'norm.1' names
        StateDict raw = PthReader.read(Fixtures.resource("torchvision-2017.pth"));
        assertTrue(raw.contains("features.denseblock1.denselayer2.conv.2.weight"), raw.keys().toString());
        StateDict sd = StateDicts.load(Fixtures.resource("torchvision-2017.pth"));
        StateDict golden = PthReader.read(Fixtures.golden("odd-k5.pth"));
        assertEquals(List.of("features.denseblock1.denselayer2.norm1.weight", "features.denseblock1.denselayer2.norm1.bias",
                "features.denseblock1.denselayer2.norm1.running_mean", "features.denseblock1.denselayer2.norm1.running_var",
                "features.denseblock1.denselayer2.conv1.weight",
                "features.denseblock1.denselayer2.norm2.weight", "features.denseblock1.denselayer2.norm2.bias",
                "features.denseblock1.denselayer2.norm2.running_mean", "features.denseblock1.denselayer2.norm2.running_var",
                "features.denseblock1.denselayer2.conv2.weight",
                "features.norm5.weight", "features.norm5.bias", "features.norm5.running_mean", "features.norm5.running_var"),
                new ArrayList<>(sd.keys()));
        for (String k : sd.keys()) {
            assertArrayEquals(golden.require(k).shape(), sd.require(k).shape(), k);
            assertArrayEquals(golden.require(k).floats(), sd.require(k).floats(), k);
        }
    }

    @Test
    void archiveFolderNamedCodeIsNotTorchScript(@TempDir Path dir) throws IOException {
        // torch.save(sd, "code.pth") puts everything under "code/": that is not TorchScript's code/ folder
        Path p = dir.resolve("code.pth");
        try (var in = new java.util.zip.ZipFile(Fixtures.resource("views.pth").toFile());
             var out = new java.util.zip.ZipOutputStream(Files.newOutputStream(p))) {
            for (var en = in.entries(); en.hasMoreElements(); ) {
                var e = en.nextElement();
                out.putNextEntry(new java.util.zip.ZipEntry("code/" + e.getName().substring(e.getName().indexOf('/') + 1)));
                out.write(in.getInputStream(e).readAllBytes());
                out.closeEntry();
            }
        }
        assertEquals(15, PthReader.read(p).size());
    }

    @Test
    void torchScriptIsRefused() {
        WeightsException e = assertThrows(WeightsException.class, () -> PthReader.read(Fixtures.resource("torchscript.pt")));
        assertTrue(e.getMessage().contains("TorchScript archive"), e.getMessage());
        assertTrue(e.getMessage().contains("state_dict"), e.getMessage());
        assertTrue(e.getMessage().contains("torchscript.pt"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"evil-os-system.pth:os.system", "evil-eval-proto4.pth:builtins.eval",
            "evil-legacy.pth:os.system", "evil-getattr.pth:__builtin__.getattr"})
    void maliciousPicklesAreRefusedAndNeverRun(String spec) throws IOException {
        String[] parts = spec.split(":");
        Files.deleteIfExists(Fixtures.EXPLOIT_MARKER);
        WeightsException e = assertThrows(WeightsException.class, () -> PthReader.read(Fixtures.resource(parts[0])));
        assertTrue(e.getMessage().contains("refuses to unpickle global '" + parts[1] + "'"), e.getMessage());
        assertTrue(e.getMessage().contains(parts[0]), e.getMessage());
        assertFalse(Files.exists(Fixtures.EXPLOIT_MARKER), "the pickle's payload ran");
        // StateDicts.load goes the same way
        assertThrows(WeightsException.class, () -> StateDicts.load(Fixtures.resource(parts[0])));
        assertFalse(Files.exists(Fixtures.EXPLOIT_MARKER), "the pickle's payload ran");
    }

    @Test
    void pyrolitesBuiltInGlobalsAreRefusedToo(@TempDir Path dir) throws IOException {
        // Pyrolite would build datetime / ClassDict objects for these; a state_dict never needs them
        for (String global : new String[] {"datetime\ndatetime", "copy_reg\n_reconstructor", "torchvision.models\nDenseNet"}) {
            byte[] pkl = ("\u0080\u0002c" + global + "\n)R.").getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
            Path p = dir.resolve("g.pth");
            writeZip(p, "g/data.pkl", pkl);
            WeightsException e = assertThrows(WeightsException.class, () -> PthReader.read(p));
            assertTrue(e.getMessage().contains("refuses to unpickle global '" + global.replace('\n', '.') + "'"), e.getMessage());
        }
    }

    static void writeZip(Path p, String entry, byte[] data) throws IOException {
        try (var zip = new java.util.zip.ZipOutputStream(Files.newOutputStream(p))) {
            zip.putNextEntry(new java.util.zip.ZipEntry(entry));
            zip.write(data);
            zip.closeEntry();
        }
    }

    @Test
    void emptyFileIsRefused(@TempDir Path dir) throws IOException {
        Path p = Files.createFile(dir.resolve("empty.pth"));
        WeightsException e = assertThrows(WeightsException.class, () -> PthReader.read(p));
        assertTrue(e.getMessage().contains("empty"), e.getMessage());
        assertTrue(e.getMessage().startsWith(p.toString()), e.getMessage());
    }

    @Test
    void missingFileIsRefused(@TempDir Path dir) {
        WeightsException e = assertThrows(WeightsException.class, () -> PthReader.read(dir.resolve("nope.pth")));
        assertTrue(e.getMessage().contains("no such file"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"views.pth", "views-legacy.pth", "odd-k5-legacy.pth", "wrapped-module.pth"})
    void everyTruncationIsAWeightsException(String name, @TempDir Path dir) throws IOException {
        byte[] all = Files.readAllBytes(Fixtures.resource(name));
        Path p = dir.resolve(name);
        int step = Math.max(1, all.length / 150);
        for (int n = 1; n < all.length; n += step) {
            Files.write(p, java.util.Arrays.copyOf(all, n));
            int cut = n;
            WeightsException e = assertThrows(WeightsException.class, () -> PthReader.read(p), "cut at " + cut);
            assertTrue(e.getMessage().startsWith(p.toString() + ": "), e.getMessage());
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
        }
    }

    @Test
    void truncatedLegacyStorageIsNamed(@TempDir Path dir) throws IOException {
        byte[] all = Files.readAllBytes(Fixtures.resource("odd-k5-legacy.pth"));
        Path p = dir.resolve("cut.pth");
        Files.write(p, java.util.Arrays.copyOf(all, all.length - 10));
        WeightsException e = assertThrows(WeightsException.class, () -> PthReader.read(p));
        assertTrue(e.getMessage().matches(".*truncated: storage '\\d+' needs \\d+ bytes at offset \\d+ but the file ends at \\d+"),
                e.getMessage());
    }

    @Test
    void truncatedZipIsNamed(@TempDir Path dir) throws IOException {
        byte[] all = Files.readAllBytes(Fixtures.resource("views.pth"));
        Path p = dir.resolve("cut.pth");
        Files.write(p, java.util.Arrays.copyOf(all, all.length / 2));
        WeightsException e = assertThrows(WeightsException.class, () -> PthReader.read(p));
        assertTrue(e.getMessage().contains("truncated or corrupt zip archive"), e.getMessage());
    }

    @Test
    void safetensorsAndGarbageAreNotPth(@TempDir Path dir) throws IOException {
        Path st = dir.resolve("w.pth");
        SafeTensors.write(st, new StateDict(Map.of("a", Tensor.ofFloats(new long[] {1}, new float[] {1f}))), null);
        WeightsException e = assertThrows(WeightsException.class, () -> PthReader.read(st));
        assertTrue(e.getMessage().contains("is a safetensors file"), e.getMessage());

        Path junk = dir.resolve("junk.pth");
        Files.writeString(junk, "hello, world");
        e = assertThrows(WeightsException.class, () -> PthReader.read(junk));
        assertTrue(e.getMessage().contains("not a .pth or .safetensors file"), e.getMessage());
    }

    @Test
    void aPlainPickleIsNotATorchFile(@TempDir Path dir) throws IOException {
        Path p = dir.resolve("plain.pkl");
        Files.write(p, new byte[] {(byte) 0x80, 2, 'K', 5, '.'});     // pickle.dumps(5, protocol=2)
        WeightsException e = assertThrows(WeightsException.class, () -> PthReader.read(p));
        assertTrue(e.getMessage().contains("not a PyTorch file"), e.getMessage());
    }
}
