package io.densenet4j;

import io.densenet4j.topology.DenseBlock;
import io.densenet4j.topology.Head;
import io.densenet4j.topology.ParamShapes;
import io.densenet4j.topology.Plan;
import io.densenet4j.topology.Shape;
import io.densenet4j.topology.Stem;
import io.densenet4j.topology.Transition;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * A DenseNet's topology (Huang et al., "Densely Connected Convolutional Networks", CVPR 2017),
 * built once from a {@link DenseNetConfig}: {@link Stem}, then {@link DenseBlock}s separated by
 * {@link Transition}s, then the {@link Head}. Channel arithmetic is done here, once, as
 * torchvision's {@code DenseNet.__init__} does it; the state_dict key names are torchvision's.
 * Immutable and thread-safe. It holds no weights: see {@link Predictor}.
 */
public final class DenseNet {
    private final DenseNetConfig config;
    private final Stem stem;
    private final List<DenseBlock> blocks;
    private final List<Transition> transitions;
    private final Head head;

    public DenseNet(DenseNetConfig config) {
        this.config = config;
        this.stem = new Stem(config.stem(), config.inChannels(), config.numInitFeatures());
        List<DenseBlock> b = new ArrayList<>();
        List<Transition> t = new ArrayList<>();
        int c = config.numInitFeatures();
        List<Integer> cfg = config.blockConfig();
        for (int i = 0; i < cfg.size(); i++) {
            DenseBlock block = new DenseBlock(i + 1, cfg.get(i), c, config.growthRate(), config.bnSize());
            b.add(block);
            c = block.outChannels();
            if (i != cfg.size() - 1) {
                int out = config.compressed(c);
                t.add(new Transition(i + 1, c, out));
                c = out;
            }
        }
        this.blocks = Collections.unmodifiableList(b);
        this.transitions = Collections.unmodifiableList(t);
        this.head = new Head(c, config.numClasses());
    }

    public DenseNetConfig config() { return config; }
    public Stem stem() { return stem; }
    public List<DenseBlock> blocks() { return blocks; }
    public List<Transition> transitions() { return transitions; }
    public Head head() { return head; }

    /** Depth as the paper counts it: convolutional and fully connected layers (e.g. 121). */
    public int depth() {
        int layers = 0;
        for (DenseBlock b : blocks) layers += 2 * b.layers().size();
        return 1 + layers + transitions.size() + 1;
    }

    /** Every state_dict entry (torchvision key, PyTorch shape) in torchvision's order. */
    public ParamShapes stateDictShapes() {
        ParamShapes p = new ParamShapes();
        stem.params(p);
        for (int i = 0; i < blocks.size(); i++) {
            blocks.get(i).params(p);
            if (i < transitions.size()) transitions.get(i).params(p);
        }
        head.params(p);
        return p;
    }

    /**
     * Checks that {@code weights} (torchvision state_dict names) fit this network, key by key and
     * shape by shape ({@code num_batches_tracked} may be absent).
     *
     * @param weights a state_dict
     * @throws io.densenet4j.io.WeightsMismatchException one line: the network, what the weights
     *         look like (inferred from their shapes, where they look like a DenseNet), the counts
     *         and the first mismatching key; {@code details()} lists every key
     */
    public void checkWeights(io.densenet4j.io.StateDict weights) {
        try {
            io.densenet4j.io.StateDicts.check(stateDictShapes().all(), weights, java.util.Set.of());
        } catch (io.densenet4j.io.WeightsMismatchException e) {
            String looks;
            try {
                looks = "; they look like " + DenseNets.describe(ArchitectureInference.infer(weights));
            } catch (RuntimeException notDenseNet) {
                looks = "; they do not look like a torchvision DenseNet";
            }
            String what = e.getMessage().replaceFirst("^state_dict does not match the model: ", "");
            throw new io.densenet4j.io.WeightsMismatchException("weights do not fit " + DenseNets.describe(config) + looks + ": " + what,
                    e.details());
        }
    }

    /** Number of learnable parameters (weights and biases; torchvision's {@code sum(p.numel())}). */
    public long parameterCount() {
        ParamShapes p = stateDictShapes();
        long n = 0;
        for (Map.Entry<String, long[]> e : p.all().entrySet()) {
            if (!p.isLearnable(e.getKey())) continue;
            long m = 1;
            for (long d : e.getValue()) m *= d;
            n += m;
        }
        return n;
    }

