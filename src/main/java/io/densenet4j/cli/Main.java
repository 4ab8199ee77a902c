package io.densenet4j.cli;

import io.densenet4j.DenseNetException;
import io.densenet4j.io.WeightsException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.io.UncheckedIOException;

/**
 * {@code densenet4j}: the command line. Exit 0 on success; exit 2 with one line on stderr for
 * bad input (arguments, files, weights, sizes); exit 1 for an internal error.
 */
@Command(name = "densenet4j", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "DenseNet (Huang et al., CVPR 2017) inference, training and benchmarks on a fused native core (oneDNN on the CPU, cuDNN on NVIDIA GPUs).",
        subcommands = {picocli.CommandLine.HelpCommand.class, InfoCommand.class, ForwardCommand.class, PredictCommand.class, TrainCommand.class, EvaluateCommand.class,
                BenchCommand.class, QuantizeCommand.class, PlanCommand.class})
public final class Main implements Runnable {
    public static void main(String[] args) {
        // log records (e.g. the --device auto fallback) as one line each
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "densenet4j: %5$s%6$s%n");
        }
        System.exit(run(args));
    }

    /** Runs the CLI and returns its exit code (for tests). */
    public static int run(String... args) {
        // --verbose, anywhere: a refused state_dict lists every mismatching key after its one line
        boolean verbose = java.util.Arrays.asList(args).contains("--verbose");
        String[] rest = java.util.Arrays.stream(args).filter(a -> !a.equals("--verbose")).toArray(String[]::new);
        CommandLine cl = new CommandLine(new Main());
        cl.setParameterExceptionHandler((ex, a) -> {
            PrintWriter err = ex.getCommandLine().getErr();
            err.println("densenet4j: error: " + oneLine(ex.getMessage()));
            return 2;
        });
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            PrintWriter err = cmd.getErr();
            if (ex instanceof Interrupts.Stopped s) return s.exitCode;  // the trainer has said what it saved
            if (isBadInput(ex)) {
                err.println("densenet4j: error: " + message(ex));
                if (verbose && ex instanceof io.densenet4j.io.WeightsMismatchException m) m.details().forEach(d -> err.println("  " + d));
                return 2;
            }
            err.println("densenet4j: internal error: " + ex);
            ex.printStackTrace(err);
            return 1;
        });
        try {
            return cl.execute(rest);
        } catch (OutOfMemoryError e) {
            System.err.println("densenet4j: error: out of Java heap; the input or network is too large for -Xmx"
                    + Runtime.getRuntime().maxMemory() / (1 << 20) + "m");
            return 2;
        }
    }

    static boolean isBadInput(Throwable ex) {
        return ex instanceof IllegalArgumentException || ex instanceof WeightsException || ex instanceof DenseNetException
                || ex instanceof UncheckedIOException || ex instanceof io.densenet4j.train.TrainingDivergedException;
    }

    /**
     * A bad-input exception's message as the user reads it: one line, no Java class names
     * ({@code java.nio.file.NoSuchFileException: x} becomes {@code x: no such file}).
     */
    static String message(Throwable ex) {
        if (ex instanceof UncheckedIOException u && u.getCause() != null) return ioMessage(u.getCause(), u.getMessage());
        return oneLine(stripClassNames(ex.getMessage()));
    }

    static String ioMessage(java.io.IOException e, String outer) {
        String file = e instanceof java.nio.file.FileSystemException f ? f.getFile() : null;
        if (file != null) return oneLine(file + ": " + io.densenet4j.io.IoErrors.reason(e));
        String m = outer != null && !outer.equals(e.toString()) ? outer : io.densenet4j.io.IoErrors.reason(e);
        return oneLine(stripClassNames(m));
    }

    static String stripClassNames(String s) { return io.densenet4j.io.IoErrors.stripClassNames(s); }

    static String oneLine(String s) {
        if (s == null) return "(no message)";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"densenet4j 0.1.0"};
        }
    }
}
