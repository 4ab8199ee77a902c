package io.densenet4j.io;

import java.io.IOException;
import java.nio.ByteBuffer;

/** Internal: random access to the raw bytes of one storage (a file region or a zip entry). */
interface StorageReader {
    /**
     * Fills {@code dst} from its position to its limit with the bytes starting at {@code byteOffset}
     * of the storage; throws {@link FormatError} if the storage ends first.
     */
    void read(long byteOffset, ByteBuffer dst) throws IOException;
}
