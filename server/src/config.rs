//! Session configuration: Spark SQL keys with Spark's defaults. The client reads several of
//! these on its own (time zone, Arrow and local-relation settings, plan compression), so
//! they must exist; unknown keys set by users are stored as given.
use std::collections::BTreeMap;

/// Spark 4 defaults for keys clients read or sluice honours.
const DEFAULTS: &[(&str, &str)] = &[
    ("spark.sql.ansi.enabled", "true"),
    ("spark.sql.caseSensitive", "false"),
    ("spark.sql.session.timeZone", "UTC"),
    ("spark.sql.timestampType", "TIMESTAMP_LTZ"),
    ("spark.sql.shuffle.partitions", "200"),
    ("spark.sql.execution.arrow.useLargeVarTypes", "false"),
    ("spark.sql.execution.arrow.pyspark.enabled", "false"),
    (
        "spark.sql.execution.arrow.pyspark.selfDestruct.enabled",
        "false",
    ),
    ("spark.sql.execution.arrow.maxRecordsPerBatch", "10000"),
    (
        "spark.sql.execution.pandas.convertToArrowArraySafely",
        "false",
    ),
    ("spark.sql.execution.pandas.inferPandasDictAsMap", "false"),
    ("spark.sql.execution.pandas.structHandlingMode", "legacy"),
    ("spark.sql.execution.pyspark.binaryAsBytes", "true"),
    ("spark.sql.pyspark.inferNestedDictAsStruct.enabled", "false"),
    ("spark.sql.pyspark.jvmStacktrace.enabled", "false"),
    (
        "spark.sql.pyspark.legacy.inferArrayTypeFromFirstElement.enabled",
        "false",
    ),
    (
        "spark.sql.pyspark.legacy.inferMapTypeFromFirstPair.enabled",
        "false",
    ),
    ("spark.sql.connect.serverStacktrace.enabled", "false"),
    ("spark.sql.repl.eagerEval.enabled", "false"),
    ("spark.sql.repl.eagerEval.maxNumRows", "20"),
    ("spark.sql.repl.eagerEval.truncate", "20"),
    ("spark.sql.session.localRelationCacheThreshold", "67108864"),
    ("spark.sql.session.localRelationSizeLimit", "3221225472"),
    ("spark.sql.session.localRelationChunkSizeRows", "10000"),
    ("spark.sql.session.localRelationChunkSizeBytes", "16777216"),
    (
        "spark.sql.session.localRelationBatchOfChunksSizeBytes",
        "134217728",
    ),
    (
        "spark.connect.session.planCompression.threshold",
        "10485760",
    ),
    (
        "spark.connect.session.planCompression.defaultAlgorithm",
        "ZSTD",
    ),
    ("spark.sql.sources.default", "parquet"),
    ("spark.sql.artifact.isolation.enabled", "true"),
    (
        "spark.sql.artifact.isolation.alwaysApplyClassloader",
        "false",
    ),
    ("spark.app.name", "sluice"),
    ("spark.master", "local[*]"),
    ("spark.api.mode", "connect"),
];

/// Keys that describe the server and cannot change per session.
const STATIC: &[&str] = &["spark.sql.warehouse.dir", "spark.master", "spark.app.name"];

#[derive(Debug, Clone)]
pub struct SessionConfig {
    values: BTreeMap<String, String>,
}

/// The Spark default of `key`, when sluice seeds one.
fn default_of(key: &str) -> Option<&'static str> {
    DEFAULTS.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

impl SessionConfig {
    pub fn new(warehouse: &str, time_zone: &str) -> Self {
        let mut values: BTreeMap<String, String> = DEFAULTS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        values.insert("spark.sql.warehouse.dir".into(), warehouse.to_string());
        values.insert("spark.sql.session.timeZone".into(), time_zone.to_string());
        Self { values }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.values.insert(key.to_string(), value.to_string());
    }

    pub fn unset(&mut self, key: &str) {
        match default_of(key) {
            Some(v) => self.values.insert(key.to_string(), v.to_string()),
            None => self.values.remove(key),
        };
    }

    /// Static keys are fixed when the server starts; a session may not set them.
    pub fn is_static(&self, key: &str) -> bool {
        STATIC.contains(&key)
    }

    /// Spark's `isModifiable`: a SQL configuration that is not static. Other keys can be
    /// set and read back, but Spark answers false for them.
    pub fn is_modifiable(&self, key: &str) -> bool {
        let sql_conf = key.starts_with("spark.sql.") || default_of(key).is_some();
        sql_conf && !self.is_static(key)
    }

    pub fn all(&self, prefix: Option<&str>) -> Vec<(String, String)> {
        self.values
            .iter()
            .filter(|(k, _)| prefix.is_none_or(|p| k.starts_with(p)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub fn flag(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    pub fn planner_config(&self) -> planner::PlannerConfig {
        planner::PlannerConfig {
            time_zone: self
                .get("spark.sql.session.timeZone")
                .unwrap_or("UTC")
                .to_string(),
            ansi: self.flag("spark.sql.ansi.enabled"),
            case_sensitive: self.flag("spark.sql.caseSensitive"),
        }
    }
}
