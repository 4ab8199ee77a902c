package io.densenet4j.train;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Per-epoch metrics: {@code metrics.csv} and a PNG plot of the loss and accuracy curves (XChart). */
public final class Metrics {
    /** One epoch's figures; epochs count from 1 (as the log does), accuracies in [0, 1], losses mean cross-entropy. */
    public record Row(int epoch, long step, double lr, double trainLoss, double trainAccuracy, double testLoss, double testAccuracy,
                      double imagesPerSecond, double seconds) {}

    public static final String HEADER = "epoch,step,lr,train_loss,train_acc,test_loss,test_acc,img_per_s,seconds";
    private final List<Row> rows = new ArrayList<>();

    public void add(Row r) { rows.add(r); }

    /** A copy with {@code r} appended (this one unchanged). */
    public Metrics plus(Row r) {
        Metrics m = new Metrics();
        m.rows.addAll(rows);
        m.rows.add(r);
        return m;
    }
    public List<Row> rows() { return rows; }

    /**
     * Parses CSV text as {@link #csv()} writes it. Metrics whose first epoch is 0 (checkpoints from
     * before epochs counted from 1) are renumbered from 1.
     */
    public static Metrics parse(String text) {
        Metrics m = new Metrics();
        int shift = -1;  // set by the first row: 1 for 0-based metrics, else 0
        try {
            for (String line : text.split("\n")) {
                if (line.isBlank() || line.startsWith("epoch")) continue;
                String[] p = line.split(",");
                int epoch = Integer.parseInt(p[0]);
                if (shift < 0) shift = epoch == 0 ? 1 : 0;
                m.add(new Row(epoch + shift, Long.parseLong(p[1]), Double.parseDouble(p[2]), Double.parseDouble(p[3]),
                        Double.parseDouble(p[4]), Double.parseDouble(p[5]), Double.parseDouble(p[6]), Double.parseDouble(p[7]),
                        Double.parseDouble(p[8])));
            }
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("unreadable metrics (" + e.getMessage() + ")");
        }
        return m;
    }

    /** The rows as CSV with a header line. */
    public String csv() {
        StringBuilder sb = new StringBuilder(HEADER).append('\n');
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "%d,%d,%.6g,%.6f,%.6f,%.6f,%.6f,%.2f,%.3f%n", r.epoch, r.step, r.lr, r.trainLoss,
                    r.trainAccuracy, r.testLoss, r.testAccuracy, r.imagesPerSecond, r.seconds));
        }
        return sb.toString();
    }

    /** Writes metrics.csv (atomically) and plot.png into {@code dir}. */
    public void write(Path dir) {
        try {
            Path tmp = dir.resolve(".metrics.csv.tmp");
            Files.writeString(tmp, csv());
            Files.move(tmp, dir.resolve("metrics.csv"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            if (!rows.isEmpty()) plot(dir.resolve("plot.png"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write metrics to " + dir + ": " + e.getMessage(), e);
        }
    }

    private void plot(Path png) throws IOException {
        List<XYChart> charts = charts();
        java.awt.image.BufferedImage a = BitmapEncoder.getBufferedImage(charts.get(0));
        java.awt.image.BufferedImage b = BitmapEncoder.getBufferedImage(charts.get(1));
        java.awt.image.BufferedImage both = new java.awt.image.BufferedImage(a.getWidth() + b.getWidth(), Math.max(a.getHeight(), b.getHeight()),
                java.awt.image.BufferedImage.TYPE_INT_RGB);
        java.awt.Graphics2D g = both.createGraphics();
        g.drawImage(a, 0, 0, null);
        g.drawImage(b, a.getWidth(), 0, null);
        g.dispose();
        javax.imageio.ImageIO.write(both, "png", png.toFile());
    }

    /** The two panels of the plot: loss, and accuracy in %, over the epochs. */
    List<XYChart> charts() {
        List<Double> x = new ArrayList<>(), trl = new ArrayList<>(), tel = new ArrayList<>(), tra = new ArrayList<>(), tea = new ArrayList<>();
        for (Row r : rows) {
            x.add((double) r.epoch);
            trl.add(r.trainLoss);
            tel.add(r.testLoss);
            tra.add(100 * r.trainAccuracy);
            tea.add(100 * r.testAccuracy);
        }
        return List.of(chart("Loss", "cross-entropy", x, trl, tel), chart("Accuracy", "%", x, tra, tea));
    }

    private static XYChart chart(String title, String yTitle, List<Double> x, List<Double> train, List<Double> test) {
        XYChart c = new XYChartBuilder().width(640).height(400).title(title).xAxisTitle("epoch").yAxisTitle(yTitle).build();
        c.addSeries("train", x, train);
        c.addSeries("test", x, test);
        // XChart puts evenly spaced data values (two, after the first epoch) on the axis as ticks, with all their digits
        double[] xr = range(x, List.of()), yr = range(train, test);
        c.getStyler().setXAxisTickLabelsFormattingFunction(v -> tickLabel(v, xr[0], xr[1]));
        c.getStyler().setYAxisTickLabelsFormattingFunction(v -> tickLabel(v, yr[0], yr[1]));
        return c;
    }

    /** {min, max} of the finite values; {+inf, -inf} when there are none. */
    private static double[] range(List<Double> a, List<Double> b) {
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (List<Double> l : List.of(a, b)) {
            for (double v : l) {
                if (!Double.isFinite(v)) continue;
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
        }
        return new double[] {lo, hi};
    }

    /**
     * A tick label on an axis from {@code lo} to {@code hi}: {@code v} with the decimals of a "nice"
     * step (1, 2 or 5 times a power of ten) of about a hundredth of the range (of the value, when the
     * range is empty), at most 10, without trailing zeros: 0.3, not 0.30000000000000004.
     */
    static String tickLabel(double v, double lo, double hi) {
        if (!Double.isFinite(v)) return Double.toString(v);
        double step = hi > lo ? (hi - lo) / 100 : Math.abs(v) / 100;
        int decimals = 0;
        if (step > 0 && Double.isFinite(step)) {
            int k = (int) Math.floor(Math.log10(step));
            if (step / Math.pow(10, k) > 5) k++;  // the nice step is 10^(k+1), else 1, 2 or 5 times 10^k
            decimals = Math.min(10, Math.max(0, -k));
        }
        return java.math.BigDecimal.valueOf(v).setScale(decimals, java.math.RoundingMode.HALF_UP).stripTrailingZeros().toPlainString();
    }
}
