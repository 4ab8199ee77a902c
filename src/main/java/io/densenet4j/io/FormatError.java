package io.densenet4j.io;

/**
 * Internal: a problem found inside a file while its name is not at hand; the public readers
 * catch it and rethrow a {@link WeightsException} that names the file.
 */
final class FormatError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    FormatError(String message) {
        super(message, null, false, false);
    }
}
