/*
 * sparkcraft's class-data sharing training run (Apache-2.0). The rock's archive of Spark's classes
 * (templates/rock/opt/spark/cds/train.sh) holds what this program's driver and executor JVMs load:
 * SparkSession and SparkContext start, an RDD job with a shuffle, a DataFrame written to Parquet,
 * read back and queried with SQL. The jobs touch no network beyond loopback and no file beyond DIR.
 */
package org.apache.spark.examples;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import scala.Tuple2;

/**
 * Usage {@code ClassDataTraining DIR}, the training; {@code ClassDataTraining --list CP LIST...}, the
 * archive's class list made of the training's lists for the class path CP (printed). The training
 * lists end where {@link End} is loaded: by every executor in a last job and then by the driver, once
 * the jobs are done and the background threads have had two seconds to settle. What loads after
 * (Spark's stop, the JVM's shutdown) races with the exit and differs between runs, so it stays out.
 * Before the end, threads still race on which nested classes of the classes they use they need
 * (CompletableFuture$CoCompletion was loaded in two runs of three, Scala's TrieMap CNode$ in one of
 * two): the list holds every nested class, in the JDK or a jar of CP, of each class it names, so such
 * a race changes nothing and the archive is the same on every build.
 */
public final class ClassDataTraining {
  private ClassDataTraining() {}

  /** The end marker of the training lists (train.sh cuts each list at its first load). */
  public static final class End {
    private End() {}

    static int reached(int i) {
      return i;
    }
  }

  private static final String END = "org/apache/spark/examples/ClassDataTraining$End";

  public static void main(String[] args) throws InterruptedException, IOException {
    if (args.length > 0 && args[0].equals("--list")) {
      list(args[1], List.of(args).subList(2, args.length));
      return;
    }
    if (args.length != 1) throw new IllegalArgumentException("usage: ClassDataTraining DIR");
    final String dir = args[0];
    SparkSession spark = SparkSession.builder().appName("sparkcraft class-data training").getOrCreate();
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    List<Integer> ids = new ArrayList<>();
    for (int i = 0; i < 100; i++) ids.add(i);
    long pairs = jsc.parallelize(ids, 2).mapToPair(i -> new Tuple2<>(i % 10, 1)).reduceByKey(Integer::sum).count();
    spark.range(0, 1000).selectExpr("id % 10 AS k", "id").write().mode("overwrite").parquet(dir + "/t");
    long rows = spark.read().parquet(dir + "/t").groupBy("k").count().count();
    long sum = spark.sql("SELECT sum(id) FROM parquet.`" + dir + "/t`").first().getLong(0);
    System.out.println("training: " + pairs + " keys, " + rows + " groups, sum " + sum);
    Thread.sleep(2000);
    jsc.parallelize(ids, 2).map(End::reached).count();
    End.reached(0);
    spark.stop();
  }

  /**
   * The archive's class list: the classes of the built-in loaders each list names before its end
   * marker (a line with {@code source:} is a class of the application's own loader, and a dynamic
   * proxy's {@code $ProxyN} is numbered in the order proxies were made: the archive holds neither),
   * with every nested class (in the JDK or a jar of the class path CP) of
   * the classes among them, then the lambda lines; each part sorted, each line once.
   */
  private static void list(String classPath, List<String> files) throws IOException {
    TreeSet<String> names = new TreeSet<>();
    TreeSet<String> lambdas = new TreeSet<>();
    for (String f : files) {
      boolean ended = false;
      for (String line : Files.readAllLines(Path.of(f))) {
        if (line.startsWith(END + " ")) {
          ended = true;
          break;
        }
        if (line.isEmpty() || line.startsWith("#")) continue;
        if (line.startsWith("@")) lambdas.add(line);
        else if (!line.contains(" source: ") && !line.split(" ", 2)[0].contains("/$Proxy")) names.add(line.split(" ", 2)[0]);
      }
      if (!ended) throw new IllegalStateException(f + " has no end marker: its JVM did not finish the training's jobs");
    }
    TreeSet<String> nested = new TreeSet<>();
    Path modules = FileSystems.getFileSystem(URI.create("jrt:/")).getPath("/modules");
    try (Stream<Path> all = Files.walk(modules)) {
      all.forEach(p -> {
        String rel = modules.relativize(p).toString();
        int slash = rel.indexOf('/');
        if (slash > 0 && rel.endsWith(".class")) nestedOf(names, rel.substring(slash + 1), nested);
      });
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
    for (String jar : classPath.split(":")) {
      try (JarFile j = new JarFile(jar)) {
        j.stream().forEach(e -> nestedOf(names, e.getName(), nested));
      }
    }
    names.addAll(nested);
    StringBuilder out = new StringBuilder("# The classes of the training run (ClassDataTraining), sorted\n");
    for (String n : names) out.append(n).append('\n');
    for (String l : lambdas) out.append(l).append('\n');
    System.out.print(out);
  }

  /** Adds FILE's class to NESTED when it is a nested class of a class NAMES holds ({@code a/B$C.class} of {@code a/B}). */
  private static void nestedOf(TreeSet<String> names, String file, TreeSet<String> nested) {
    if (!file.endsWith(".class") || file.startsWith("META-INF/")) return;
    String name = file.substring(0, file.length() - ".class".length());
    int dollar = name.indexOf('$');
    if (dollar > 0 && names.contains(name.substring(0, dollar))) nested.add(name);
  }
}
