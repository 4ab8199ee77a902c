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
 *
 * <p>On an engine whose batches run asynchronously (a GPU), two more things happen. Double buffering:
 * batch i+1 is gathered and submitted (copied to pinned memory, its upload enqueued) while batch i
 * computes, and batch i is collected after that; when no request waits, batch i is collected at once,
 * so a lone caller waits for nothing more. Fixed batch sizes: a batch of n runs padded to the next
 * power of two (at most maxBatch) on an engine kept for that size, since a GPU engine re-plans and
 * re-tunes whenever its batch size changes; the padding rows hold earlier images or zeros, and their
 * logits are dropped (in eval mode no image affects another's logits).
 */
final class BatchWorker implements Runnable {
    private static final long IDLE_POLL_NANOS = 10_000_000L;  // how often an idle worker looks at closed

    private final BatchingPredictor owner;
    private final Predictor engine;
    private final int maxBatch;
    private final long maxDelayNanos;
    private final boolean asynchronous;  // a GPU engine: double buffering and power-of-two batch sizes
    private BatchRequest carry;  // a request of another key that ended the last batch; it heads the next
    private FloatBuffer inF, outF;  // direct staging buffers, this worker's own
    private ByteBuffer inB;

    /** A batch between its submission and its collection; {@code error} set when the submission failed. */
    private record InFlight(List<BatchRequest> batch, Predictor.Pending pending, RuntimeException error) {}

    BatchWorker(BatchingPredictor owner, Predictor engine, boolean asynchronous) {
        this.owner = owner;
        this.engine = engine;
        this.maxBatch = owner.options().maxBatch();
        this.maxDelayNanos = owner.options().maxDelay().toNanos();
        this.asynchronous = asynchronous;
    }

    @Override
    public void run() {
        InFlight inFlight = null;
        try {
            while (true) {
                BatchRequest first = carry != null ? carry : owner.poll(inFlight != null ? 0 : IDLE_POLL_NANOS);
                carry = null;
                if (first == null) {
                    if (inFlight != null) {
                        InFlight done = inFlight;  // nothing waits: the batch in flight is collected now
                        inFlight = null;
                        finish(done);
                        continue;
                    }
                    if (owner.closed()) return;
                    continue;
                }
                if (owner.failPending()) {
                    first.fail(BatchingPredictor.closedBeforeRun());
                    continue;
                }
                List<BatchRequest> batch = gather(first);
                if (batch.isEmpty()) continue;
                InFlight next = start(batch);
                InFlight done = inFlight;
                inFlight = next;  // owned by the finally below until it is finished
                if (done != null) finish(done);
                if (!asynchronous) {
                    inFlight = null;
                    finish(next);
                }
            }
        } catch (InterruptedException e) {
            if (carry != null) carry.fail(BatchingPredictor.closedBeforeRun());
            Thread.currentThread().interrupt();
        } finally {
            if (carry != null && !carry.future.isDone()) carry.fail(BatchingPredictor.closedBeforeRun());
            if (inFlight != null) finish(inFlight);
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

    /** Submits a batch; a failure is kept for {@link #finish}, which isolates the culprit. */
    private InFlight start(List<BatchRequest> batch) {
        try {
            return new InFlight(batch, submit(batch), null);
        } catch (RuntimeException e) {
            return new InFlight(batch, null, e);
        } catch (Error e) {
            for (BatchRequest r : batch) r.fail(e);
            throw e;
        }
    }

    /** Collects a batch and completes its futures; a failed batch of several is rerun one by one, so only the culprit fails. */
    private void finish(InFlight f) {
        List<BatchRequest> batch = f.batch();
        RuntimeException error = f.error();
        float[] logits = null;
        if (error == null) {
            try {
                logits = collect(f.pending());
            } catch (RuntimeException e) {
                error = e;
            } catch (Error e) {
                for (BatchRequest r : batch) r.fail(e);
                throw e;
            }
        }
        try {
            if (error == null) {
                int k = owner.classes();
                // recorded before the futures complete: a caller who has its result sees its batch counted
                owner.record(batch.size());
                for (int i = 0; i < batch.size(); i++) batch.get(i).future.complete(Arrays.copyOfRange(logits, i * k, (i + 1) * k));
            } else if (batch.size() == 1) {
                owner.record(1);
                batch.get(0).fail(error);
            } else {
                for (BatchRequest r : batch) finish(start(List.of(r)));  // isolate the request that fails
            }
        } catch (Error e) {
            for (BatchRequest r : batch) if (!r.future.isDone()) r.fail(e);  // none left hanging
            throw e;
        }
    }

    /** The batch size a batch of n runs at: n, or on a GPU the next power of two (at most maxBatch). */
    int runSize(int n) {
        if (!asynchronous || n == 1) return n;
        return Math.min(maxBatch, Integer.highestOneBit(n - 1) << 1);
    }

    /**
     * Gathers the batch into this worker's direct staging buffers (grown to maxBatch, then reused: no
     * per-batch garbage, and the engine reads them in place) and submits it.
     */
    private Predictor.Pending submit(List<BatchRequest> batch) {
        BatchRequest.Key key = batch.get(0).key;
        int n = batch.size();
        int run = runSize(n);
        int per = batch.get(0).length();
        if (key.uint8()) {
            if (inB == null || inB.capacity() < (long) run * per) inB = ByteBuffer.allocateDirect(Math.multiplyExact(maxBatch, per));
            ByteBuffer in = inB.duplicate();
            in.clear();
            for (int i = 0; i < n; i++) in.put(i * per, batch.get(i).bytes);
            return engine.submit(in, run, key.height(), key.width(), key.mean(), key.std(), asynchronous);
        }
        if (inF == null || inF.capacity() < (long) run * per) inF = Predictor.allocateFloats(Math.multiplyExact(maxBatch, per));
        FloatBuffer in = inF.duplicate();
        in.clear();
        for (int i = 0; i < n; i++) in.put(i * per, batch.get(i).floats);
        return engine.submit(in, run, key.height(), key.width(), null, null, asynchronous);
    }

    /** Waits for a submitted batch; its logits, all rows it ran (past the batch's own: padding). */
    private float[] collect(Predictor.Pending p) {
        int k = owner.classes();
        if (outF == null) outF = Predictor.allocateFloats(Math.max(1, maxBatch * k));
        FloatBuffer out = outF.duplicate();
        out.clear();
        engine.collect(p, out);
        float[] logits = new float[p.n() * k];
        out.get(0, logits);
        return logits;
    }
}
