"""Sluice-specific metadata for pipeline graph elements, and the registry that sends it.

The Databricks DLT API has features that the Spark Declarative Pipelines (SDP) protocol has
no field for (expectations, SCD type 2, ``where`` on CDC flows, ...). The ``dlt`` module of
this package records them in an *extension* dictionary whose keys all start with ``sluice.``
and that travels on subclasses of pyspark's own graph element dataclasses.

On the wire, ``DefineOutput.extension`` / ``DefineFlow.extension`` are members of the same
``details`` oneof as ``table_details`` / ``relation_flow_details`` / ``auto_cdc_flow_details``,
so one command cannot carry both. :class:`SluiceGraphElementRegistry` therefore sends the
ordinary definition first (exactly the fields stock pyspark sends) and, only when the
extension is not empty, a second command of the same kind naming the same graph element whose
``details`` is the ``extension``: a ``google.protobuf.Any`` packing a
``google.protobuf.Struct``. The server treats such an extension-only command as an amendment
of the element defined just before it.
"""

from __future__ import annotations

import dataclasses
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, ContextManager, Dict, List, Mapping, Optional

from pyspark.pipelines.flow import Flow
from pyspark.pipelines.output import (
    MaterializedView,
    Output,
    StreamingTable,
    TemporaryView,
)
from pyspark.pipelines.source_code_location import SourceCodeLocation
from pyspark.pipelines.spark_connect_graph_element_registry import (
    SparkConnectGraphElementRegistry,
)

try:  # pyspark >= 4.2
    from pyspark.pipelines.flow import AutoCdcFlow as _AutoCdcFlowBase
except ImportError:  # pragma: no cover - older pyspark without Auto CDC support
    _AutoCdcFlowBase = None  # type: ignore[assignment,misc]

try:
    from pyspark.pipelines.add_pipeline_analysis_context import (
        add_pipeline_analysis_context as _add_pipeline_analysis_context,
    )
except ImportError:  # pragma: no cover - older pyspark
    _add_pipeline_analysis_context = None  # type: ignore[assignment]


# Extension keys. Kept in one place so the server side has a single list to read.
KEY_EXPECTATIONS = "sluice.expectations"
KEY_TEMPORARY = "sluice.temporary"
KEY_PATH = "sluice.path"
KEY_ONCE = "sluice.once"
KEY_SCD_TYPE = "sluice.scd_type"
KEY_IGNORE_NULL_UPDATES = "sluice.ignore_null_updates"
KEY_TRACK_HISTORY_COLUMN_LIST = "sluice.track_history_column_list"
KEY_TRACK_HISTORY_EXCEPT_COLUMN_LIST = "sluice.track_history_except_column_list"
KEY_WHERE = "sluice.where"

ACTION_WARN = "warn"
ACTION_DROP = "drop"
ACTION_FAIL = "fail"


# --------------------------------------------------------------------------------------------
# Graph element dataclasses that carry an extension.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SluiceMaterializedView(MaterializedView):
    extension: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SluiceStreamingTable(StreamingTable):
    extension: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SluiceTemporaryView(TemporaryView):
    extension: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SluiceFlow(Flow):
    extension: Mapping[str, Any] = field(default_factory=dict)


if _AutoCdcFlowBase is not None:

    @dataclass(frozen=True)
    class SluiceAutoCdcFlow(_AutoCdcFlowBase):  # type: ignore[valid-type,misc]
        """An Auto CDC flow with the DLT arguments pyspark's AutoCdcFlow has no field for.

        ``stored_as_scd_type`` is 1 or None; SCD type 2 is expressed by the
        ``sluice.scd_type`` extension key.
        """

        apply_as_truncates: Any = None
        extension: Mapping[str, Any] = field(default_factory=dict)

else:  # pragma: no cover - older pyspark

    @dataclass(frozen=True)
    class SluiceAutoCdcFlow:  # type: ignore[no-redef]
        name: Optional[str]
        target: str
        source: str
        keys: List[Any]
        sequence_by: Any
        apply_as_deletes: Any
        column_list: Optional[List[Any]]
        except_column_list: Optional[List[Any]]
        stored_as_scd_type: Any
        source_code_location: SourceCodeLocation
        apply_as_truncates: Any = None
        extension: Mapping[str, Any] = field(default_factory=dict)


def build_element(cls: type, **kwargs: Any) -> Any:
    """Instantiate a pyspark graph element dataclass, dropping keyword arguments that this
    pyspark version's dataclass does not have, as long as they are unset (None)."""
    names = {f.name for f in dataclasses.fields(cls)}
    for key in list(kwargs):
        if key not in names:
            if kwargs[key] is not None:
                raise TypeError(
                    f"{cls.__name__}: '{key}' is not supported by the installed pyspark version"
                )
            del kwargs[key]
    return cls(**kwargs)


