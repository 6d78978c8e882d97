// A JVM Spark job of ours (the Spark examples jar is not on Maven Central): estimates pi with
// Spark's Java API, the same computation as SparkPi.
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

public final class SmokePi {
  public static void main(String[] args) {
    SparkSession spark = SparkSession.builder().appName("SmokePi").getOrCreate();
    JavaSparkContext jsc = new JavaSparkContext(spark.sparkContext());
    int slices = args.length > 0 ? Integer.parseInt(args[0]) : 2;
    int n = 100000 * slices;
    List<Integer> l = new ArrayList<>(n);
    for (int i = 0; i < n; i++) l.add(i);
    JavaRDD<Integer> data = jsc.parallelize(l, slices);
    long count = data.map(i -> {
      double x = Math.random() * 2 - 1;
      double y = Math.random() * 2 - 1;
      return (x * x + y * y <= 1) ? 1 : 0;
    }).reduce(Integer::sum);
    System.out.println("Pi is roughly " + 4.0 * count / n);
    spark.stop();
  }
}
