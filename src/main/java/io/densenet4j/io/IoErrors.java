package io.densenet4j.io;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.Locale;

/** What an {@link IOException} means, in words for a message: no Java class names. */
public final class IoErrors {
    private IoErrors() {}

    /**
     * @param e an I/O failure
     * @return e.g. {@code "is a directory"}, {@code "no such file or directory"}, {@code "permission denied"},
     *         else the exception's own message without its class name (never empty)
     */
    public static String reason(IOException e) {
        if (e instanceof NoSuchFileException) return "no such file or directory";
        if (e instanceof AccessDeniedException) return "permission denied";
        if (e instanceof NotDirectoryException) return "not a directory";
        if (e instanceof FileAlreadyExistsException) return "already exists";
        String r = e instanceof FileSystemException f && f.getReason() != null ? f.getReason() : e.getMessage();
        if (r == null || r.isBlank()) return e.getClass().getSimpleName().replaceAll("(?<=[a-z])(?=[A-Z])", " ").toLowerCase(Locale.ROOT);
        r = stripClassNames(r);
        return r.length() > 1 && Character.isUpperCase(r.charAt(0)) && Character.isLowerCase(r.charAt(1))
                ? Character.toLowerCase(r.charAt(0)) + r.substring(1) : r;
    }

    /** Drops {@code java.io.IOException: }-style prefixes that wrapped exceptions put in their messages. */
    public static String stripClassNames(String s) {
        return s == null ? null : s.replaceAll("\\b(?:java|javax|sun|jdk)\\.[A-Za-z0-9_.$]*(?:Exception|Error): ?", "");
    }
}
