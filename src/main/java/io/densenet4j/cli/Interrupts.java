package io.densenet4j.cli;

import io.densenet4j.train.Trainer;
import sun.misc.Signal;
import sun.misc.SignalHandler;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Ctrl-C (SIGINT) and SIGTERM during {@code train}: the first asks the trainer to stop after the
 * step in progress and write a resumable checkpoint (exit 130 or 143, as a shell reports a process
 * killed by that signal); a second exits at once, saying what is lost. The previous handlers
 * come back on {@link #close()}.
 */
final class Interrupts implements AutoCloseable {
    /** Thrown by train once the interrupted run has saved; Main exits with {@link #exitCode}. */
    static final class Stopped extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final int exitCode;

        Stopped(int exitCode) {
            super("interrupted", null, false, false);
            this.exitCode = exitCode;
        }
    }

    private final Map<String, SignalHandler> previous = new LinkedHashMap<>();
    private volatile int signal;  // 0 until the first interrupt

    private Interrupts() {}

    static Interrupts install(Trainer trainer, PrintStream log) {
        Interrupts in = new Interrupts();
        for (String name : new String[] {"INT", "TERM"}) {
            int number = name.equals("INT") ? 2 : 15;
            try {
                in.previous.put(name, Signal.handle(new Signal(name), s -> {
                    if (in.signal == 0) {
                        in.signal = number;
                        log.println("densenet4j: SIG" + name + ": stopping after this step to write a checkpoint (press Ctrl-C again to exit"
                                + " at once, losing the steps since the last checkpoint)");
                        trainer.requestStop();
                    } else {
                        log.println("densenet4j: second interrupt: exiting now; the steps since the last checkpoint are lost");
                        log.flush();
                        Runtime.getRuntime().halt(128 + in.signal);
                    }
                }));
            } catch (IllegalArgumentException unavailable) {
                // the JVM keeps this signal (e.g. under -Xrs): the default behaviour stays
            }
        }
        return in;
    }

    /** 130 after SIGINT, 143 after SIGTERM; 0 if none came. */
    int exitCode() { return signal == 0 ? 0 : 128 + signal; }

    @Override
    public void close() {
        previous.forEach((name, h) -> Signal.handle(new Signal(name), h));
    }
}
