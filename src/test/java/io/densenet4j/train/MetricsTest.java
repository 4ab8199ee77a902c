package io.densenet4j.train;

import org.junit.jupiter.api.Test;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.internal.chartpart.AxesChart;
import org.knowm.xchart.internal.chartpart.AxisTickCalculator;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class MetricsTest {
    @Test
    void parseReadsWhatCsvWritesAndRenumbersZeroBasedMetrics() {
        Metrics m = new Metrics();
        m.add(new Metrics.Row(1, 3, 0.1, 1.5, 0.25, 1.25, 0.5, 100, 2.5));
        m.add(new Metrics.Row(2, 6, 0.05, 0.75, 0.5, 0.5, 0.75, 120, 2));
        assertEquals(m.rows(), Metrics.parse(m.csv()).rows());
        // metrics of a checkpoint written before epochs counted from 1
        String old = Metrics.HEADER + "\n0,3,0.1,1.5,0.25,1.25,0.5,100.00,2.5\n1,6,0.05,0.75,0.5,0.5,0.75,120.00,2.0\n";
        assertEquals(m.rows(), Metrics.parse(old).rows());
    }

    @Test
    void tickLabelsHaveTheDecimalsOfANiceStepOfTheRange() {
        assertEquals("0.3", Metrics.tickLabel(0.1 + 0.2, 0, 1));       // step 0.01
        assertEquals("1.041", Metrics.tickLabel(1.0412345, 1.0412345, 1.0986123));  // range 0.057: step 0.001
        assertEquals("56.7", Metrics.tickLabel(100 * 0.5666666666666667, 30, 56.7));  // range 26.7: step 0.5
        assertEquals("57", Metrics.tickLabel(56.666666666666664, 0, 100));  // range 100: step 1
        assertEquals("0.92", Metrics.tickLabel(0.92, 0.9, 1.1));
        assertEquals("1.04", Metrics.tickLabel(1.0412345, 1.0412345, 1.0412345));  // empty range: a hundredth of the value
        assertEquals("0", Metrics.tickLabel(-1e-9, -1, 1));
        assertEquals("3", Metrics.tickLabel(3, 1, 10));
    }

    /** After the first epoch XChart puts ticks at the data values themselves; their labels were all 17 digits. */
    @Test
    void plotTicksAfterOneEpochAreShort() throws Exception {
        Metrics m = new Metrics();
        m.add(new Metrics.Row(1, 3, 0.1, 1.0412345, 0.5666666666666667, 1.0986123, 0.3, 100, 2.5));
        List<XYChart> charts = m.charts();
        assertEquals(List.of("1"), tickLabels(charts.get(0), "xAxis"));
        assertEquals(List.of("1.041", "1.099"), tickLabels(charts.get(0), "yAxis"));
        assertEquals(List.of("30", "56.7"), tickLabels(charts.get(1), "yAxis"));
    }

    @Test
    void plotTicksOverSeveralEpochs() throws Exception {
        Metrics m = new Metrics();
        m.add(new Metrics.Row(1, 3, 0.1, 1.0986123, 0.3, 1.0412345, 0.4, 100, 2.5));
        m.add(new Metrics.Row(2, 6, 0.1, 0.9, 0.7, 0.95, 0.6, 100, 2.5));
        m.add(new Metrics.Row(3, 9, 0.1, 0.8, 0.85, 0.9, 0.8, 100, 2.5));
        List<XYChart> charts = m.charts();
        assertEquals(List.of("1", "2", "3"), tickLabels(charts.get(0), "xAxis"));
        assertEquals(List.of("0.8", "0.85", "0.9", "0.95", "1", "1.05"), tickLabels(charts.get(0), "yAxis"));  // XChart's own step
        assertEquals(List.of("30", "40", "50", "60", "70", "80"), tickLabels(charts.get(1), "yAxis"));
    }

    /** The labels XChart drew on a chart's axis ({@code xAxis} or {@code yAxis}); XChart has no public getter for them. */
    static List<String> tickLabels(XYChart chart, String axis) throws ReflectiveOperationException {
        BitmapEncoder.getBufferedImage(chart);  // lays the axes out
        java.lang.reflect.Field pairField = AxesChart.class.getDeclaredField("axisPair");
        pairField.setAccessible(true);
        Object pair = pairField.get(chart);
        java.lang.reflect.Field axisField = pair.getClass().getDeclaredField(axis);
        axisField.setAccessible(true);
        Object a = axisField.get(pair);
        java.lang.reflect.Method calc = Class.forName("org.knowm.xchart.internal.chartpart.Axis_").getDeclaredMethod("getAxisTickCalculator");
        calc.setAccessible(true);
        return ((AxisTickCalculator) calc.invoke(a)).getTickLabels();
    }
}
