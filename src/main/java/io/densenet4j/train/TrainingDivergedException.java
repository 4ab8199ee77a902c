package io.densenet4j.train;

/** Training stopped because the loss stopped being finite (a learning rate too high, typically). */
public class TrainingDivergedException extends RuntimeException {
    public TrainingDivergedException(String message) { super(message); }
}