def extension_of(element: Any) -> Dict[str, Any]:
    """The sluice extension of a graph element (empty for plain pyspark elements)."""
    return dict(getattr(element, "extension", None) or {})


def analysis_context(
    spark: Any, dataflow_graph_id: Optional[str], flow_name: Optional[str]
) -> ContextManager[None]:
    """pyspark's pipeline analysis context when there is a session and a graph, else a no-op."""
    if spark is None or dataflow_graph_id is None or _add_pipeline_analysis_context is None:
        return nullcontext()
    return _add_pipeline_analysis_context(
        spark=spark, dataflow_graph_id=dataflow_graph_id, flow_name=flow_name
    )


# --------------------------------------------------------------------------------------------
# Wire format of the extension.
# --------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Convert an extension value to something ``Struct.update`` accepts."""
    if isinstance(value, (bool, str, int, float)) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    raise TypeError(f"unsupported value in a sluice extension: {value!r}")


def extension_to_any(extension: Mapping[str, Any]) -> Any:
    """Pack an extension dictionary as ``Any(Struct)``."""
    from google.protobuf import any_pb2, struct_pb2

    struct = struct_pb2.Struct()
    struct.update(_plain(dict(extension)))
    packed = any_pb2.Any()
    packed.Pack(struct)
    return packed


def extension_from_any(packed: Any) -> Dict[str, Any]:
    """Unpack ``Any(Struct)`` into a dictionary (numbers come back as floats)."""
    from google.protobuf import json_format, struct_pb2

    struct = struct_pb2.Struct()
    if not packed.Unpack(struct):
        raise ValueError(f"extension does not hold a google.protobuf.Struct: {packed.type_url}")
    return json_format.MessageToDict(struct)


# --------------------------------------------------------------------------------------------
# Commands.
# --------------------------------------------------------------------------------------------


def _pb2() -> Any:
    import pyspark.sql.connect.proto as pb2

    return pb2


def _location_proto(location: Optional[SourceCodeLocation]) -> Any:
    pb2 = _pb2()
    if location is None:
        return None
    return pb2.SourceCodeLocation(file_name=location.filename, line_number=location.line_number)


def _has_field(message_class: Any, name: str) -> bool:
    return name in message_class.DESCRIPTOR.fields_by_name


def output_type_of(output: Output) -> Any:
    pb2 = _pb2()
    if isinstance(output, MaterializedView):
        return pb2.OutputType.MATERIALIZED_VIEW
    if isinstance(output, StreamingTable):
        return pb2.OutputType.TABLE
    if isinstance(output, TemporaryView):
        return pb2.OutputType.TEMPORARY_VIEW
    raise TypeError(f"no sluice extension can be attached to a {type(output).__name__}")


def _wrap(field_name: str, inner: Any) -> Any:
    pb2 = _pb2()
    command = pb2.Command()
    getattr(command.pipeline_command, field_name).CopyFrom(inner)
    return command


def output_extension_command(
    dataflow_graph_id: str, output: Output, extension: Mapping[str, Any]
) -> Any:
    """The extension-only DefineOutput that amends ``output``."""
    pb2 = _pb2()
    define = pb2.PipelineCommand.DefineOutput
    if not _has_field(define, "extension"):
        raise NotImplementedError(
            "the installed pyspark has no DefineOutput.extension field; "
            "sluice-specific table options need pyspark-client >= 4.2"
        )
    inner = define(
        dataflow_graph_id=dataflow_graph_id,
        output_name=output.name,
        output_type=output_type_of(output),
        extension=extension_to_any(extension),
    )
    return _wrap("define_output", inner)


def flow_extension_command(
    dataflow_graph_id: str,
    flow_name: str,
    target: str,
    extension: Mapping[str, Any],
) -> Any:
    """The extension-only DefineFlow that amends the flow ``flow_name``."""
    pb2 = _pb2()
    define = pb2.PipelineCommand.DefineFlow
    if not _has_field(define, "extension"):
        raise NotImplementedError(
            "the installed pyspark has no DefineFlow.extension field; "
            "expectations and other sluice flow options need pyspark-client >= 4.2"
        )
    inner = define(
        dataflow_graph_id=dataflow_graph_id,
        flow_name=flow_name,
        target_dataset_name=target,
        extension=extension_to_any(extension),
    )
    if extension.get(KEY_ONCE) and _has_field(define, "once"):
        inner.once = True
    return _wrap("define_flow", inner)


