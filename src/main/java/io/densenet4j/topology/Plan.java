package io.densenet4j.topology;

import java.util.ArrayList;
import java.util.List;

/**
 * A network compiled for one input size: the flat list of native ops the C++ core runs
 * in one call per batch (format: {@code native/src/common/plan.h}). Buffers are NHWC
 * per image; an op names them as {@code NAME} or a channel slice {@code NAME:OFFSET:COUNT}.
 */
public final class Plan {
    private final Shape input;
    private final List<String> buffers = new ArrayList<>();
    private final List<String> ops = new ArrayList<>();
    private Shape output;

    public Plan(Shape input) { this.input = input; }

    /** Declares an NHWC buffer; returns its name. */
    public String buffer(String name, Shape s) {
        buffers.add("buffer " + name + " c=" + s.channels() + " h=" + s.height() + " w=" + s.width());
        return name;
    }

    /** Appends one op line: type then key=value arguments. */
    public void op(String type, Object... keyValues) {
        StringBuilder sb = new StringBuilder("op ").append(type);
        for (int i = 0; i + 1 < keyValues.length; i += 2) sb.append(' ').append(keyValues[i]).append('=').append(keyValues[i + 1]);
        ops.add(sb.toString());
    }

    /** A channel slice operand. */
    public static String slice(String buffer, int offset, int count) { return buffer + ":" + offset + ":" + count; }

    public Shape input() { return input; }
    public int opCount() { return ops.size(); }

    /** The plan text with every op. */
    public String text() { return text(ops.size()); }

    /** The plan text with only the first {@code count} ops (for tests that stop mid-network). */
    public String text(int count) {
        StringBuilder sb = new StringBuilder("densenet4j-plan 1\n");
        sb.append("input c=").append(input.channels()).append(" h=").append(input.height()).append(" w=").append(input.width()).append('\n');
        for (String b : buffers) sb.append(b).append('\n');
        for (int i = 0; i < count; i++) sb.append(ops.get(i)).append('\n');
        return sb.toString();
    }

    @Override
    public String toString() { return text(); }
}
