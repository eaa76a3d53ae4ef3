package io.panscore.spark;

import org.apache.spark.sql.SparkSession;

/**
 * The local Spark session the Spark tests share the settings of: two executor threads, no UI,
 * bound to loopback (CI machines may have no resolvable host name), warnings only. Stopping it
 * also frees the engines the job's executors cached.
 */
final class LocalSpark {

    private LocalSpark() {}

    static SparkSession start(String appName, int shufflePartitions) {
        SparkSession spark = SparkSession.builder().master("local[2]").appName(appName).config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.sql.shuffle.partitions", Integer.toString(shufflePartitions)).getOrCreate();
        spark.sparkContext().setLogLevel("WARN");
        return spark;
    }

    /** Stops {@code spark} (null: nothing started) and frees the cached engines. */
    static void stop(SparkSession spark) {
        if (spark != null) {
            spark.stop();
        }
        EnginePool.closeIdle();
    }
}
