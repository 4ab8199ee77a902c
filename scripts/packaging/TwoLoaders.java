// scripts/packaging-check: the densenet4j jar loaded by two class loaders in one JVM (as servlet
// containers and Spark do). Each loader runs a forward; the second must get a working engine or
// a clear DenseNetException, never a JVM crash.
//   java scripts/packaging/TwoLoaders.java target/densenet4j-cli.jar
import java.lang.reflect.InvocationTargetException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;

public class TwoLoaders {
    /** Logits of a zero image through densenet-bc(10, 4) built entirely inside {@code l}. */
    static float[] run(ClassLoader l) throws Exception {
        Class<?> nets = l.loadClass("io.densenet4j.DenseNets");
        Class<?> cfgC = l.loadClass("io.densenet4j.DenseNetConfig");
        Class<?> netC = l.loadClass("io.densenet4j.DenseNet");
        Class<?> init = l.loadClass("io.densenet4j.Initializers");
        Class<?> sdC = l.loadClass("io.densenet4j.io.StateDict");
        Class<?> pred = l.loadClass("io.densenet4j.Predictor");
        Class<?> opts = l.loadClass("io.densenet4j.Predictor$Options");
        Object cfg = nets.getMethod("densenetBC", int.class, int.class).invoke(null, 10, 4);
        Object net = netC.getConstructor(cfgC).newInstance(cfg);
        Object sd = init.getMethod("torchvision", netC, long.class).invoke(null, net, 0L);
        Object o = opts.getConstructor(String.class, int.class).newInstance("cpu", 1);
        Object p = pred.getMethod("create", cfgC, sdC, opts).invoke(null, cfg, sd, o);
        try {
            return (float[]) pred.getMethod("forward", float[].class, int.class, int.class, int.class)
                    .invoke(p, new float[3 * 32 * 32], 1, 32, 32);
        } finally {
            pred.getMethod("close").invoke(p);
        }
    }

    public static void main(String[] args) throws Exception {
        URL jar = Path.of(args[0]).toUri().toURL();
        float[] first = null;
        for (int i = 1; i <= 2; i++) {
            URLClassLoader l = new URLClassLoader("loader" + i, new URL[] {jar}, ClassLoader.getPlatformClassLoader());
            try {
                float[] got = run(l);
                if (first == null) first = got;
                else if (!java.util.Arrays.equals(first, got)) throw new AssertionError("loader " + i + " gives other logits");
                System.out.println("loader" + i + ": working engine, " + got.length + " logits");
            } catch (InvocationTargetException e) {
                Throwable c = e.getCause();
                if (i == 2 && c.getClass().getName().equals("io.densenet4j.DenseNetException")) {
                    System.out.println("loader" + i + ": clear error: " + c.getMessage());
                } else {
                    throw e;
                }
            }
        }
    }
}
