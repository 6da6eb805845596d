"""sluice-pipelines: run Databricks Delta Live Tables (``import dlt``) Python pipelines on a
sluice Spark Connect server.

The DLT-compatible module is :mod:`sluice_pipelines.dlt`; it is only made importable as plain
``dlt`` by the ``sluice-dlt`` runner (:mod:`sluice_pipelines.runner`) while pipeline files run.
Importing this package has no side effects on ``sys.modules``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
