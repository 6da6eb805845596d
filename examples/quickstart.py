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
spark.stop()
