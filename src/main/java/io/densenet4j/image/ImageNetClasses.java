package io.densenet4j.image;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * The 1000 ImageNet-1k class names in class-index order, as torchvision 0.14 lists them
 * ({@code torchvision.models._meta._IMAGENET_CATEGORIES}: index 0 "tench", 281 "tabby",
 * 999 "toilet tissue"). Loaded once from the resource {@code /io/densenet4j/imagenet_classes.txt}.
 */
public final class ImageNetClasses {
    /** Classpath location of the names, one per line. */
    public static final String RESOURCE = "/io/densenet4j/imagenet_classes.txt";

    private ImageNetClasses() {
    }

    /**
     * @return the 1000 names, unmodifiable, index {@code i} is class {@code i}
     * @throws IllegalStateException if the bundled resource is missing or does not hold 1000 names
     */
    public static List<String> names() {
        return Holder.NAMES;
    }

    private static final class Holder {
        static final List<String> NAMES = load();

        private static List<String> load() {
            try (InputStream in = ImageNetClasses.class.getResourceAsStream(RESOURCE)) {
                if (in == null) {
                    throw new IllegalStateException("resource " + RESOURCE + " is missing from the classpath");
                }
                List<String> names = Labels.parse(in, RESOURCE);
                if (names.size() != 1000) {
                    throw new IllegalStateException("resource " + RESOURCE + " has " + names.size()
                            + " names, expected 1000");
                }
                return names;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read resource " + RESOURCE, e);
            }
        }
    }
}
