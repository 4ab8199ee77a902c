package io.densenet4j.io;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The shared golden state_dicts, read from .pth (zip) and .safetensors. */
class GoldenWeightsTest {

    @Test
    void oddK5PthAndSafetensorsHoldTheSameTensors() {
        StateDict pth = PthReader.read(Fixtures.golden("odd-k5.pth"));
        SafeTensorsFile st = SafeTensors.read(Fixtures.golden("odd-k5.safetensors"));
        assertEquals(127, pth.size());
        assertEquals(new ArrayList<>(pth.keys()), new ArrayList<>(st.tensors().keys()), "same keys in the same order");
        assertEquals("features.conv0.weight", pth.keys().iterator().next());
        for (Map.Entry<String, Tensor> e : pth.asMap().entrySet()) {
            Tensor a = e.getValue(), b = st.tensors().require(e.getKey());
            assertArrayEquals(a.shape(), b.shape(), e.getKey());
            assertEquals(a.kind(), b.kind(), e.getKey());
            if (a.kind() == Tensor.Kind.FLOAT32) assertArrayEquals(a.floats(), b.floats(), e.getKey());
            else assertArrayEquals(a.longs(), b.longs(), e.getKey());
        }
    }

    @Test
    void oddK5SpecificValues() {
        StateDict sd = PthReader.read(Fixtures.golden("odd-k5.pth"));
        Tensor conv0 = sd.require("features.conv0.weight");
        assertArrayEquals(new long[] {7, 2, 7, 7}, conv0.shape());
        assertEquals(0.26319000124931335f, conv0.floats()[0]);
        assertEquals(0.07412674278020859f, conv0.floats()[1]);
        assertEquals(0.08121494203805923f, conv0.floats()[conv0.floats().length - 1]);
        Tensor gamma = sd.require("features.norm0.weight");
        assertEquals(-0.7f, gamma.floats()[0]);       // the golden cases pin channel 0 to -0.7, channel 1 to 0
        assertEquals(0.0f, gamma.floats()[1]);
        Tensor conv2 = sd.require("features.denseblock2.denselayer3.conv2.weight");
        assertArrayEquals(new long[] {5, 15, 3, 3}, conv2.shape());
        assertEquals(-0.03554330766201019f, conv2.floats()[conv2.floats().length - 1]);
        assertEquals(-0.006559010595083237f, sd.require("classifier.bias").floats()[0]);

        Tensor nbt = sd.require("features.norm0.num_batches_tracked");
        assertEquals(Tensor.Kind.INT64, nbt.kind());
        assertArrayEquals(new long[0], nbt.shape());
        assertArrayEquals(new long[] {7}, nbt.longs());
    }

    @Test
    void densenet121HasTorchvisionsParameterCount() {
        StateDict sd = PthReader.read(Fixtures.golden("densenet121.pth"));
        assertEquals(727, sd.size());
        long params = 0;
        for (Map.Entry<String, Tensor> e : sd.asMap().entrySet()) {
            String k = e.getKey();
            if (k.endsWith(".weight") || k.endsWith(".bias")) {
                assertEquals(Tensor.Kind.FLOAT32, e.getValue().kind(), k);
                params += e.getValue().numel();
            }
        }
        assertEquals(7_978_856L, params);
        assertEquals(-0.1356976181268692f, sd.require("features.conv0.weight").floats()[0]);
        assertArrayEquals(new long[] {1000, 1024}, sd.require("classifier.weight").shape());
    }
}
