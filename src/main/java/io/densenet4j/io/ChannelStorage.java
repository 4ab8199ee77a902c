package io.densenet4j.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/** Internal: a storage that is a region of a file, read with positional reads (no mapping). */
final class ChannelStorage implements StorageReader {
    private final FileChannel channel;
    private final long start;
    private final long length;

    ChannelStorage(FileChannel channel, long start, long length) {
        this.channel = channel;
        this.start = start;
        this.length = length;
    }

    @Override
    public void read(long byteOffset, ByteBuffer dst) throws IOException {
        if (byteOffset < 0 || byteOffset + dst.remaining() > length) {
            throw new FormatError("read of " + dst.remaining() + " bytes at " + byteOffset
                    + " runs past the end of a region of " + length + " bytes");
        }
        long pos = start + byteOffset;
        while (dst.hasRemaining()) {
            int r = channel.read(dst, pos);
            if (r < 0) throw new FormatError("truncated: the file ends at byte " + channel.size()
                    + " inside data that should reach byte " + (start + length));
            pos += r;
        }
    }
}
