package io.densenet4j.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Opening the built-in datasets by name, and splitting a dataset into train and validation
 * parts.
 *
 * <p>Dataset specs for {@link #open(String, Path, boolean)}:
 * <table>
 *   <caption>dataset specs</caption>
 *   <tr><th>spec</th><th>what</th><th>folder (without {@code dataDir})</th></tr>
 *   <tr><td>{@code fashion-mnist}</td><td>Fashion-MNIST, IDX files, 1x28x28, 10 classes</td>
 *       <td>{@value #FASHION_MNIST_DIR} (Debian's {@code dataset-fashion-mnist})</td></tr>
 *   <tr><td>{@code mnist}</td><td>MNIST, IDX files, 1x28x28, 10 classes "0".."9"</td>
 *       <td>{@value #MNIST_DIR}</td></tr>
 *   <tr><td>{@code cifar10}</td><td>CIFAR-10 binary, 3x32x32, 10 classes</td>
 *       <td>{@value #CIFAR10_DIR}</td></tr>
 *   <tr><td>{@code cifar100}</td><td>CIFAR-100 binary, 3x32x32, 100 fine classes</td>
 *       <td>{@value #CIFAR100_DIR}</td></tr>
 *   <tr><td>{@code folder:DIR}</td><td>{@link ImageFolderDataset}, RGB, equal sizes</td><td>DIR</td></tr>
 *   <tr><td>{@code tensors:FILE}</td><td>{@link TensorFileDataset}</td><td>FILE</td></tr>
 * </table>
 * Names are case-insensitive; {@code fashion_mnist}, {@code fashionmnist}, {@code cifar-10} and
 * {@code cifar-100} are accepted too. For the named datasets, the files are looked for in the
 * folder itself and then in the usual sub-folders of it (e.g. {@code FashionMNIST/raw} as
 * torchvision stores it, {@code cifar-10-batches-bin} as the CIFAR tarball extracts).
 *
 * <p>Every problem is an {@link IllegalArgumentException} with a one-line message saying what
 * was looked for and where.
 */
public final class Datasets {
    /** Default Fashion-MNIST folder, where Debian's {@code dataset-fashion-mnist} installs it. */
    public static final String FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";
    /** Default MNIST folder. */
    public static final String MNIST_DIR = "/usr/share/datasets/mnist";
    /** Default CIFAR-10 folder (the contents of {@code cifar-10-batches-bin}, or its parent). */
    public static final String CIFAR10_DIR = "/usr/share/datasets/cifar10";
    /** Default CIFAR-100 folder (the contents of {@code cifar-100-binary}, or its parent). */
    public static final String CIFAR100_DIR = "/usr/share/datasets/cifar100";

    /** Fashion-MNIST's class names, index = label. */
    public static final List<String> FASHION_MNIST_CLASSES = List.of("T-shirt/top", "Trouser", "Pullover", "Dress",
            "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");
    /** MNIST's class names, "0" to "9". */
    public static final List<String> MNIST_CLASSES = List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9");

    /** The spec forms {@link #open} understands, for messages and help texts. */
    public static final String SPECS = "fashion-mnist|mnist|cifar10|cifar100|folder:DIR|tensors:FILE";

    private Datasets() {
    }

    /**
     * A train and a validation part of one dataset.
     *
     * @param train      the training samples
     * @param validation the held-out samples
     */
    public record Split(Subset train, Subset validation) {
    }

    /**
     * Opens a dataset by spec.
     *
     * @param spec    {@value #SPECS}
     * @param dataDir folder of a named dataset's files; {@code null} for its default folder;
     *                not used by {@code folder:} and {@code tensors:}
     * @param train   the training split (true) or the test split (false) of a named dataset;
     *                {@code folder:} and {@code tensors:} have no split and ignore it
     * @return the dataset
     * @throws IllegalArgumentException for an unknown spec, missing files or malformed data
     */
    public static Dataset open(String spec, Path dataDir, boolean train) {
        return open(spec, dataDir, train, false);
    }

    /**
     * {@link #open(String, Path, boolean)}; with {@code skipBad}, a {@code folder:} dataset leaves out the
     * images that cannot be read ({@link ImageFolderDataset#skipped()} lists them) instead of refusing.
     */
    public static Dataset open(String spec, Path dataDir, boolean train, boolean skipBad) {
        Objects.requireNonNull(spec, "spec");
        String s = spec.strip();
        int colon = s.indexOf(':');
        if (colon > 0) {
            String kind = s.substring(0, colon).toLowerCase(Locale.ROOT);
            String arg = s.substring(colon + 1);
            if (arg.isEmpty()) {
                throw new IllegalArgumentException("dataset spec '" + spec + "' names no path; expected " + SPECS);
            }
            switch (kind) {
                case "folder":
                    return skipBad ? new ImageFolderDataset(Path.of(arg), io.densenet4j.image.ColorMode.RGB, 0, true) : folder(Path.of(arg));
                case "tensors":
                    return tensors(Path.of(arg));
                default:
                    throw new IllegalArgumentException("unknown dataset '" + spec + "'; expected " + SPECS);
            }
        }
        switch (s.toLowerCase(Locale.ROOT)) {
            case "fashion-mnist":
            case "fashion_mnist":
            case "fashionmnist":
                return fashionMnist(dataDir, train);
            case "mnist":
                return mnist(dataDir, train);
            case "cifar10":
            case "cifar-10":
                return cifar10(dataDir, train);
            case "cifar100":
            case "cifar-100":
                return cifar100(dataDir, train);
            default:
                throw new IllegalArgumentException("unknown dataset '" + spec + "'; expected " + SPECS);
        }
    }

    /**
     * Fashion-MNIST: 60,000 training or 10,000 test images, 1x28x28, 10 classes
     * ({@link #FASHION_MNIST_CLASSES}).
     *
     * @param dir   folder with {@code train-images-idx3-ubyte(.gz)},
     *              {@code train-labels-idx1-ubyte(.gz)}, {@code t10k-...}; {@code null} for
     *              {@value #FASHION_MNIST_DIR}
     * @param train training (true) or test (false) files
     * @return the dataset
     * @throws IllegalArgumentException if the files are missing or malformed
     */
    public static IdxDataset fashionMnist(Path dir, boolean train) {
        Path d = dir != null ? dir : Path.of(FASHION_MNIST_DIR);
        return idx("Fashion-MNIST", d, List.of("", "fashion-mnist", "FashionMNIST/raw"), train, FASHION_MNIST_CLASSES,
                dir == null ? "install Debian's dataset-fashion-mnist or pass --data-dir" : "pass --data-dir");
    }

    /**
     * MNIST: 60,000 training or 10,000 test images, 1x28x28, 10 classes "0".."9".
     *
     * @param dir   folder with the IDX files (as for Fashion-MNIST); {@code null} for {@value #MNIST_DIR}
     * @param train training (true) or test (false) files
     * @return the dataset
     * @throws IllegalArgumentException if the files are missing or malformed
     */
    public static IdxDataset mnist(Path dir, boolean train) {
        Path d = dir != null ? dir : Path.of(MNIST_DIR);
        return idx("MNIST", d, List.of("", "mnist", "MNIST/raw"), train, MNIST_CLASSES,
                "download the four MNIST IDX files there or pass --data-dir");
    }

    /**
     * CIFAR-10 binary: 50,000 training or 10,000 test images, 3x32x32, 10 classes.
     *
     * @param dir   folder with {@code data_batch_1..5.bin} and {@code test_batch.bin}, or its
     *              parent holding {@code cifar-10-batches-bin}; {@code null} for {@value #CIFAR10_DIR}
     * @param train training (true) or test (false) files
     * @return the dataset
     * @throws IllegalArgumentException if the files are missing or malformed
     */
    public static CifarDataset cifar10(Path dir, boolean train) {
        return cifar(CifarDataset.Variant.CIFAR10, dir != null ? dir : Path.of(CIFAR10_DIR),
                List.of("", "cifar-10-batches-bin", "cifar10", "cifar10/cifar-10-batches-bin"), train,
                "extract cifar-10-binary.tar.gz there or pass --data-dir");
    }

    /**
     * CIFAR-100 binary: 50,000 training or 10,000 test images, 3x32x32, 100 fine classes.
     *
     * @param dir   folder with {@code train.bin} and {@code test.bin}, or its parent holding
     *              {@code cifar-100-binary}; {@code null} for {@value #CIFAR100_DIR}
     * @param train training (true) or test (false) file
     * @return the dataset
     * @throws IllegalArgumentException if the files are missing or malformed
     */
    public static CifarDataset cifar100(Path dir, boolean train) {
        return cifar(CifarDataset.Variant.CIFAR100, dir != null ? dir : Path.of(CIFAR100_DIR),
                List.of("", "cifar-100-binary", "cifar100", "cifar100/cifar-100-binary"), train,
                "extract cifar-100-binary.tar.gz there or pass --data-dir");
    }

    /**
     * @param dir folder with one sub-folder of images per class
     * @return the dataset, RGB, images as they are (all the same size)
     * @throws IllegalArgumentException see {@link ImageFolderDataset}
     */
    public static ImageFolderDataset folder(Path dir) {
        return new ImageFolderDataset(dir);
    }

    /**
     * @param file a {@code .safetensors} file with {@code input} and {@code labels}
     * @return the dataset
     * @throws IllegalArgumentException see {@link TensorFileDataset}
     */
    public static TensorFileDataset tensors(Path file) {
        if (Files.isDirectory(file)) {
            throw new IllegalArgumentException("tensors:" + file + " is a directory; tensors: takes a .safetensors file (folder:DIR reads a folder of images)");
        }
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("tensor dataset file not found: " + file);
        }
        return new TensorFileDataset(file);
    }

    private static IdxDataset idx(String name, Path dir, List<String> subdirs, boolean train, List<String> classes,
            String hint) {
        String prefix = train ? "train" : "t10k";
        String images = prefix + "-images-idx3-ubyte";
        String labels = prefix + "-labels-idx1-ubyte";
        for (String sub : subdirs) {
            Path d = sub.isEmpty() ? dir : dir.resolve(sub);
            Path im = find(d, images);
            Path lb = find(d, labels);
            if (im != null && lb != null) {
                return new IdxDataset(im, lb, classes);
            }
            if (sub.isEmpty() && (im != null || lb != null)) {
                throw new IllegalArgumentException(name + " incomplete in " + d + ": found " + (im != null ? im : lb)
                        + " but not " + (im != null ? labels : images) + "(.gz)");
            }
        }
        throw new IllegalArgumentException(name + " not found in " + dir + " (looked for " + images + "(.gz) and "
                + labels + "(.gz)" + subdirText(subdirs) + "; " + hint + ")");
    }

    private static String subdirText(List<String> subdirs) {
        List<String> s = new ArrayList<>();
        for (String d : subdirs) {
            if (!d.isEmpty()) {
                s.add(d + "/");
            }
        }
        return s.isEmpty() ? "" : ", also in " + String.join(", ", s);
    }

    /** The file {@code base.gz} or {@code base} (also {@code base} with its last '-' as '.'), or null. */
    private static Path find(Path dir, String base) {
        int dash = base.lastIndexOf('-', base.lastIndexOf('-') - 1);
        String dotted = base.substring(0, dash) + "." + base.substring(dash + 1);
        for (String n : List.of(base + ".gz", base, dotted + ".gz", dotted)) {
            Path p = dir.resolve(n);
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        return null;
    }

    private static CifarDataset cifar(CifarDataset.Variant v, Path dir, List<String> subdirs, boolean train,
            String hint) {
        String first = v.files(train).get(0);
        for (String sub : subdirs) {
            Path d = sub.isEmpty() ? dir : dir.resolve(sub);
            if (Files.isRegularFile(d.resolve(first))) {
                return CifarDataset.read(v, d, train);
            }
        }
        String name = v == CifarDataset.Variant.CIFAR10 ? "CIFAR-10" : "CIFAR-100";
        throw new IllegalArgumentException(name + " not found in " + dir + " (looked for "
                + String.join(", ", v.files(train)) + subdirText(subdirs) + "; " + hint + ")");
    }

    /**
     * Splits a dataset at random into a training and a validation part ({@code --val-split F}).
     * A permutation of the indices determined only by {@code seed} is cut after
     * {@code round(F * N)} entries: those become the validation part, the rest the training
     * part; each part lists its indices in increasing order. The same (dataset size, fraction,
     * seed) always gives the same split.
     *
     * @param dataset     the dataset to split
     * @param valFraction fraction held out for validation, {@code 0 < F < 1}
     * @param seed        the split's seed
     * @return both parts, each non-empty, disjoint, together all samples
     * @throws IllegalArgumentException if F is not in (0, 1) or a part would be empty
     */
    public static Split split(Dataset dataset, double valFraction, long seed) {
        Objects.requireNonNull(dataset, "dataset");
        if (!(valFraction > 0 && valFraction < 1)) {
            throw new IllegalArgumentException("validation fraction must be between 0 and 1 (exclusive), got "
                    + valFraction);
        }
        int n = dataset.size();
        int val = (int) Math.round(valFraction * n);
        if (val < 1 || val > n - 1) {
            throw new IllegalArgumentException("validation fraction " + valFraction + " of " + n
                    + " samples leaves an empty " + (val < 1 ? "validation" : "training") + " part");
        }
        int[] perm = Seeds.permutation(n, Seeds.derive(Seeds.SPLIT, seed));
        int[] v = Arrays.copyOfRange(perm, 0, val);
        int[] t = Arrays.copyOfRange(perm, val, n);
        Arrays.sort(v);
        Arrays.sort(t);
        return new Split(new Subset(dataset, t), new Subset(dataset, v));
    }
}
