package io.densenet4j.io;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * Internal: a buffered InputStream over a FileChannel that knows its exact position (so the
 * bytes after a pickle can be located), supports mark/reset and reports the true number of
 * bytes left in {@link #available()}.
 */
final class ChannelInput extends InputStream {
    private final FileChannel channel;
    private final long size;
    private final ByteBuffer buf = ByteBuffer.allocate(1 << 16);
    private long bufStart;      // file position of buf[0]
    private long pos;           // logical position
    private long mark;

    ChannelInput(FileChannel channel) throws IOException {
        this.channel = channel;
        this.size = channel.size();
        buf.limit(0);
    }

    long position() {
        return pos;
    }

    long size() {
        return size;
    }

    private boolean fill() throws IOException {
        if (pos >= bufStart && pos < bufStart + buf.limit()) return true;
        if (pos >= size) return false;
        buf.clear();
        bufStart = pos;
        while (buf.hasRemaining()) {
            int r = channel.read(buf, bufStart + buf.position());
            if (r < 0) break;
        }
        buf.flip();
        return buf.limit() > 0;
    }

    @Override
    public int read() throws IOException {
        if (!fill()) return -1;
        int b = buf.get((int) (pos - bufStart)) & 0xff;
        pos++;
        return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) return 0;
        if (!fill()) return -1;
        int at = (int) (pos - bufStart);
        int n = Math.min(len, buf.limit() - at);
        buf.get(at, b, off, n);
        pos += n;
        return n;
    }

    @Override
    public long skip(long n) {
        long k = Math.max(0, Math.min(n, size - pos));
        pos += k;
        return k;
    }

    @Override
    public int available() {
        return (int) Math.min(Integer.MAX_VALUE, Math.max(0, size - pos));
    }

    @Override
    public boolean markSupported() {
        return true;
    }

    @Override
    public synchronized void mark(int readlimit) {
        mark = pos;
    }

    @Override
    public synchronized void reset() {
        pos = mark;
    }

    /** Does not close the channel: its owner does. */
    @Override
    public void close() {}
}
