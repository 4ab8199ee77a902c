package io.densenet4j;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One engine's loop in a {@link BatchingPredictor}: takes the oldest request, gathers batch-mates of
 * the same key up to maxBatch or maxDelay after the oldest arrived, runs them as one native batch and
 * completes each future with its own row of the logits.
 */
final class BatchWorker implements Runnable {
    private static final long IDLE_POLL_NANOS = 10_000_000L;  // how often an idle worker looks at closed

    private final BatchingPredictor owner;
    private final Predictor engine;
    private final int maxBatch;
    private final long maxDelayNanos;
    private BatchRequest carry;  // a request of another key that ended the last batch; it heads the next
    private FloatBuffer inF, outF;  // direct staging buffers, this worker's own
    private ByteBuffer inB;

    BatchWorker(BatchingPredictor owner, Predictor engine) {
        this.owner = owner;
        this.engine = engine;
        this.maxBatch = owner.options().maxBatch();
        this.maxDelayNanos = owner.options().maxDelay().toNanos();
    }

    @Override
    public void run() {
        try {
            while (true) {
                BatchRequest first = carry != null ? carry : owner.poll(IDLE_POLL_NANOS);
                carry = null;
                if (first == null) {
                    if (owner.closed()) return;
                    continue;
                }
                if (owner.failPending()) {
                    first.fail(BatchingPredictor.closedBeforeRun());
                    continue;
                }
                List<BatchRequest> batch = gather(first);
                runBatch(batch);
            }
        } catch (InterruptedException e) {
            if (carry != null) carry.fail(BatchingPredictor.closedBeforeRun());
            Thread.currentThread().interrupt();
        }
    }

    private List<BatchRequest> gather(BatchRequest first) throws InterruptedException {
        List<BatchRequest> batch = new ArrayList<>(maxBatch);
        batch.add(first);
        long deadline = first.arrivalNanos + maxDelayNanos;
        boolean wait = owner.busy();
        while (batch.size() < maxBatch) {
            long left = wait ? deadline - System.nanoTime() : 0;
            BatchRequest r = owner.poll(left);
            if (r == null) break;
            if (!r.key.equals(first.key)) {
                carry = r;
                break;
            }
            batch.add(r);
        }
        batch.removeIf(r -> r.future.isDone());  // cancelled by the caller meanwhile
        return batch;
    }

    private void runBatch(List<BatchRequest> batch) {
        if (batch.isEmpty()) return;
        try {
            float[] logits = forward(batch);
            int k = owner.classes();
            // recorded before the futures complete: a caller who has its result sees its batch counted
            owner.record(batch.size());
            for (int i = 0; i < batch.size(); i++) batch.get(i).future.complete(Arrays.copyOfRange(logits, i * k, (i + 1) * k));
        } catch (RuntimeException e) {
            if (batch.size() == 1) {
                owner.record(1);
                batch.get(0).fail(e);
                return;
            }
            for (BatchRequest r : batch) runBatch(List.of(r));  // isolate the request that fails
        } catch (Error e) {
            for (BatchRequest r : batch) r.fail(e);
            throw e;
        }
    }

    /**
     * Gathers the batch into this worker's direct staging buffers (grown to the largest batch seen,
     * then reused: no per-batch garbage, and the engine reads and writes them in place).
     */
    private float[] forward(List<BatchRequest> batch) {
        BatchRequest.Key key = batch.get(0).key;
        int n = batch.size();
        int per = batch.get(0).length();
        int k = owner.classes();
        if (outF == null || outF.capacity() < n * k) outF = Predictor.allocateFloats(maxBatch * k);
        FloatBuffer out = outF.duplicate();
        out.clear();
        if (key.uint8()) {
            if (inB == null || inB.capacity() < n * per) inB = ByteBuffer.allocateDirect(Math.multiplyExact(maxBatch, per));
            ByteBuffer in = inB.duplicate();
            in.clear();
            for (int i = 0; i < n; i++) in.put(i * per, batch.get(i).bytes);
            in.limit(n * per);
            engine.forwardUint8(in, n, key.height(), key.width(), key.mean(), key.std(), out);
        } else {
            if (inF == null || inF.capacity() < n * per) inF = Predictor.allocateFloats(Math.multiplyExact(maxBatch, per));
            FloatBuffer in = inF.duplicate();
            in.clear();
            for (int i = 0; i < n; i++) in.put(i * per, batch.get(i).floats);
            in.limit(n * per);
            engine.forward(in, n, key.height(), key.width(), out);
        }
        float[] logits = new float[n * k];
        out.get(0, logits);
        return logits;
    }
}
