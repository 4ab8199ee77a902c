package io.densenet4j.data;

import java.util.List;
import java.util.Objects;

/**
 * A view of some samples of another dataset: sample {@code i} of the subset is sample
 * {@code indices[i]} of the base. Shape, classes and values are the base's. Immutable (the
 * index array is copied).
 */
public final class Subset implements Dataset {
    private final Dataset base;
    private final int[] indices;

    /**
     * @param base    the dataset to take samples from
     * @param indices base indices, each in {@code [0, base.size())}; repeats are allowed
     * @throws IllegalArgumentException if an index is out of range
     */
    public Subset(Dataset base, int[] indices) {
        this.base = Objects.requireNonNull(base, "base");
        this.indices = Objects.requireNonNull(indices, "indices").clone();
        for (int i : this.indices) {
            if (i < 0 || i >= base.size()) {
                throw new IllegalArgumentException("subset index " + i + " out of range for a dataset of " + base.size()
                        + " samples");
            }
        }
    }

    /** @return the underlying dataset */
    public Dataset base() {
        return base;
    }

    /** @return the base indices of this subset's samples, in order (a copy) */
    public int[] indices() {
        return indices.clone();
    }

    /**
     * @param index subset index
     * @return the base index of subset sample {@code index}
     */
    public int baseIndex(int index) {
        return indices[index];
    }

    @Override
    public int size() {
        return indices.length;
    }

    @Override
    public int channels() {
        return base.channels();
    }

    @Override
    public int height() {
        return base.height();
    }

    @Override
    public int width() {
        return base.width();
    }

    @Override
    public int numClasses() {
        return base.numClasses();
    }

    @Override
    public List<String> classNames() {
        return base.classNames();
    }

    @Override
    public void image(int index, float[] dst, int offset) {
        base.image(indices[index], dst, offset);
    }

    @Override
    public int label(int index) {
        return base.label(indices[index]);
    }

    @Override
    public String toString() {
        return "Subset[" + indices.length + " of " + base + "]";
    }
}