def relation_flow_command(
    dataflow_graph_id: str,
    flow: Flow,
    relation: Any,
    once: bool = False,
) -> Any:
    """The DefineFlow for a flow whose query is ``relation`` (a Connect ``Relation``)."""
    pb2 = _pb2()
    define = pb2.PipelineCommand.DefineFlow
    inner = define(
        dataflow_graph_id=dataflow_graph_id,
        flow_name=flow.name,
        target_dataset_name=flow.target,
        sql_conf={str(k): str(v) for k, v in (flow.spark_conf or {}).items()},
        source_code_location=_location_proto(flow.source_code_location),
        relation_flow_details=define.WriteRelationFlowDetails(relation=relation),
    )
    if once and _has_field(define, "once"):
        inner.once = True
    return _wrap("define_flow", inner)


def auto_cdc_flow_command(dataflow_graph_id: str, flow: Any, client: Any) -> Any:
    """The DefineFlow with ``auto_cdc_flow_details`` for a :class:`SluiceAutoCdcFlow`
    (or pyspark's own AutoCdcFlow). ``client`` turns Connect Columns into expressions."""
    pb2 = _pb2()
    define = pb2.PipelineCommand.DefineFlow
    if not _has_field(define, "auto_cdc_flow_details"):
        raise NotImplementedError(
            "the installed pyspark has no Auto CDC support; "
            "dlt.apply_changes needs pyspark-client >= 4.2"
        )

    def expression(column: Any) -> Any:
        return column.to_plan(client)

    def expressions(columns: Optional[List[Any]]) -> List[Any]:
        return [expression(c) for c in (columns or [])]

    details = define.AutoCdcFlowDetails(
        source=flow.source,
        keys=expressions(flow.keys),
        sequence_by=expression(flow.sequence_by),
        column_list=expressions(flow.column_list),
        except_column_list=expressions(flow.except_column_list),
    )
    if flow.apply_as_deletes is not None:
        details.apply_as_deletes.CopyFrom(expression(flow.apply_as_deletes))
    truncates = getattr(flow, "apply_as_truncates", None)
    if truncates is not None:
        details.apply_as_truncates.CopyFrom(expression(truncates))

    extension = extension_of(flow)
    scd_type = extension.get(KEY_SCD_TYPE)
    if scd_type is None and flow.stored_as_scd_type is not None:
        if str(flow.stored_as_scd_type) != "1":
            raise ValueError(f"unsupported stored_as_scd_type {flow.stored_as_scd_type!r}")
        details.stored_as_scd_type = define.SCDType.SCD_TYPE_1
    # SCD type 2 has no enum value in the protocol: stored_as_scd_type stays unspecified and
    # the extension says 2.

    inner = define(
        dataflow_graph_id=dataflow_graph_id,
        flow_name=flow.name if flow.name is not None else flow.target,
        target_dataset_name=flow.target,
        sql_conf={},
        source_code_location=_location_proto(flow.source_code_location),
        auto_cdc_flow_details=details,
    )
    if extension.get(KEY_ONCE) and _has_field(define, "once"):
        inner.once = True
    return _wrap("define_flow", inner)


# --------------------------------------------------------------------------------------------
# The registry the runner uses.
# --------------------------------------------------------------------------------------------

class SluiceGraphElementRegistry(SparkConnectGraphElementRegistry):
    """A Spark Connect graph element registry that also sends sluice extensions.

    Outputs are defined by pyspark's own code; flows and Auto CDC flows are defined here so
    that ``once``, ``apply_as_truncates`` and SCD type 2 reach the server. Whenever an element
    has a non-empty extension, an extension-only command for it follows its definition.
    """

    @property
    def dataflow_graph_id(self) -> str:
        return self._dataflow_graph_id

    def _send(self, command: Any) -> None:
        self._client.execute_command(command)

    def register_output(self, output: Output) -> None:
        super().register_output(output)
        extension = extension_of(output)
        if extension:
            self._send(output_extension_command(self._dataflow_graph_id, output, extension))

    def register_flow(self, flow: Flow) -> None:
        with analysis_context(self._spark, self._dataflow_graph_id, flow.name):
            df = flow.func()
        plan = getattr(df, "_plan", None)
        if plan is None:
            raise TypeError(
                f"the query function of flow '{flow.name}' must return a Spark Connect "
                f"DataFrame, got {type(df).__name__}"
            )
        relation = plan.plan(self._client)
        extension = extension_of(flow)
        once = bool(extension.get(KEY_ONCE))
        self._send(relation_flow_command(self._dataflow_graph_id, flow, relation, once=once))
        if extension:
            self._send(
                flow_extension_command(self._dataflow_graph_id, flow.name, flow.target, extension)
            )

    def register_auto_cdc_flow(self, flow: Any) -> None:
        self._send(auto_cdc_flow_command(self._dataflow_graph_id, flow, self._client))
        extension = extension_of(flow)
        if extension:
            name = flow.name if flow.name is not None else flow.target
            self._send(flow_extension_command(self._dataflow_graph_id, name, flow.target, extension))
