package io.densenet4j.train;

import org.junit.jupiter.api.Test;

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
}
