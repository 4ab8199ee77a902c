package io.densenet4j.io;

import java.util.List;

/**
 * A state_dict whose keys or shapes do not fit the model it is loaded into. The message is one
 * short line (the counts and the first mismatching key); {@link #details()} lists every missing,
 * unexpected and mis-shaped key (the CLI prints them with {@code --verbose}).
 */
public class WeightsMismatchException extends WeightsException {
    private static final long serialVersionUID = 1L;

    private final List<String> details;

    /**
     * @param message one line
     * @param details every mismatch, one per entry, e.g. {@code "missing: features.conv0.weight [64, 3, 7, 7]"}
     */
    public WeightsMismatchException(String message, List<String> details) {
        super(message);
        this.details = List.copyOf(details);
    }

    /** Every mismatch, one line each: {@code missing: KEY [shape]}, {@code unexpected: KEY [shape]}, {@code wrong shape: KEY (expected .., got ..)}. */
    public List<String> details() { return details; }
}
