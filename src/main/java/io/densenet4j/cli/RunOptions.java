package io.densenet4j.cli;

import io.densenet4j.Predictor;
import picocli.CommandLine.Option;

/** Where and how batches run. */
final class RunOptions {
    @Option(names = "--threads", description = "CPU threads, 0 (all cores, the default) to 1024")
    int threads = 0;

    @Option(names = "--device", description = "auto (default: CUDA if available, else CPU), cpu, cuda or cuda:INDEX")
    String device = "auto";

    @Option(names = "--dtype", description = "fp32 (default, true fp32); bf16 (bf16 matmuls with fp32 accumulation; on the CPU with AVX512_BF16 or on CUDA); on CUDA also tf32 or fp16; on the CPU int8 (weights from `quantize`)")
    String dtype = "fp32";

    Predictor.Options options() {
        checkThreads(threads);
        return new Predictor.Options(device, threads, dtype);
    }

    /** Refuses a --threads outside 0 (all cores) .. {@link Predictor#MAX_THREADS}, worded as train words it. */
    static void checkThreads(int threads) {
        if (threads < 0 || threads > Predictor.MAX_THREADS) {
            throw new IllegalArgumentException("--threads must be from 0 (all cores) to " + Predictor.MAX_THREADS + ", got " + threads);
        }
    }
}
