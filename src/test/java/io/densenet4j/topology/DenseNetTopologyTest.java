package io.densenet4j.topology;

import io.densenet4j.DenseNet;
import io.densenet4j.DenseNetConfig;
import io.densenet4j.DenseNets;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Channel arithmetic, parameter counts and sizes against torchvision's numbers. */
class DenseNetTopologyTest {

    @Test
    void torchvisionParameterCounts() {
        // torchvision.models.densenetXXX(): sum(p.numel() for p in model.parameters())
        assertEquals(7_978_856, new DenseNet(DenseNets.densenet121()).parameterCount());
        assertEquals(28_681_000, new DenseNet(DenseNets.densenet161()).parameterCount());
        assertEquals(14_149_480, new DenseNet(DenseNets.densenet169()).parameterCount());
        assertEquals(20_013_928, new DenseNet(DenseNets.densenet201()).parameterCount());
    }

    @Test
    void depthsAsThePaperCountsThem() {
        assertEquals(121, new DenseNet(DenseNets.densenet121()).depth());
        assertEquals(169, new DenseNet(DenseNets.densenet169()).depth());
        assertEquals(201, new DenseNet(DenseNets.densenet201()).depth());
        // the paper names it 264, but 1 + 2 * (6 + 12 + 64 + 48) + 3 + 1 = 265 weighted layers
        assertEquals(265, new DenseNet(DenseNets.densenet264()).depth());
        assertEquals(100, new DenseNet(DenseNets.densenetBC(100, 12)).depth());
    }

    @Test
    void densenetBCChannels() {
        DenseNet net = new DenseNet(DenseNets.densenetBC(100, 12));
        assertEquals(List.of(16, 16, 16), net.config().blockConfig());
        assertEquals(24, net.blocks().get(0).inChannels());
        assertEquals(24 + 16 * 12, net.blocks().get(0).outChannels());
        assertEquals(108, net.transitions().get(0).outChannels());
        assertEquals(342, net.head().channels());
        // DenseNet-BC (L=100, k=12) has 0.8M parameters (Huang et al., Table 2): 769,162 with 10 classes
        assertEquals(769_162, net.parameterCount());
        assertThrows(IllegalArgumentException.class, () -> DenseNets.densenetBC(101, 12));
    }

    @Test
    void macsOfDenseNet121() {
        // 2.83 GMACs at 224x224, as torchvision's model card reports (2.83 GFLOPS counted as MACs)
        long macs = new DenseNet(DenseNets.densenet121()).macs(224, 224);
        assertTrue(Math.abs(macs / 1e9 - 2.834) < 0.001, "GMACs " + macs / 1e9);
    }

    @Test
    void minimumInputOfDenseNet121Is29() {
        DenseNet net = new DenseNet(DenseNets.densenet121());
        assertEquals(29, net.minimumInputSize());
        net.inferencePlan(29, 29);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> net.inferencePlan(28, 28));
        assertTrue(e.getMessage().contains("28x28") && e.getMessage().contains("minimum input is 29x29"), e.getMessage());
    }

    @Test
    void oddCompressionFloors() {
        DenseNetConfig c = new DenseNetConfig(5, List.of(2, 3, 1, 2), 7, 3, 0.7, DenseNetConfig.Stem.IMAGENET, 2, 6, 0);
        DenseNet net = new DenseNet(c);
        assertEquals(11, net.transitions().get(0).outChannels());   // floor(0.7 * 17)
        assertEquals(18, net.transitions().get(1).outChannels());   // floor(0.7 * 26)
        assertEquals(16, net.transitions().get(2).outChannels());   // floor(0.7 * 23)
        assertEquals(9_783, net.parameterCount());                  // golden odd-k5.json
    }

    @Test
    void planWritesEveryLayerIntoItsOwnSlice() {
        DenseNet net = new DenseNet(DenseNets.densenetBC(16, 4, 1, 10));
        String plan = net.inferencePlan(8, 8).text();
        assertTrue(plan.contains("dst=block1:8:4 "), plan);   // layer 1 of block 1 writes channels [8, 12)
        assertTrue(plan.contains("dst=block1:12:4 "), plan);  // layer 2: [12, 16)
        assertTrue(plan.contains("pool=avg2"), plan);
    }

    @Test
    void badConfigsFailWithASentence() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new DenseNetConfig(0, List.of(1), 8, 4, 0.5, DenseNetConfig.Stem.CIFAR, 3, 10, 0));
        assertTrue(e.getMessage().contains("growth_rate"));
        assertThrows(IllegalArgumentException.class, () -> new DenseNetConfig(4, List.of(), 8, 4, 0.5, DenseNetConfig.Stem.CIFAR, 3, 10, 0));
        assertThrows(IllegalArgumentException.class, () -> new DenseNetConfig(4, List.of(1), 8, 4, 1.5, DenseNetConfig.Stem.CIFAR, 3, 10, 0));
        assertThrows(IllegalArgumentException.class, () -> DenseNets.byName("resnet50"));
    }
}
