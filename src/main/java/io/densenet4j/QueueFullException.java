package io.densenet4j;

/**
 * A {@link BatchingPredictor} refused a request because its queue held
 * {@link BatchingPredictor.Options#queueCapacity()} requests already (back-pressure: the queue never
 * grows without bound). Retry later, shed load, or construct the predictor with
 * {@link BatchingPredictor.Options#blockWhenFull(boolean) blockWhenFull(true)}.
 */
public final class QueueFullException extends DenseNetException {
    public QueueFullException(String message) { super(message); }
}
