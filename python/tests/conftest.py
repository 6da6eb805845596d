from pathlib import Path
from typing import Any, List, Tuple
from unittest import mock

import pytest

from pyspark.pipelines.graph_element_registry import (
    GraphElementRegistry,
    graph_element_registration_context,
)

from sluice_pipelines import dlt as sluice_dlt


class RecordingRegistry(GraphElementRegistry):
    """Records what is registered; never calls flow functions (there is no server)."""

    def __init__(self) -> None:
        self.calls: List[Tuple[Any, ...]] = []

    def register_output(self, output: Any) -> None:
        self.calls.append(("output", output))

    def register_flow(self, flow: Any) -> None:
        self.calls.append(("flow", flow))

    def register_auto_cdc_flow(self, flow: Any) -> None:
        self.calls.append(("cdc", flow))

    def register_sql(self, sql_text: str, file_path: Path) -> None:
        self.calls.append(("sql", sql_text, Path(file_path)))

    def of(self, kind: str) -> List[Any]:
        return [c[1] for c in self.calls if c[0] == kind]

    def output(self, name: str) -> Any:
        (found,) = [o for o in self.of("output") if o.name == name]
        return found

    def flow(self, name: str) -> Any:
        (found,) = [f for f in self.of("flow") + self.of("cdc") if f.name == name]
        return found


@pytest.fixture
def spark() -> mock.MagicMock:
    return mock.MagicMock(name="spark")


@pytest.fixture
def registry(spark: mock.MagicMock):
    """An active recording registry and a dlt run scope (no graph id: no analysis context)."""
    reg = RecordingRegistry()
    with graph_element_registration_context(reg), sluice_dlt._run_scope(spark, None):
        yield reg
