//! Table properties Delta checks when they are set (CREATE TABLE, a write that creates or
//! replaces a table): a value a property cannot hold fails the statement with
//! IllegalArgumentException naming the property, as Delta's `DeltaConfigs` does, instead of
//! being stored and read back as the default.
use std::collections::HashMap;

use crate::error::{DeltaError, DeltaResult};

/// A property sluice reads, how Delta parses it, and Delta's help text for a bad value.
struct Checked {
    key: &'static str,
    valid: fn(&str) -> ParseOutcome,
    help: &'static str,
}

/// Delta tells a value that does not parse (the bare message) from one that parses but is
/// out of range (`require` adds "requirement failed: ").
#[derive(PartialEq)]
enum ParseOutcome {
    Valid,
    Unparsable,
    OutOfRange,
}

/// Java's `Integer.parseInt` (no spaces, optional sign, 32 bits), then `> 0`.
fn positive_int(v: &str) -> ParseOutcome {
    match v.parse::<i32>() {
        Ok(n) if n > 0 => ParseOutcome::Valid,
        Ok(_) => ParseOutcome::OutOfRange,
        Err(_) => ParseOutcome::Unparsable,
    }
}

/// Scala's `toBoolean`: `true` or `false`, any case.
fn boolean(v: &str) -> ParseOutcome {
    if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") {
        ParseOutcome::Valid
    } else {
        ParseOutcome::Unparsable
    }
}

const CHECKED: &[Checked] = &[
    Checked {
        key: "delta.checkpointInterval",
        valid: positive_int,
        help: "needs to be a positive integer.",
    },
    Checked {
        key: "delta.enableExpiredLogCleanup",
        valid: boolean,
        help: "needs to be a boolean.",
    },
];

/// The `delta.*` table properties Delta defines (its DeltaConfigs); any other `delta.*` key
/// is one Delta refuses as unknown.
const DELTA_KEYS: &[&str] = &[
    "delta.appendOnly",
    "delta.autoOptimize.autoCompact",
    "delta.autoOptimize.optimizeWrite",
    "delta.checkpoint.writeStatsAsJson",
    "delta.checkpoint.writeStatsAsStruct",
    "delta.checkpointInterval",
    "delta.checkpointPolicy",
    "delta.checkpointRetentionDuration",
    "delta.columnMapping.maxColumnId",
    "delta.columnMapping.mode",
    "delta.compatibility.symlinkFormatManifest.enabled",
    "delta.dataSkippingNumIndexedCols",
    "delta.dataSkippingStatsColumns",
    "delta.deletedFileRetentionDuration",
    "delta.enableChangeDataFeed",
    "delta.enableDeletionVectors",
    "delta.enableExpiredLogCleanup",
    "delta.enableIcebergCompatV1",
    "delta.enableIcebergCompatV2",
    "delta.enableInCommitTimestamps",
    "delta.enableRowTracking",
    "delta.enableTypeWidening",
    "delta.isolationLevel",
    "delta.logRetentionDuration",
    "delta.minReaderVersion",
    "delta.minWriterVersion",
    "delta.parquet.compression.codec",
    "delta.randomPrefixLength",
    "delta.randomizeFilePrefixes",
    "delta.sampleRetentionDuration",
    "delta.setTransactionRetentionDuration",
    "delta.targetFileSize",
    "delta.tuneFileSizesForRewrites",
    "delta.universalFormat.enabledFormats",
];

/// Whether Delta knows `key` (case-insensitive, as Delta matches keys). Table features
/// (`delta.feature.<name>`) and constraints are families of their own.
fn known_delta_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    lower.starts_with("delta.feature.")
        || lower.starts_with("delta.constraints.")
        || DELTA_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
}

/// Fails on the first property (keys case-insensitive, as Delta matches them) that Delta
/// would refuse: an unknown `delta.*` key, or a value the property cannot hold.
pub fn validate(properties: &HashMap<String, String>) -> DeltaResult<()> {
    let mut unknown: Vec<&String> = properties
        .keys()
        .filter(|k| k.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("delta.")))
        .filter(|k| !known_delta_key(k))
        .collect();
    unknown.sort();
    if let Some(key) = unknown.first() {
        return Err(DeltaError::Analysis(format!(
            "[DELTA_UNKNOWN_CONFIGURATION] Unknown configuration was specified: {key}\nTo disable this check, set spark.databricks.delta.allowArbitraryProperties.enabled=true in the Spark session configuration."
        )));
    }
    for (key, value) in properties {
        let Some(c) = CHECKED.iter().find(|c| c.key.eq_ignore_ascii_case(key)) else {
            continue;
        };
        let prefix = match (c.valid)(value) {
            ParseOutcome::Valid => continue,
            ParseOutcome::Unparsable => "",
            ParseOutcome::OutOfRange => "requirement failed: ",
        };
        return Err(DeltaError::IllegalArgument(format!(
            "{prefix}{} {}",
            c.key, c.help
        )));
    }
    Ok(())
}

/// The table's `delta.checkpointInterval`; `None` when unset or (written by another tool)
/// not a value Delta accepts.
pub(crate) fn checkpoint_interval(configuration: &HashMap<String, String>) -> Option<i64> {
    let v = configuration.get("delta.checkpointInterval")?;
    (positive_int(v) == ParseOutcome::Valid)
        .then(|| v.parse::<i64>().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(key: &str, value: &str) -> Result<(), String> {
        validate(&HashMap::from([(key.to_string(), value.to_string())])).map_err(|e| e.to_string())
    }

    #[test]
    fn checkpoint_interval_as_delta_validates_it() {
        let bad = "delta.checkpointInterval needs to be a positive integer.";
        for (value, want) in [
            ("10", Ok(())),
            ("+3", Ok(())),
            ("0", Err(format!("requirement failed: {bad}"))),
            ("-1", Err(format!("requirement failed: {bad}"))),
            ("abc", Err(bad.to_string())),
            (" 5", Err(bad.to_string())),
            ("3000000000", Err(bad.to_string())),
        ] {
            assert_eq!(check("delta.checkpointInterval", value), want, "{value}");
        }
        assert!(check("DELTA.CHECKPOINTINTERVAL", "0").is_err());
        assert!(check("other", "0").is_ok());
    }

    #[test]
    fn unknown_delta_keys_are_refused_by_name() {
        let err = check("delta.noSuchThing", "1").unwrap_err();
        assert!(err.starts_with("[DELTA_UNKNOWN_CONFIGURATION]"), "{err}");
        assert!(err.contains("delta.noSuchThing"), "{err}");
        for ok in [
            "delta.appendonly",
            "delta.feature.deletionVectors",
            "team.delta.x",
        ] {
            assert!(check(ok, "true").is_ok(), "{ok}");
        }
    }

    #[test]
    fn expired_log_cleanup_is_a_boolean() {
        assert!(check("delta.enableExpiredLogCleanup", "TRUE").is_ok());
        assert!(check("delta.enableExpiredLogCleanup", "yes").is_err());
    }
}