    /** The feature-map sizes at the stem output and at each block: [stem, block1, ..., blockN]. */
    private List<Shape> spatialSizes(int height, int width) {
        List<Shape> s = new ArrayList<>();
        Shape cur = stem.outputShape(new Shape(config.inChannels(), height, width));
        s.add(cur);
        for (int i = 0; i < blocks.size(); i++) {
            if (i > 0) cur = Transition.pooled(cur, transitions.get(i - 1).outChannels());
            s.add(new Shape(blocks.get(i).outChannels(), cur.height(), cur.width()));
        }
        return s;
    }

    /** Largest input side considered when searching for the minimum. */
    static final int MAX_SIDE = 1 << 20;

    /**
     * Smallest square input side this network accepts (every block at least 1x1); sizes only grow
     * with the input, so a binary search finds it.
     *
     * @throws IllegalArgumentException if not even {@value #MAX_SIDE} pixels fit (absurdly many blocks)
     */
    public int minimumInputSize() {
        if (!fits(MAX_SIDE, MAX_SIDE)) {
            throw new IllegalArgumentException("no input up to " + MAX_SIDE + "x" + MAX_SIDE + " pixels fits " + blocks.size() + " dense blocks");
        }
        int lo = 1, hi = MAX_SIDE;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (fits(mid, mid)) hi = mid;
            else lo = mid + 1;
        }
        return lo;
    }

    private boolean fits(int h, int w) {
        for (Shape s : spatialSizes(h, w)) if (s.height() < 1 || s.width() < 1) return false;
        return true;
    }

    /**
     * Throws {@link IllegalArgumentException} naming the minimum when an input of
     * {@code height x width} pixels would shrink a dense block below 1x1.
     */
    public void checkInputSize(int height, int width) {
        if (height <= 0 || width <= 0 || !fits(height, width)) {
            int min = minimumInputSize();
            throw new IllegalArgumentException("input " + height + "x" + width + " is too small for this network: every dense block needs at least 1x1 pixels, so the minimum input is "
                    + min + "x" + min);
        }
    }

    /** Multiply-accumulates per image at {@code height x width}, as PyTorch counts them (transition convs at full resolution). */
    public long macs(int height, int width) {
        checkInputSize(height, width);
        List<Shape> s = spatialSizes(height, width);
        long m = stem.macs(new Shape(config.inChannels(), height, width));
        for (int i = 0; i < blocks.size(); i++) {
            m += blocks.get(i).macs(s.get(i + 1).pixels());
            if (i < transitions.size()) m += transitions.get(i).macs(s.get(i + 1).pixels());
        }
        return m + head.macs();
    }

    /**
     * Compiles the inference plan for inputs of {@code (N, inChannels, height, width)}: one
     * shared NHWC buffer per dense block, one bottleneck scratch per block, fused
     * BN-ReLU-Conv ops (see {@code native/src/common/plan.h}).
     *
     * @throws IllegalArgumentException if the input is smaller than {@link #minimumInputSize()}
     */
    public Plan inferencePlan(int height, int width) { return plan(height, width, false); }

    /**
     * Compiles the training plan for inputs of {@code (N, inChannels, height, width)}: module-level ops
     * (stem, dense layers, transitions, head with cross-entropy) whose backward passes the native
     * trainer runs in reverse (see {@code native/src/cpu/trainer.cpp}).
     *
     * @throws IllegalArgumentException if the input is smaller than {@link #minimumInputSize()}
     */
    public Plan trainingPlan(int height, int width) { return plan(height, width, true); }

    /** The buffers (input, one per dense block) and the ops of either plan, in network order. */
    private Plan plan(int height, int width, boolean train) {
        checkInputSize(height, width);
        List<Shape> sizes = spatialSizes(height, width);
        Plan plan = new Plan(new Shape(config.inChannels(), height, width));
        String in = plan.buffer("input", plan.input());
        for (int i = 0; i < blocks.size(); i++) plan.buffer(blocks.get(i).bufferName(), sizes.get(i + 1));
        plan.op("to_nhwc", "dst", in);
        String first = blocks.get(0).bufferName();
        if (train) stem.emitTrain(plan, in, first);
        else stem.emit(plan, in, first);
        for (int i = 0; i < blocks.size(); i++) {
            DenseBlock b = blocks.get(i);
            if (train) b.emitTrain(plan, config.dropRate());
            else b.emit(plan, sizes.get(i + 1));
            if (i < transitions.size()) {
                String next = blocks.get(i + 1).bufferName();
                if (train) transitions.get(i).emitTrain(plan, b.bufferName(), next);
                else transitions.get(i).emit(plan, b.bufferName(), next);
            }
        }
        String last = blocks.get(blocks.size() - 1).bufferName();
        if (train) head.emitTrain(plan, last);
        else head.emit(plan, last);
        return plan;
    }

    @Override
    public String toString() { return config.toString(); }
}
