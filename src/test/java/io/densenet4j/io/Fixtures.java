package io.densenet4j.io;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Where the tests find their files: the shared golden cases and this package's test resources. */
final class Fixtures {
    /** The shared golden cases, relative to Maven's working directory (the project root). */
    static final Path GOLDEN = Path.of("../shared/golden");
    /** What the malicious fixtures would create if they were ever executed (see make_fixtures.py). */
    static final Path EXPLOIT_MARKER = Path.of("/tmp/densenet4j-pickle-exploit-marker");

    private Fixtures() {}

    /** A golden file; skips the test if the golden folder is not there. */
    static Path golden(String name) {
        Path p = GOLDEN.resolve(name);
        assumeTrue(Files.isRegularFile(p), "golden file " + p.toAbsolutePath() + " is absent");
        return p;
    }

    /** A test resource of this package (made by make_fixtures.py), from the classpath. */
    static Path resource(String name) {
        URL url = Fixtures.class.getResource(name);
        assertNotNull(url, "test resource io/densenet4j/io/" + name + " is missing (run make_fixtures.py)");
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
