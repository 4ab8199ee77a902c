package io.densenet4j.io;

import java.nio.file.Path;

/**
 * A weights file (.pth, .safetensors) that cannot be read or written, or a state_dict that
 * does not fit a model. The message is one line that names the file (where there is one)
 * and says what is wrong, e.g.
 * {@code model.pth: truncated: storage '12' needs 4096 bytes at offset 81234 but the file ends at 81300}.
 */
public class WeightsException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;

    /** A problem not tied to one file (e.g. a state_dict that does not match a model). */
    public WeightsException(String message) {
        super(oneLine(message));
        this.file = null;
    }

    /** A problem with {@code file}; the message becomes {@code "<file>: <problem>"}. */
    public WeightsException(Path file, String problem) {
        this(file, problem, null);
    }

    /** A problem with {@code file} caused by {@code cause}; the message becomes {@code "<file>: <problem>"}. */
    public WeightsException(Path file, String problem, Throwable cause) {
        super(oneLine(file + ": " + problem), cause);
        this.file = file;
    }

    /** {@code s} with control characters (newlines included) escaped, so the message stays one line. */
    static String oneLine(String s) {
        if (s == null) return null;
        StringBuilder sb = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean control = c < 0x20 || (c >= 0x7f && c < 0xa0);
            if (control && sb == null) sb = new StringBuilder(s.length() + 16).append(s, 0, i);
            if (sb == null) continue;
            if (!control) sb.append(c);
            else if (c == '\n' && i == s.length() - 1) continue;
            else sb.append(String.format("\\x%02x", (int) c));
        }
        return sb == null ? s : sb.toString();
    }

    /** The file the problem is in, or {@code null} when there is none. */
    public Path file() {
        return file;
    }
}
