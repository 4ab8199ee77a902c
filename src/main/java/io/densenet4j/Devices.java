package io.densenet4j;

import io.densenet4j.internal.NativeLibrary;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;
import java.util.regex.Pattern;

/**
 * Device names and precisions shared by inference and training.
 *
 * <p>Devices: {@code auto} (CUDA device 0 where CUDA can run, else the CPU, saying so in one log
 * line per JVM), {@code cpu}, {@code cuda} or {@code cuda:INDEX}.
 *
 * <p>Precisions ({@code dtype}) of the CUDA backend: {@code fp32} (true fp32, no TF32: the
 * reference), {@code tf32} (fp32 tensors, TF32 tensor-core convolutions), {@code fp16} and
 * {@code bf16} (activations and weights in half precision, BatchNorm parameters and all
 * accumulation in fp32). The CPU backend runs {@code fp32} and, for inference on CPUs with
 * AVX512_BF16, {@code bf16}: the 1x1 and Winograd 3x3 convolution matmuls in bf16 with fp32
 * accumulation (weights rounded to bf16 once at load, each conv's input rounded where its
 * BN-ReLU prologue writes it); activation buffers, BatchNorm, the stem conv, pooling and the
 * classifier in fp32. The CPU also runs {@code int8} inference (weights with calibration ranges
 * from {@link Calibrator}): the dense layers' 1x1 and 3x3 convolutions and the transitions' as
 * u8 x s8 matmuls and convolutions with int32 accumulation, the stem, pooling and classifier in fp32. {@code int8} runs on the CPU only, so {@code auto} with
 * {@code int8} is the CPU.
 */
public final class Devices {
    private static final Logger LOG = Logger.getLogger(Devices.class.getName());
    private static final Pattern NAME = Pattern.compile("auto|cpu|cuda(:[0-9]{1,3})?");
    private static final AtomicBoolean FALLBACK_LOGGED = new AtomicBoolean();

    private Devices() {}

    /** Throws IllegalArgumentException unless {@code device} is auto, cpu, cuda or cuda:INDEX. */
    public static String checkName(String device) {
        if (device == null || !NAME.matcher(device).matches()) {
            throw new IllegalArgumentException("device must be auto, cpu, cuda or cuda:INDEX, got '" + device + "'");
        }
        return device;
    }

    /** Throws IllegalArgumentException unless {@code dtype} is fp32, tf32, fp16, bf16 or int8. */
    public static String checkDtype(String dtype) {
        if (!"fp32".equals(dtype) && !"tf32".equals(dtype) && !"fp16".equals(dtype) && !"bf16".equals(dtype) && !"int8".equals(dtype)) {
            throw new IllegalArgumentException("dtype must be fp32, tf32, fp16, bf16 or int8, got '" + dtype + "'");
        }
        return dtype;
    }

    /**
     * The device to run on: {@code auto} becomes {@code cuda} or {@code cpu}; {@code cuda[:i]} is
     * checked now.
     *
     * @throws DeviceUnavailableException if CUDA is asked for explicitly and cannot run here
     */
    public static String resolve(String requested) {
        String d = resolveQuietly(requested);
        noteFallback(requested, d);
        return d;
    }

    /**
     * The device for a network in {@code dtype}, as {@link #resolve} but without auto's log line
     * (callers log it with {@link #noteFallback} once the work is accepted, so that a refusal is
     * the only line): a precision the device cannot run fails here, naming why there is no GPU
     * when {@code auto} found none.
     *
     * @param training whether the network trains (fp32, fp16, bf16) or infers (also tf32)
     * @throws DeviceUnavailableException if CUDA is asked for explicitly and cannot run here
     * @throws IllegalArgumentException   for a dtype the device cannot run
     */
    public static String checkFor(String requested, String dtype, boolean training) {
        if (training) trainOptions("cuda", dtype);  // the spelling first
        else checkDtype(dtype);
        if (dtype.equals("int8") && !training) {  // int8 runs on the CPU only, so auto picks it
            checkName(requested);
            if (requested.startsWith("cuda")) options(requested, dtype);
            return "cpu";
        }
        String d = resolveQuietly(requested);
        if (d.equals("cpu") && !dtype.equals("fp32") && !(dtype.equals("bf16") && !training) && !dtype.equals("int8")) {
            if (requested.equals("auto")) {
                throw new IllegalArgumentException("dtype " + dtype + " needs CUDA, and device auto found none: " + NativeLibrary.cudaInfo());
            }
            if (training) trainOptions(d, dtype);
            else options(d, dtype);
        }
        return d;
    }

