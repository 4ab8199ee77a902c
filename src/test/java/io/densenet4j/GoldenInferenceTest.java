package io.densenet4j;

import io.densenet4j.io.StateDict;
import io.densenet4j.io.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Eval-mode logits of every public golden case, within 1e-4 abs + 1e-4 rel of PyTorch. */
class GoldenInferenceTest {

    @ParameterizedTest(name = "{0} from {1}, config {2}")
    @CsvSource({
        "densenet121, .pth, json",
        "bc-28-fmnist, .pth, json",
        "bc-28-fmnist, .safetensors, json",
        "bc-28-fmnist, .safetensors, inferred",
        "odd-k5, .pth, json",
        "odd-k5, .safetensors, json",
        "odd-k5, .pth, inferred",
    })
    void logitsMatchPyTorch(String name, String ext, String configFrom) {
        DenseNetConfig cfg = configFrom.equals("json") ? Golden.config(name) : null;
        StateDict io = Golden.io(name);
        Tensor input = io.require("input");
        Tensor want = io.require("logits");
        try (Predictor p = Predictor.load(Golden.file(name + ext), cfg, new Predictor.Options("cpu", 2))) {
            if (cfg == null) assertEquals(Golden.config(name), p.network().config(), "inferred architecture");
            Tensor got = p.forward(input);
            Golden.assertClose(want.floats(), got.floats(), name);
        }
    }
}
