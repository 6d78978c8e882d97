/*
 * sparkcraft's own JavaWordCount (Apache-2.0), behaving as Spark's example of the same name.
 */
package org.apache.spark.examples;

import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;
import org.apache.spark.sql.SparkSession;
import scala.Tuple2;

/** Counts the words (split on single spaces) of a text file: usage {@code JavaWordCount <file>}. */
public final class JavaWordCount {
  private static final Pattern SPACE = Pattern.compile(" ");

  private JavaWordCount() {}

  public static void main(String[] args) {
    if (args.length < 1) {
      System.err.println("Usage: JavaWordCount <file>");
      System.exit(1);
    }
    SparkSession spark = SparkSession.builder().appName("JavaWordCount").getOrCreate();
    List<Tuple2<String, Integer>> counts = spark.read().textFile(args[0]).javaRDD()
        .flatMap(line -> Arrays.asList(SPACE.split(line)).iterator())
        .mapToPair(word -> new Tuple2<>(word, 1))
        .reduceByKey(Integer::sum)
        .collect();
    for (Tuple2<String, Integer> t : counts) System.out.println(t._1() + ": " + t._2());
    spark.stop();
  }
}
