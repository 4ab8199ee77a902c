package io.densenet4j;

/**
 * A CUDA device was asked for ({@code --device cuda}) but cannot be used here. The message names
 * what is missing: the {@code linux-x86_64-gpu} jar, cuDNN 9 ({@code libcudnn.so.9} on the
 * library path), an NVIDIA driver for CUDA 13, or a GPU. {@code --device auto} never throws this:
 * it falls back to the CPU.
 */
public class DeviceUnavailableException extends DenseNetException {
    public DeviceUnavailableException(String message) { super(message); }
}
