"""Translation of the DLT API to SDP graph elements, with no server."""

import types
from typing import Any, List
from unittest import mock

import pytest

import pyspark.sql.connect.proto as pb2
from pyspark.pipelines.output import MaterializedView, StreamingTable, TemporaryView
from pyspark.sql.types import IntegerType, StructField, StructType

from sluice_pipelines import _extension as ext
from sluice_pipelines import dlt

# `registry` and `spark` fixtures come from conftest.py.


def frame(streaming: bool) -> Any:
    """Stands in for a Connect DataFrame: only isStreaming is looked at."""
    return types.SimpleNamespace(isStreaming=streaming)


def counting(result: Any, name: str = "query") -> Any:
    def query() -> Any:
        query.calls += 1  # type: ignore[attr-defined]
        return result

    query.calls = 0  # type: ignore[attr-defined]
    query.__name__ = name
    return query


def expression_sql(column: Any) -> str:
    plan = column.to_plan(None)
    kind = plan.WhichOneof("expr_type")
    if kind == "unresolved_attribute":
        return plan.unresolved_attribute.unparsed_identifier
    assert kind == "expression_string", kind
    return plan.expression_string.expression


# ------------------------------------------------------------------------------------------
# @dlt.table: kind detection
# ------------------------------------------------------------------------------------------


def test_table_with_batch_query_is_a_materialized_view(registry):
    df = frame(streaming=False)
    query = counting(df, "daily_totals")

    returned = dlt.table(query)
    assert returned is query
    assert registry.calls == []  # deferred until the runner flushes

    dlt._flush_pending()
    kinds = [c[0] for c in registry.calls]
    assert kinds == ["output", "flow"]
    output = registry.output("daily_totals")
    assert isinstance(output, MaterializedView) and not isinstance(output, StreamingTable)
    flow = registry.flow("daily_totals")
    assert flow.target == "daily_totals"
    assert query.calls == 1
    assert flow.func() is df
    assert query.calls == 1  # the flow reuses the DataFrame; the user function runs once


def test_table_with_streaming_query_is_a_streaming_table(registry):
    df = frame(streaming=True)
    query = counting(df, "events_raw")

    dlt.table(comment="raw events")(query)
    dlt._flush_pending()

    output = registry.output("events_raw")
    assert isinstance(output, StreamingTable)
    assert output.comment == "raw events"
    assert registry.flow("events_raw").func() is df
    assert query.calls == 1


def test_table_options_reach_output_and_flow(registry):
    schema = StructType([StructField("id", IntegerType())])

    @dlt.table(
        name="silver",
        comment="c",
        spark_conf={"spark.sql.shuffle.partitions": 4},
        table_properties={"quality": "silver", "delta.enableChangeDataFeed": True},
        partition_cols=["day"],
        cluster_by=["id"],
        schema=schema,
        path="/data/silver",
        temporary=True,
    )
    def ignored_name():
        return frame(streaming=False)

    dlt._flush_pending()
    output = registry.output("silver")
    assert output.table_properties == {"quality": "silver", "delta.enableChangeDataFeed": "true"}
    assert list(output.partition_cols) == ["day"]
    assert list(output.cluster_by) == ["id"]
    assert output.schema is schema
    assert output.extension == {"sluice.temporary": True, "sluice.path": "/data/silver"}
    flow = registry.flow("silver")
    assert flow.spark_conf == {"spark.sql.shuffle.partitions": "4"}
    assert flow.extension == {}


def test_create_table_alias_and_ddl_schema(registry):
    @dlt.create_table(schema="id INT, name STRING")
    def people():
        return frame(streaming=False)

    dlt._flush_pending()
    output = registry.output("people")
    assert output.schema == "id INT, name STRING"
    assert output.extension == {}


def test_table_row_filter_is_not_supported(registry):
    with pytest.raises(NotImplementedError, match="row_filter"):
        dlt.table(row_filter="ROW FILTER f ON (region)")


def test_table_query_must_return_a_dataframe(registry):
    @dlt.table
    def broken():
        return None

    with pytest.raises(TypeError, match="must return a DataFrame"):
        dlt._flush_pending()


