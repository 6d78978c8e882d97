/*
 * sparkcraft's own SparkPi (Apache-2.0). Spark's examples jar is on neither PyPI nor Maven Central,
 * so the rock compiles this one against its line's Spark jars; it behaves as Spark's SparkPi does.
 */
package org.apache.spark.examples;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * Estimates pi by throwing darts at a square: usage {@code SparkPi [slices]}, slices (tasks)
 * defaulting to 2, 100000 darts per slice; prints "Pi is roughly <value>".
 */
public final class SparkPi {
  private SparkPi() {}

  public static void main(String[] args) {
    final int slices = args.length > 0 ? Integer.parseInt(args[0]) : 2;
    final int n = (int) Math.min(100000L * slices, Integer.MAX_VALUE);
    SparkSession spark = SparkSession.builder().appName("Spark Pi").getOrCreate();
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    // Darts 1 until n, cut into slices as Spark cuts a range; the driver holds one number per
    // slice, not n of them.
    final long darts = n - 1L;
    List<Integer> ids = new ArrayList<>(slices);
    for (int i = 0; i < slices; i++) ids.add(i);
    long count = jsc.parallelize(ids, slices).map(i -> {
      long mine = (i + 1) * darts / slices - i * darts / slices;
      ThreadLocalRandom random = ThreadLocalRandom.current();
      long inside = 0;
      for (long d = 0; d < mine; d++) {
        double x = random.nextDouble() * 2 - 1;
        double y = random.nextDouble() * 2 - 1;
        if (x * x + y * y <= 1) inside++;
      }
      return inside;
    }).reduce(Long::sum);
    System.out.println("Pi is roughly " + 4.0 * count / (n - 1));
    spark.stop();
  }
}
