package io.densenet4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * What a training run does, in PyTorch's terms.
 *
 * @param epochs      passes over the training set
 * @param batch       images per SGD step (the last, incomplete batch of an epoch is dropped)
 * @param lr          base learning rate
 * @param schedule    how the rate changes over training
 * @param momentum    SGD momentum (torch.optim.SGD, dampening 0)
 * @param nesterov    Nesterov momentum
 * @param weightDecay L2 penalty added to the gradient before momentum (PyTorch's semantics)
 * @param seed        seeds the data order, augmentation and dropout masks; a run is a function of it
 * @param shuffle     reshuffle the training set each epoch
 * @param augment     random crop (zero padding 4) and horizontal flip
 * @param memory      efficient (recompute, Pleiss et al. 2017) or naive (store every intermediate)
 * @param threads     CPU threads, 0 for all cores
 * @param maxSteps    stop after this many steps in all (0: no limit)
 */
public record TrainSettings(int epochs, int batch, double lr, Schedule schedule, double momentum, boolean nesterov,
                            double weightDecay, long seed, boolean shuffle, boolean augment, TrainingEngine.Memory memory,
                            int threads, long maxSteps) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public TrainSettings {
        if (epochs <= 0) throw new IllegalArgumentException("--epochs must be positive, got " + epochs);
        if (batch <= 0) throw new IllegalArgumentException("--batch must be positive, got " + batch);
        if (!(lr > 0) || Double.isInfinite(lr)) throw new IllegalArgumentException("--lr must be positive, got " + lr);
        if (!(momentum >= 0 && momentum < 1)) throw new IllegalArgumentException("--momentum must be in [0, 1), got " + momentum);
        if (nesterov && momentum == 0) throw new IllegalArgumentException("--nesterov needs a momentum > 0");
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) throw new IllegalArgumentException("--weight-decay must be finite and >= 0, got " + weightDecay);
        if (threads < 0 || threads > io.densenet4j.Predictor.MAX_THREADS) {
            throw new IllegalArgumentException("--threads must be from 0 (all cores) to " + io.densenet4j.Predictor.MAX_THREADS + ", got " + threads);
        }
        if (maxSteps < 0) throw new IllegalArgumentException("--steps must be >= 0");
    }

    public String toJson() {
        ObjectNode o = JSON.createObjectNode();
        o.put("epochs", epochs).put("batch", batch).put("lr", lr).put("schedule", schedule.id()).put("momentum", momentum)
                .put("nesterov", nesterov).put("weight_decay", weightDecay).put("seed", seed).put("shuffle", shuffle)
                .put("augment", augment).put("memory", memory.id()).put("threads", threads).put("max_steps", maxSteps);
        return o.toString();
    }

    public static TrainSettings fromJson(String s) {
        try {
            JsonNode o = JSON.readTree(s);
            return new TrainSettings(o.get("epochs").asInt(), o.get("batch").asInt(), o.get("lr").asDouble(),
                    Schedule.parse(o.get("schedule").asText()), o.get("momentum").asDouble(), o.get("nesterov").asBoolean(),
                    o.get("weight_decay").asDouble(), o.get("seed").asLong(), o.get("shuffle").asBoolean(), o.get("augment").asBoolean(),
                    TrainingEngine.Memory.parse(o.get("memory").asText()), o.get("threads").asInt(), o.get("max_steps").asLong());
        } catch (Exception e) {
            throw new IllegalArgumentException("checkpoint holds unreadable training settings: " + e.getMessage());
        }
    }
}