def test_table_query_runs_in_the_analysis_context_of_its_flow(spark):
    """With a graph id, the query function is evaluated inside pyspark's analysis context whose
    flow name is the table name."""
    from conftest import RecordingRegistry
    from pyspark.pipelines.graph_element_registry import graph_element_registration_context

    events: List[Any] = []
    spark.client.add_threadlocal_user_context_extension.side_effect = (
        lambda extension: events.append(("add", extension)) or "ext-1"
    )
    spark.client.remove_user_context_extension.side_effect = (
        lambda extension_id: events.append(("remove", extension_id))
    )

    def gold():
        events.append(("query",))
        return frame(streaming=False)

    reg = RecordingRegistry()
    with graph_element_registration_context(reg), dlt._run_scope(spark, "graph-7"):
        dlt.table(gold)
        dlt._flush_pending()

    assert [e[0] for e in events] == ["add", "query", "remove"]
    context = pb2.PipelineAnalysisContext()
    assert events[0][1].Unpack(context)
    assert context.dataflow_graph_id == "graph-7"
    assert context.flow_name == "gold"


# ------------------------------------------------------------------------------------------
# views, materialized views, streaming tables, append flows
# ------------------------------------------------------------------------------------------


def test_view_is_a_temporary_view_whose_flow_runs_the_function(registry):
    query = counting(frame(streaming=True), "cleaned")
    dlt.view(query)
    dlt.view(name="renamed", comment="v", spark_conf={"a": "b"})(counting(frame(False), "x"))
    dlt._flush_pending()

    output = registry.output("cleaned")
    assert isinstance(output, TemporaryView)
    assert registry.output("renamed").comment == "v"
    flow = registry.flow("cleaned")
    assert flow.func is query  # the registry evaluates it, not the dlt module
    assert query.calls == 0
    assert registry.flow("renamed").spark_conf == {"a": "b"}


def test_materialized_view_does_not_need_kind_detection(registry):
    query = counting(frame(streaming=True), "mv")
    dlt.materialized_view(query)
    dlt._flush_pending()
    output = registry.output("mv")
    assert isinstance(output, MaterializedView)
    assert registry.flow("mv").func is query
    assert query.calls == 0


def test_create_streaming_table_carries_expectations_on_the_output(registry):
    dlt.create_streaming_table(
        "customers",
        comment="scd",
        table_properties={"k": "v"},
        path="/tables/customers",
        expect_all={"valid_id": "id IS NOT NULL"},
        expect_all_or_drop={"has_name": "name <> ''", "adult": "age >= 18"},
        expect_all_or_fail={"no_future": "ts <= now()"},
    )
    dlt.create_target_table("legacy")
    dlt._flush_pending()

    output = registry.output("customers")
    assert isinstance(output, StreamingTable)
    assert output.table_properties == {"k": "v"}
    assert output.extension == {
        "sluice.path": "/tables/customers",
        "sluice.expectations": [
            {"name": "valid_id", "condition": "id IS NOT NULL", "action": "warn"},
            {"name": "has_name", "condition": "name <> ''", "action": "drop"},
            {"name": "adult", "condition": "age >= 18", "action": "drop"},
            {"name": "no_future", "condition": "ts <= now()", "action": "fail"},
        ],
    }
    legacy = registry.output("legacy")
    assert isinstance(legacy, StreamingTable) and legacy.extension == {}
    assert registry.of("flow") == []


def test_append_flow(registry):
    @dlt.append_flow(target="all_events")
    def from_kafka():
        raise AssertionError("the recording registry never calls flow functions")

    @dlt.append_flow("all_events", name="backfill", spark_conf={"x": "1"}, once=True)
    def backfill_query():
        return None

    dlt._flush_pending()
    first = registry.flow("from_kafka")
    assert first.target == "all_events" and first.func is from_kafka
    assert first.extension == {}
    second = registry.flow("backfill")
    assert second.target == "all_events"
    assert second.spark_conf == {"x": "1"}
    assert second.extension == {"sluice.once": True}
    assert registry.of("output") == []


# ------------------------------------------------------------------------------------------
# expectations
# ------------------------------------------------------------------------------------------


def test_expectations_below_the_table_decorator(registry):
    @dlt.table
    @dlt.expect("valid_ts", "ts IS NOT NULL")
    @dlt.expect_or_drop("positive", "amount > 0")
    @dlt.expect_or_fail("known_currency", "currency IN ('EUR', 'USD')")
    def payments():
        return frame(streaming=True)

    dlt._flush_pending()
    assert registry.flow("payments").extension == {
        "sluice.expectations": [
            {"name": "valid_ts", "condition": "ts IS NOT NULL", "action": "warn"},
            {"name": "positive", "condition": "amount > 0", "action": "drop"},
            {"name": "known_currency", "condition": "currency IN ('EUR', 'USD')", "action": "fail"},
        ]
    }
    # Expectations of a @dlt.table go to its flow, not its output.
    assert registry.output("payments").extension == {}


