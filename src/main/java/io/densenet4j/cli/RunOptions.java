package io.densenet4j.cli;

import io.densenet4j.Predictor;
import picocli.CommandLine.Option;

/** Where and how batches run. */
final class RunOptions {
    @Option(names = "--threads", description = "CPU threads (default: all cores)")
    int threads = 0;

    @Option(names = "--device", description = "auto (default: CUDA if available, else CPU), cpu or cuda")
    String device = "auto";

    Predictor.Options options() { return new Predictor.Options(device, threads); }
}
