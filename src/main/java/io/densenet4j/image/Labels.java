package io.densenet4j.image;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Class-name files: UTF-8 text, one class name per line, in class-index order (line 1 is
 * class 0). Trailing whitespace and a trailing {@code \r} are stripped, a leading byte-order mark
 * is ignored, and blank lines at the end of the file are dropped; a blank line in the middle is an
 * error (it would shift every later index). Checking the count against a model's number of
 * classes is up to the caller.
 */
public final class Labels {
    private Labels() {
    }

    /**
     * Reads a labels file.
     *
     * @param file UTF-8 text, one name per line
     * @return the names in index order, unmodifiable
     * @throws IllegalArgumentException if the file cannot be read, is empty, or has a blank line
     *                                  before the last name
     */
    public static List<String> read(Path file) {
        Objects.requireNonNull(file, "file");
        try (InputStream in = Files.newInputStream(file)) {
            return parse(in, file.toString());
        } catch (IOException e) {
            String why = e instanceof java.nio.file.NoSuchFileException ? "no such file"
                    : e instanceof java.nio.file.AccessDeniedException ? "permission denied" : e.getClass().getSimpleName();
            throw new IllegalArgumentException("cannot read labels file " + file + " (" + why + ")", e);
        }
    }

    /**
     * Parses labels from a stream (not closed).
     *
     * @param in   UTF-8 text, one name per line
     * @param name what to call the source in error messages
     * @return the names in index order, unmodifiable
     * @throws IllegalArgumentException if there are no names or a blank line before the last name
     * @throws UncheckedIOException     if reading fails
     */
    public static List<String> parse(InputStream in, String name) {
        List<String> names = new ArrayList<>();
        try {
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            String line;
            while ((line = r.readLine()) != null) {
                if (names.isEmpty() && !line.isEmpty() && line.charAt(0) == '\uFEFF') {
                    line = line.substring(1);
                }
                names.add(line.stripTrailing());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read labels " + name + ": " + e.getMessage(), e);
        }
        while (!names.isEmpty() && names.get(names.size() - 1).isBlank()) {
            names.remove(names.size() - 1);
        }
        if (names.isEmpty()) {
            throw new IllegalArgumentException("labels file " + name + " has no class names");
        }
        for (int i = 0; i < names.size(); i++) {
            if (names.get(i).isBlank()) {
                throw new IllegalArgumentException("labels file " + name + ": line " + (i + 1)
                        + " is blank (one class name per line, in index order)");
            }
        }
        return List.copyOf(names);
    }
}