def test_expectations_above_and_below_the_table_decorator(registry):
    @dlt.expect("a", "x > 1")
    @dlt.expect_all_or_drop({"b": "y > 2", "c": "z > 3"})
    @dlt.table(name="mixed")
    @dlt.expect_or_fail("d", "w > 4")
    @dlt.expect_all({"e": "v > 5"})
    def query():
        return frame(streaming=False)

    dlt._flush_pending()
    names = [(e["name"], e["action"]) for e in registry.flow("mixed").extension[
        "sluice.expectations"
    ]]
    assert names == [("a", "warn"), ("b", "drop"), ("c", "drop"), ("d", "fail"), ("e", "warn")]


def test_expectations_on_views_and_append_flows(registry):
    @dlt.expect_all_or_fail({"pk": "id IS NOT NULL"})
    @dlt.view
    def staged():
        return frame(streaming=True)

    @dlt.append_flow(target="sink_table", once=True)
    @dlt.expect_or_drop("nonempty", "length(body) > 0")
    def feed():
        return frame(streaming=True)

    dlt._flush_pending()
    assert registry.flow("staged").extension == {
        "sluice.expectations": [{"name": "pk", "condition": "id IS NOT NULL", "action": "fail"}]
    }
    assert registry.flow("feed").extension == {
        "sluice.expectations": [
            {"name": "nonempty", "condition": "length(body) > 0", "action": "drop"}
        ],
        "sluice.once": True,
    }


def test_expectation_arguments_are_checked():
    with pytest.raises(TypeError):
        dlt.expect_all(["not", "a", "dict"])
    with pytest.raises(TypeError):
        dlt.expect(42, "x > 0")


# ------------------------------------------------------------------------------------------
# apply_changes / create_auto_cdc_flow
# ------------------------------------------------------------------------------------------


def test_apply_changes_scd1(registry):
    dlt.create_streaming_table("customers")
    dlt.apply_changes(
        target="customers",
        source="customers_cdc",
        keys=["id"],
        sequence_by="seq",
        apply_as_deletes="op = 'DELETE'",
        except_column_list=["op", "seq"],
    )
    dlt._flush_pending()

    assert [c[0] for c in registry.calls] == ["output", "cdc"]
    flow = registry.flow("customers")
    assert flow.target == "customers" and flow.source == "customers_cdc"
    assert [expression_sql(k) for k in flow.keys] == ["id"]
    assert expression_sql(flow.sequence_by) == "seq"
    assert expression_sql(flow.apply_as_deletes) == "op = 'DELETE'"
    assert [expression_sql(c) for c in flow.except_column_list] == ["op", "seq"]
    assert flow.column_list is None
    assert flow.apply_as_truncates is None
    assert flow.stored_as_scd_type == 1
    assert flow.extension == {}


def test_create_auto_cdc_flow_scd2_extension(registry):
    dlt.create_auto_cdc_flow(
        target="dim_customers",
        source="cdc",
        keys=["id", "region"],
        sequence_by="ts",
        where="region <> 'test'",
        ignore_null_updates=True,
        apply_as_truncates="op = 'TRUNCATE'",
        column_list=["id", "region", "name"],
        stored_as_scd_type="2",
        track_history_column_list=["name"],
        flow_name="dim_flow",
    )
    dlt._flush_pending()

    flow = registry.flow("dim_flow")
    assert flow.target == "dim_customers"
    assert flow.stored_as_scd_type is None
    assert expression_sql(flow.apply_as_truncates) == "op = 'TRUNCATE'"
    assert [expression_sql(c) for c in flow.column_list] == ["id", "region", "name"]
    assert flow.extension == {
        "sluice.scd_type": 2,
        "sluice.ignore_null_updates": True,
        "sluice.track_history_column_list": ["name"],
        "sluice.where": "region <> 'test'",
    }


def test_apply_changes_argument_errors(registry):
    with pytest.raises(ValueError, match="stored_as_scd_type"):
        dlt.apply_changes("t", "s", ["id"], "seq", stored_as_scd_type=3)
    with pytest.raises(ValueError, match="only one of"):
        dlt.apply_changes("t", "s", ["id"], "seq", column_list=["a"], except_column_list=["b"])
    with pytest.raises(ValueError, match="stored_as_scd_type=2"):
        dlt.apply_changes("t", "s", ["id"], "seq", track_history_column_list=["a"])
    with pytest.raises(NotImplementedError, match="ignore_null_updates_column_list"):
        dlt.apply_changes("t", "s", ["id"], "seq", ignore_null_updates_column_list=["a"])
    dlt._flush_pending()
    assert registry.calls == []


