package io.densenet4j.topology;

/**
 * A feature map's size per image: channels and spatial height and width.
 *
 * @param channels C
 * @param height   H in pixels
 * @param width    W in pixels
 */
public record Shape(int channels, int height, int width) {
    public long pixels() { return (long) height * width; }

    @Override
    public String toString() { return channels + "x" + height + "x" + width; }
}
