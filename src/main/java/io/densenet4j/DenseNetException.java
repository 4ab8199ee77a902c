package io.densenet4j;

/** An error raised by the native core (the C++ message is kept), or a native library that cannot be loaded. */
public class DenseNetException extends RuntimeException {
    public DenseNetException(String message) { super(message); }
    public DenseNetException(String message, Throwable cause) { super(message, cause); }
}