    /**
     * Logs {@code auto}'s fallback to the CPU (once per JVM) when {@code requested} was auto and
     * {@code resolved} is cpu.
     */
    public static void noteFallback(String requested, String resolved) {
        if ("auto".equals(requested) && "cpu".equals(resolved) && FALLBACK_LOGGED.compareAndSet(false, true)) {
            // one line; only where the CUDA backend was shipped (without the gpu jar the CPU is the plan)
            java.util.logging.Level level = NativeLibrary.gpuJarPresent() ? java.util.logging.Level.INFO : java.util.logging.Level.FINE;
            LOG.log(level, "device auto: running on cpu (" + NativeLibrary.cudaInfo() + ")");
        }
    }

    /** {@link #resolve} without the fallback's log line. */
    public static String resolveQuietly(String requested) {
        checkName(requested);
        if (requested.equals("cpu")) return "cpu";
        boolean ok = NativeLibrary.cudaAvailable();
        if (requested.equals("auto")) return ok ? "cuda" : "cpu";
        if (!ok) {
            throw new DeviceUnavailableException("device " + requested + " is unavailable: " + NativeLibrary.cudaInfo());
        }
        int index = requested.equals("cuda") ? 0 : Integer.parseInt(requested.substring(5));
        int count = NativeLibrary.cudaDeviceCount();
        if (index >= count) {
            throw new DeviceUnavailableException("device " + requested + " is unavailable: this machine has " + count + " usable CUDA device(s)");
        }
        return requested;
    }

    /**
     * The native trainer options for {@code dtype} on {@code device} (already resolved):
     * {@code fp32} anywhere; {@code fp16} or {@code bf16} (mixed precision: fp32 master weights,
     * BatchNorm and head; fp16 with dynamic loss scaling as {@code torch.cuda.amp.GradScaler}) on
     * CUDA only.
     *
     * @throws IllegalArgumentException for tf32 (an inference setting; fp32 training is true fp32),
     *                                  an unknown dtype, or a reduced precision on the CPU
     */
    public static String trainOptions(String device, String dtype) {
        if (!"fp32".equals(dtype) && !"fp16".equals(dtype) && !"bf16".equals(dtype)) {
            throw new IllegalArgumentException("training dtype must be fp32, fp16 or bf16, got '" + dtype + "'");
        }
        if (device.equals("cpu")) {
            if (!dtype.equals("fp32")) {
                throw new IllegalArgumentException("dtype " + dtype + " training runs on CUDA only; the CPU trains in fp32");
            }
            return "";
        }
        return "dtype=" + dtype;
    }

    /**
     * The native backend options for {@code dtype} on {@code device} (already resolved).
     *
     * @throws IllegalArgumentException for tf32 or fp16 on the CPU, bf16 on a CPU without AVX512_BF16, or int8 on CUDA
     */
    public static String options(String device, String dtype) {
        checkDtype(dtype);
        if (dtype.equals("int8")) {
            if (!device.equals("cpu")) {
                throw new IllegalArgumentException("dtype int8 runs on the CPU only (--device cpu); on CUDA use fp16 or bf16");
            }
            return "dtype=int8";
        }
        if (device.equals("cpu")) {
            if (dtype.equals("bf16")) {
                if (!NativeLibrary.cpuBf16Supported()) {
                    throw new IllegalArgumentException("dtype bf16 on the CPU needs AVX512_BF16 (Intel Cooper Lake or Sapphire Rapids, AMD Zen 4 or newer), which this CPU lacks; use fp32");
                }
                return "dtype=bf16";
            }
            if (!dtype.equals("fp32")) {
                throw new IllegalArgumentException("dtype " + dtype + " runs on CUDA only; the CPU backend computes in fp32, bf16 or int8");
            }
            return "";
        }
        return "dtype=" + dtype;
    }
}
