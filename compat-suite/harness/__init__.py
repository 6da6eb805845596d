"""Shared machinery of the compat suite: used by pytest (conftest, tests) and by record_spark.py."""
