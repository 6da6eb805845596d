"""Client-side helpers shared by the tests, the recorder and the benchmark."""


def new_session(url: str):
    """A new Spark Connect session (its own session id) on `url`."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.remote(url)
    return builder.create() if hasattr(builder, "create") else builder.getOrCreate()


def stop_quietly(session) -> None:
    try:
        session.stop()
    except Exception:
        pass


def quiet_pyspark_loggers() -> None:
    """PySpark 4 logs every server error that has a query context as a JSON line on
    stderr; the suite provokes hundreds of them on purpose."""
    try:
        from pyspark.logger import PySparkLogger
    except ImportError:  # pyspark 3.5
        return
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).disabled = True