def test_definitions_register_in_definition_order(registry):
    dlt.create_streaming_table("target")

    @dlt.view
    def source_view():
        return frame(streaming=True)

    dlt.apply_changes("target", "source_view", ["k"], "seq")

    @dlt.table
    def report():
        return frame(streaming=False)

    dlt._flush_pending()
    order = [(c[0], c[1].name) for c in registry.calls]
    assert order == [
        ("output", "target"),
        ("output", "source_view"),
        ("flow", "source_view"),
        ("cdc", "target"),
        ("output", "report"),
        ("flow", "report"),
    ]


# ------------------------------------------------------------------------------------------
# read / read_stream / unsupported API
# ------------------------------------------------------------------------------------------


def test_read_and_read_stream_use_the_run_session(registry, spark):
    assert dlt.read("LIVE.bronze") is spark.read.table.return_value
    spark.read.table.assert_called_once_with("LIVE.bronze")
    assert dlt.read_stream("bronze") is spark.readStream.table.return_value
    spark.readStream.table.assert_called_once_with("bronze")


def test_read_outside_a_run_is_a_clear_error():
    with pytest.raises(RuntimeError, match="only be used while sluice-dlt runs a pipeline"):
        dlt.read("x")
    with pytest.raises(RuntimeError, match="read_stream"):
        dlt.read_stream("x")


@pytest.mark.parametrize(
    "api",
    [
        "create_sink",
        "foreach_batch_sink",
        "apply_changes_from_snapshot",
        "create_auto_cdc_from_snapshot_flow",
    ],
)
def test_unsupported_api_names_itself(api):
    with pytest.raises(NotImplementedError, match=api):
        getattr(dlt, api)("x", format="delta")


# ------------------------------------------------------------------------------------------
# Commands sent by SluiceGraphElementRegistry
# ------------------------------------------------------------------------------------------


def sluice_registry(spark):
    spark.client.execute_command.return_value = (None, {}, None)
    return ext.SluiceGraphElementRegistry(spark, "graph-1")


def sent(spark) -> List[Any]:
    return [c.args[0].pipeline_command for c in spark.client.execute_command.call_args_list]


def test_extension_struct_round_trip():
    packed = ext.extension_to_any(
        {
            "sluice.once": True,
            "sluice.scd_type": 2,
            "sluice.where": "a > 1",
            "sluice.track_history_column_list": ["a", "b"],
            "sluice.expectations": [{"name": "n", "condition": "c", "action": "drop"}],
        }
    )
    assert packed.type_url == "type.googleapis.com/google.protobuf.Struct"
    assert ext.extension_from_any(packed) == {
        "sluice.once": True,
        "sluice.scd_type": 2.0,
        "sluice.where": "a > 1",
        "sluice.track_history_column_list": ["a", "b"],
        "sluice.expectations": [{"name": "n", "condition": "c", "action": "drop"}],
    }


def test_cdc_command_construction_with_scd2_extension(spark, registry):
    dlt.apply_changes(
        "dim",
        "LIVE.cdc",
        ["id"],
        "ts",
        apply_as_deletes="op = 'D'",
        apply_as_truncates="op = 'T'",
        except_column_list=["op"],
        stored_as_scd_type=2,
        track_history_except_column_list=["updated_at"],
        where="id > 0",
        once=True,
    )
    (flow,) = _pending_flows()
    sluice_registry(spark).register_auto_cdc_flow(flow)

    define, amend = [cmd.define_flow for cmd in sent(spark)]
    assert define.dataflow_graph_id == "graph-1"
    assert define.flow_name == "dim" and define.target_dataset_name == "dim"
    assert define.WhichOneof("details") == "auto_cdc_flow_details"
    assert define.once is True
    details = define.auto_cdc_flow_details
    assert details.source == "LIVE.cdc"
    assert [k.unresolved_attribute.unparsed_identifier for k in details.keys] == ["id"]
    assert details.sequence_by.expression_string.expression == "ts"
    assert details.apply_as_deletes.expression_string.expression == "op = 'D'"
    assert details.apply_as_truncates.expression_string.expression == "op = 'T'"
    assert [c.unresolved_attribute.unparsed_identifier for c in details.except_column_list] == [
        "op"
    ]
    assert len(details.column_list) == 0
    assert details.stored_as_scd_type == pb2.PipelineCommand.DefineFlow.SCDType.SCD_TYPE_UNSPECIFIED
    assert define.source_code_location.file_name.endswith("test_dlt_translation.py")

    assert amend.WhichOneof("details") == "extension"
    assert amend.dataflow_graph_id == "graph-1"
    assert amend.flow_name == "dim" and amend.target_dataset_name == "dim"
    assert ext.extension_from_any(amend.extension) == {
        "sluice.scd_type": 2.0,
        "sluice.track_history_except_column_list": ["updated_at"],
        "sluice.where": "id > 0",
        "sluice.once": True,
    }


