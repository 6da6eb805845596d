"""window(): tumbling and sliding time windows in groupBy and select, and their errors."""

from pyspark.sql import functions as F

from cases import C, E


def events(s):
    return s.createDataFrame(
        [("a", "2024-01-01 00:01:00"), ("b", "2024-01-01 00:04:00"), ("a", "2024-01-01 00:07:00"),
         ("a", "2024-01-01 00:12:00"), ("b", None)],
        "k string, t string",
    ).select("k", F.to_timestamp("t").alias("ts"))


def flat(df, *keys):
    """The window struct as two columns, so rows sort and compare plainly."""
    return df.select(F.col("window.start").alias("ws"), F.col("window.end").alias("we"), *keys)


CASES = [
    C("tumbling_group", lambda s, t: flat(events(s).groupBy(F.window("ts", "10 minutes"), "k").count(), "k", "count")),
    C("sliding_group", lambda s, t: flat(events(s).groupBy(F.window("ts", "10 minutes", "5 minutes"), "k").count(), "k", "count")),
    C("sliding_uneven_slide", lambda s, t: flat(events(s).groupBy(F.window("ts", "10 minutes", "3 minutes")).agg(F.count("*").alias("n")), "n")),
    C("sliding_with_start_time", lambda s, t: flat(events(s).groupBy(F.window("ts", "10 minutes", "5 minutes", "2 minutes")).count(), "count")),
    C("sliding_select_one_row_per_window", lambda s, t: flat(events(s).select(F.window("ts", "15 minutes", "5 minutes"), "k"), "k")),
    C("sliding_schema", lambda s, t: events(s).groupBy(F.window("ts", "10 minutes", "5 minutes")).count().schema.simpleString()),
    E("slide_longer_than_window", lambda s, t: events(s).groupBy(F.window("ts", "10 minutes", "15 minutes")).count().collect(), contains="must be <= the `window_duration`"),
    E("start_time_not_below_slide", lambda s, t: events(s).groupBy(F.window("ts", "10 minutes", "5 minutes", "5 minutes")).count().collect(), contains="must be < the `slide_duration`"),
    E("two_windows_in_one_select", lambda s, t: events(s).select(F.window("ts", "10 minutes", "5 minutes"), F.window("ts", "10 minutes", "2 minutes")).collect(), contains="Multiple time/session window expressions"),
]
