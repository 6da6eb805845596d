"""A first PySpark session against sluice: DataFrames, SQL, show(), a Delta table."""
import os
import tempfile

from pyspark.sql import SparkSession, functions as F

spark = SparkSession.builder.remote(os.environ.get("SPARK_REMOTE", "sc://localhost:15002")).getOrCreate()
print("server reports Spark", spark.version)

orders = spark.createDataFrame(
    [(1, "books", 12.5), (2, "games", 30.0), (3, "books", 7.25), (4, "music", None)],
    "id INT, category STRING, amount DOUBLE",
)
orders.groupBy("category").agg(F.count("*"), F.sum("amount")).orderBy("category").show()

orders.createOrReplaceTempView("orders")
spark.sql("SELECT category, round(avg(amount), 2) AS avg_amount FROM orders GROUP BY category ORDER BY 1").show()

print(spark.range(10_000_000).selectExpr("sum(id)").collect())

# A Delta table: written, changed in SQL, read back at an older version.
path = os.path.join(tempfile.mkdtemp(prefix="sluice-quickstart-"), "orders")
orders.write.format("delta").save(path)
spark.sql(f"UPDATE delta.`{path}` SET amount = 0 WHERE amount IS NULL")
spark.sql(f"DESCRIBE HISTORY delta.`{path}`").select("version", "operation").show()
spark.read.format("delta").option("versionAsOf", 0).load(path).orderBy("id").show()

# Streaming: Auto Loader takes each new JSON file once, into a Delta table.
work = tempfile.mkdtemp(prefix="sluice-stream-")
landing = os.path.join(work, "landing")
os.makedirs(landing)
for n in range(3):
    with open(os.path.join(landing, f"events-{n}.json"), "w") as f:
        f.write("".join(f'{{"id": {n * 10 + i}, "kind": "{"ab"[i % 2]}"}}\n' for i in range(4)))


def ingest():
    q = (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .option("cloudFiles.schemaLocation", os.path.join(work, "schema"))
        .load(landing)
        .withColumn("ingested_at", F.current_timestamp())
        .writeStream.format("delta")
        .option("checkpointLocation", os.path.join(work, "checkpoint"))
        .trigger(availableNow=True)
        .start(os.path.join(work, "bronze"))
    )
    q.awaitTermination()
    return q.lastProgress["numInputRows"] if q.lastProgress else 0


print("first run ingested", ingest(), "rows")
with open(os.path.join(landing, "events-3.json"), "w") as f:
    f.write('{"id": 99, "kind": "a"}\n')
print("second run ingested", ingest(), "rows (only the new file)")
spark.read.format("delta").load(os.path.join(work, "bronze")).groupBy("kind").count().orderBy("kind").show()
spark.stop()