def _pending_flows() -> List[Any]:
    """The CDC flow the pending definition would register (run it against a recorder)."""
    from conftest import RecordingRegistry
    from pyspark.pipelines.graph_element_registry import graph_element_registration_context

    recorder = RecordingRegistry()
    with graph_element_registration_context(recorder):
        dlt._flush_pending()
    return [c[1] for c in recorder.calls]


def test_cdc_command_scd1_has_no_extension(spark, registry):
    dlt.apply_changes("t", "s", ["k"], "seq")
    (flow,) = _pending_flows()
    sluice_registry(spark).register_auto_cdc_flow(flow)
    (command,) = sent(spark)
    details = command.define_flow.auto_cdc_flow_details
    assert details.stored_as_scd_type == pb2.PipelineCommand.DefineFlow.SCDType.SCD_TYPE_1
    assert not details.HasField("apply_as_deletes")
    assert not command.define_flow.HasField("once")


def test_flow_command_sets_once_and_sends_expectations_after(spark, registry):
    relation = pb2.Relation()
    relation.read.named_table.unparsed_identifier = "events"
    df = mock.MagicMock(name="df")
    df._plan.plan.return_value = relation

    @dlt.expect_or_drop("ok", "x > 0")
    @dlt.append_flow(target="events_all", once=True, spark_conf={"k": "v"})
    def backfill():
        return df

    (flow,) = _pending_flows()
    sluice_registry(spark).register_flow(flow)

    define, amend = [cmd.define_flow for cmd in sent(spark)]
    assert define.WhichOneof("details") == "relation_flow_details"
    assert define.relation_flow_details.relation == relation
    assert define.flow_name == "backfill" and define.target_dataset_name == "events_all"
    assert dict(define.sql_conf) == {"k": "v"}
    assert define.once is True
    assert amend.WhichOneof("details") == "extension"
    assert amend.flow_name == "backfill" and amend.target_dataset_name == "events_all"
    assert ext.extension_from_any(amend.extension) == {
        "sluice.expectations": [{"name": "ok", "condition": "x > 0", "action": "drop"}],
        "sluice.once": True,
    }


def test_flow_without_extension_sends_one_command(spark, registry):
    df = mock.MagicMock(name="df")
    df._plan.plan.return_value = pb2.Relation()

    @dlt.view
    def plain():
        return df

    calls = _pending_flows()
    reg = sluice_registry(spark)
    for element in calls:
        if isinstance(element, TemporaryView):
            reg.register_output(element)
        else:
            reg.register_flow(element)
    output_cmd, flow_cmd = sent(spark)
    assert output_cmd.define_output.output_type == pb2.OutputType.TEMPORARY_VIEW
    assert output_cmd.define_output.WhichOneof("details") is None
    assert flow_cmd.define_flow.WhichOneof("details") == "relation_flow_details"
    assert not flow_cmd.define_flow.HasField("once")


def test_output_command_then_extension_amendment(spark, registry):
    @dlt.table(temporary=True, path="/p", table_properties={"a": "b"})
    def tmp():
        return frame(streaming=True)

    output = _pending_flows()[0]
    sluice_registry(spark).register_output(output)
    define, amend = [cmd.define_output for cmd in sent(spark)]
    assert define.output_name == "tmp" and define.output_type == pb2.OutputType.TABLE
    assert define.WhichOneof("details") == "table_details"
    assert dict(define.table_details.table_properties) == {"a": "b"}
    assert amend.output_name == "tmp" and amend.output_type == pb2.OutputType.TABLE
    assert amend.dataflow_graph_id == "graph-1"
    assert amend.WhichOneof("details") == "extension"
    assert ext.extension_from_any(amend.extension) == {
        "sluice.temporary": True,
        "sluice.path": "/p",
    }
