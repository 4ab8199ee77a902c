package io.densenet4j.data;

import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Produces the mini-batches of one epoch on a background thread, at most two batches ahead
 * of the consumer, so that loading overlaps compute.
 *
 * <p>What a batch holds: with {@code order} the epoch's sample order (the identity, or with
 * {@code shuffle} a permutation that depends only on {@code (seed, epoch)}, see
 * {@link #order(int, boolean, long, int)}), batch {@code b} has the samples
 * {@code order[b*B .. min((b+1)*B, N))}. Each image is read from the dataset (raw values),
 * augmented if asked ({@link Augmentation}, randomness from {@code (seed, epoch, sample index)}),
 * then normalised ({@link Normalization}, if given). Hence every batch depends only on
 * {@code (dataset, batch size, seed, epoch, flags, b)}: starting at batch {@code k}
 * ({@link Builder#startBatch}) yields exactly batches {@code k, k+1, ...} of the full epoch,
 * bit for bit, which is how a run resumes mid-epoch.
 *
 * <p>Use:
 * <pre>{@code
 * try (BatchLoader loader = BatchLoader.builder(train, 64).seed(seed).epoch(e).shuffle(true)
 *         .augmentation(Augmentation.standard()).normalization(norm).build()) {
 *     for (Batch b : loader) { ... }
 * }
 * }</pre>
 * The loader is single-use: it covers one epoch (from its start batch) and can be iterated
 * once. The background thread starts in {@link Builder#build()}.
 *
 * <p>Errors: an exception while preparing a batch (e.g. a bad file, a label out of range) is
 * rethrown to the consumer by {@code next()}, with the original's message and the original as
 * cause: an {@link IllegalArgumentException} as an {@code IllegalArgumentException}, anything
 * else as an {@link IllegalStateException}. {@link #close()} stops the thread and drops
 * prepared batches; it may be called at any time and more than once.
 */
public final class BatchLoader implements Iterable<Batch>, AutoCloseable {
    private static final Object END = new Object();

    private final Dataset dataset;
    private final int batchSize;
    private final long seed;
    private final int epoch;
    private final boolean shuffle;
    private final Augmentation augmentation;
    private final Normalization normalization;
    private final boolean dropLast;
    private final int startBatch;
    private final int batches;
    private final int[] order;
    private final BlockingQueue<Object> queue = new ArrayBlockingQueue<>(2);
    private final Thread worker;
    private volatile boolean closed;
    private boolean iterated;
    private boolean finished;
    private Object pending;

    /** A failure in the loader thread, passed through the queue. */
    private record Failure(int batch, Throwable error) {
    }

    private BatchLoader(Builder b) {
        this.dataset = b.dataset;
        this.batchSize = b.batchSize;
        this.seed = b.seed;
        this.epoch = b.epoch;
        this.shuffle = b.shuffle;
        this.augmentation = b.augmentation;
        this.normalization = b.normalization;
        this.dropLast = b.dropLast;
        this.batches = batchesPerEpoch(dataset.size(), batchSize, dropLast);
        if (b.startBatch < 0 || b.startBatch > batches) {
            throw new IllegalArgumentException("start batch " + b.startBatch + " out of range: an epoch has " + batches
                    + " batches");
        }
        if (normalization != null && normalization.channels() != dataset.channels()) {
            throw new IllegalArgumentException("normalisation has " + normalization.channels()
                    + " channels but the dataset's images have " + dataset.channels());
        }
        this.startBatch = b.startBatch;
        this.order = order(dataset.size(), shuffle, seed, epoch);
        this.worker = new Thread(this::produce, "densenet4j-batch-loader");
        worker.setDaemon(true);
        worker.start();
    }

    /**
     * @param dataset   the samples
     * @param batchSize samples per batch, at least 1
     * @return a builder with seed 0, epoch 0, no shuffling, no augmentation, no normalisation,
     *         last partial batch kept, start at batch 0
     */
    public static Builder builder(Dataset dataset, int batchSize) {
        return new Builder(dataset, batchSize);
    }

    /**
     * @param size      dataset size N
     * @param batchSize B
     * @param dropLast  whether a last batch of fewer than B samples is dropped
     * @return batches in one epoch: {@code N / B} when dropping, else {@code ceil(N / B)}
     */
    public static int batchesPerEpoch(int size, int batchSize, boolean dropLast) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        }
        return dropLast ? size / batchSize : (int) ((size + (long) batchSize - 1) / batchSize);
    }

    /**
     * The sample order of an epoch.
     *
     * @param size    dataset size N
     * @param shuffle false for {@code 0, 1, ..., N-1}; true for a uniformly random permutation
     *                determined only by {@code (seed, epoch)} (Fisher-Yates over SplitMix64)
     * @param seed    the run's seed
     * @param epoch   epoch number
     * @return a new array of the N dataset indices in epoch order
     */
    public static int[] order(int size, boolean shuffle, long seed, int epoch) {
        if (!shuffle) {
            int[] p = new int[size];
            for (int i = 0; i < size; i++) {
                p[i] = i;
            }
            return p;
        }
        return Seeds.permutation(size, Seeds.derive(Seeds.SHUFFLE, seed, epoch));
    }

    /** @return number of batches in this epoch (counting from batch 0, not from the start batch) */
    public int batchesPerEpoch() {
        return batches;
    }

    /** @return the first batch this loader yields */
    public int startBatch() {
        return startBatch;
    }

    /** @return the dataset */
    public Dataset dataset() {
        return dataset;
    }

    /**
     * Builds batch {@code b} of the epoch on the calling thread (what the background thread
     * runs; useful for tests and for single-threaded use).
     *
     * @param b batch index, {@code 0 <= b < batchesPerEpoch()}
     * @return the batch
     */
    public Batch batch(int b) {
        Objects.checkIndex(b, batches);
        int from = b * batchSize;
        int n = Math.min(batchSize, dataset.size() - from);
        int c = dataset.channels();
        int h = dataset.height();
        int w = dataset.width();
        int len = c * h * w;
        float[] input = new float[n * len];
        long[] labels = new long[n];
        int[] samples = new int[n];
        float[] raw = augmentation != null ? new float[len] : null;
        int classes = dataset.numClasses();
        for (int i = 0; i < n; i++) {
            int idx = order[from + i];
            samples[i] = idx;
            int label = dataset.label(idx);
            if (label < 0 || label >= classes) {
                throw new IllegalArgumentException("sample " + idx + " has label " + label + ", out of range for "
                        + classes + " classes");
            }
            labels[i] = label;
            if (augmentation != null) {
                dataset.image(idx, raw, 0);
                augmentation.apply(raw, 0, input, i * len, c, h, w, seed, epoch, idx);
            } else {
                dataset.image(idx, input, i * len);
            }
            if (normalization != null) {
                normalization.apply(input, i * len, h, w);
            }
        }
        return new Batch(input, labels, n, b, samples);
    }

    private void produce() {
        try {
            for (int b = startBatch; b < batches && !closed; b++) {
                Object item;
                try {
                    item = batch(b);
                } catch (RuntimeException | Error e) {
                    item = new Failure(b, e);
                }
                queue.put(item);
                if (item instanceof Failure) {
                    return;
                }
            }
            queue.put(END);
        } catch (InterruptedException e) {
            // closed: stop quietly
        }
    }

    /**
     * @return the iterator over this epoch's batches (from the start batch)
     * @throws IllegalStateException if called a second time
     */
    @Override
    public Iterator<Batch> iterator() {
        if (iterated) {
            throw new IllegalStateException("a BatchLoader can be iterated only once; build a new one per epoch");
        }
        iterated = true;
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return peek() != END;
            }

            @Override
            public Batch next() {
                Object item = peek();
                if (item == END) {
                    throw new NoSuchElementException("the epoch has no more batches");
                }
                pending = null;
                return (Batch) item;
            }
        };
    }

    private Object peek() {
        if (closed) {
            throw new IllegalStateException("BatchLoader is closed");
        }
        if (finished) {
            return END;
        }
        if (pending == null) {
            try {
                pending = queue.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for the next batch", e);
            }
        }
        if (pending == END) {
            finished = true;
            pending = null;
            return END;
        }
        if (pending instanceof Failure f) {
            finished = true;
            pending = null;
            Throwable e = f.error();
            String msg = e.getMessage() != null ? e.getMessage() : e.toString();
            if (e instanceof IllegalArgumentException) {
                throw new IllegalArgumentException(msg, e);
            }
            throw new IllegalStateException("loading batch " + f.batch() + " failed: " + msg, e);
        }
        return pending;
    }

    /** @return whether the background thread is still running (for tests) */
    boolean workerAlive() {
        return worker.isAlive();
    }

    /** Stops the background thread (waiting for it briefly) and drops prepared batches. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        worker.interrupt();
        queue.clear();
        try {
            worker.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        queue.clear();
        pending = null;
    }

    /** Settings of a {@link BatchLoader}. */
    public static final class Builder {
        private final Dataset dataset;
        private final int batchSize;
        private long seed;
        private int epoch;
        private boolean shuffle;
        private Augmentation augmentation;
        private Normalization normalization;
        private boolean dropLast;
        private int startBatch;

        private Builder(Dataset dataset, int batchSize) {
            this.dataset = Objects.requireNonNull(dataset, "dataset");
            if (batchSize < 1) {
                throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
            }
            this.batchSize = batchSize;
        }

        /**
         * @param seed the run's seed (shuffling and augmentation derive from it)
         * @return this builder
         */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /**
         * @param epoch epoch number, at least 0
         * @return this builder
         */
        public Builder epoch(int epoch) {
            if (epoch < 0) {
                throw new IllegalArgumentException("epoch must be >= 0, got " + epoch);
            }
            this.epoch = epoch;
            return this;
        }

        /**
         * @param shuffle whether to visit the samples in a (seed, epoch) permutation
         * @return this builder
         */
        public Builder shuffle(boolean shuffle) {
            this.shuffle = shuffle;
            return this;
        }

        /**
         * @param augment true for {@link Augmentation#standard()}, false for none
         * @return this builder
         */
        public Builder augment(boolean augment) {
            this.augmentation = augment ? Augmentation.standard() : null;
            return this;
        }

        /**
         * @param augmentation the augmentation, or {@code null} for none
         * @return this builder
         */
        public Builder augmentation(Augmentation augmentation) {
            this.augmentation = augmentation;
            return this;
        }

        /**
         * @param normalization applied after augmentation, or {@code null} to keep raw values
         * @return this builder
         */
        public Builder normalization(Normalization normalization) {
            this.normalization = normalization;
            return this;
        }

        /**
         * @param dropLast whether to drop a last batch smaller than the batch size
         * @return this builder
         */
        public Builder dropLast(boolean dropLast) {
            this.dropLast = dropLast;
            return this;
        }

        /**
         * @param startBatch first batch to yield, {@code 0 .. batchesPerEpoch} (to resume mid-epoch)
         * @return this builder
         */
        public Builder startBatch(int startBatch) {
            this.startBatch = startBatch;
            return this;
        }

        /**
         * Starts the background thread.
         *
         * @return the loader (close it)
         * @throws IllegalArgumentException if the start batch is out of range or the
         *                                  normalisation's channel count differs from the dataset's
         */
        public BatchLoader build() {
            return new BatchLoader(this);
        }
    }
}
