//! `cloudFiles.*` options: parsed once, checked strictly. A key sluice does not know fails
//! with its name (unless `cloudFiles.validateOptions` is false, as on Databricks); keys that
//! only make sense against a cloud queue or a cleanup service fail as unsupported rather
//! than being silently ignored.
use std::collections::HashMap;
use std::path::PathBuf;

use planner::{DataSource, PlanError, PlanResult};

/// `cloudFiles.schemaEvolutionMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvolutionMode {
    /// New columns stop the stream; the schema log gets them and a restart picks them up.
    AddNewColumns,
    /// The schema never changes; unknown fields go to the rescued data column.
    Rescue,
    /// New columns stop the stream until the schema or the data is changed by hand.
    FailOnNewColumns,
    /// New columns are ignored (rescued only if a rescued data column is configured).
    None,
}

/// The options of one `readStream.format("cloudFiles")` source.
#[derive(Debug, Clone)]
pub struct CloudFilesOptions {
    /// json | csv | parquet | text | binaryfile.
    pub format: String,
    pub infer_column_types: bool,
    pub schema_hints: Option<String>,
    pub schema_location: Option<PathBuf>,
    pub evolution: EvolutionMode,
    pub rescued_column: Option<String>,
    pub max_files_per_trigger: Option<usize>,
    pub max_bytes_per_trigger: Option<u64>,
    pub include_existing_files: bool,
    pub allow_overwrites: bool,
    /// Options of the file format and the file listing (lower-cased keys).
    pub reader_options: HashMap<String, String>,
    /// `cloudFiles.partitionColumns`: the `key=value` folders to read as columns (None: all
    /// that every file has; an empty list: none).
    pub partition_columns: Option<Vec<String>>,
}

const PREFIX: &str = "cloudfiles.";

/// Options that only a notification queue or a cloud account uses.
const NOTIFICATION_KEYS: &[&str] = &[
    "fetchparallelism",
    "pathrewrites",
    "resourcetag",
    "queueurl",
    "queuename",
    "region",
    "rolearn",
    "roleexternalid",
    "rolesessionname",
    "stsendpoint",
    "subscriptionid",
    "connectionstring",
    "resourcegroup",
    "tenantid",
    "clientid",
    "clientsecret",
    "projectid",
    "client",
    "subscription",
    "databricksservicecredential",
];

/// Options of the listing itself, valid for every format.
const LISTING_KEYS: &[&str] = &["path", "pathglobfilter", "recursivefilelookup"];

/// Format options Auto Loader adds to Spark's.
const RESCUE_KEYS: &[&str] = &["rescueddatacolumn", "readercasesensitive"];

fn bool_option(options: &HashMap<String, String>, key: &str, default: bool) -> PlanResult<bool> {
    match options.get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => Err(PlanError::invalid(format!(
            "The option {} must be true or false, not {v:?}.",
            display_key(key)
        ))),
    }
}

/// A lower-cased key as users spell it in Databricks' docs.
fn display_key(key: &str) -> String {
    match key.strip_prefix(PREFIX) {
        Some(rest) => {
            let known = [
                "allowOverwrites",
                "backfillInterval",
                "cleanSource",
                "format",
                "includeExistingFiles",
                "inferColumnTypes",
                "maxBytesPerTrigger",
                "maxFileAge",
                "maxFilesPerTrigger",
                "partitionColumns",
                "schemaEvolutionMode",
                "schemaHints",
                "schemaLocation",
                "useNotifications",
                "useManagedFileEvents",
                "useIncrementalListing",
                "useStrictGlobber",
                "validateOptions",
            ];
            let name = known
                .iter()
                .find(|k| k.eq_ignore_ascii_case(rest))
                .map_or(rest.to_string(), |k| k.to_string());
            format!("cloudFiles.{name}")
        }
        None => key.to_string(),
    }
}

/// Spark's byte strings (`10g`, `512m`, `1024`): binary multiples, `b` optional.
pub fn parse_bytes(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_lowercase();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let number: u64 = t[..digits].parse().ok()?;
    let shift = match t[digits..].trim() {
        "" | "b" => 0,
        "k" | "kb" => 10,
        "m" | "mb" => 20,
        "g" | "gb" => 30,
        "t" | "tb" => 40,
        "p" | "pb" => 50,
        _ => return None,
    };
    number.checked_mul(1u64 << shift)
}

impl CloudFilesOptions {
    /// `options`: the readStream options with lower-cased keys; `user_schema`: whether
    /// `.schema()` was given.
    pub fn parse(options: &HashMap<String, String>, user_schema: bool) -> PlanResult<Self> {
        let validate = bool_option(options, "cloudfiles.validateoptions", true)?;
        let get = |k: &str| options.get(&format!("{PREFIX}{k}"));
        let format = match get("format").map(|f| f.trim().to_ascii_lowercase()) {
            None => {
                return Err(PlanError::invalid(
                    "The option cloudFiles.format is required for the cloudFiles source (json, csv, parquet, text or binaryFile).",
                ))
            }
            Some(f) if matches!(f.as_str(), "json" | "csv" | "parquet" | "text" | "binaryfile") => f,
            Some(f) if matches!(f.as_str(), "avro" | "orc" | "xml") => {
                return Err(PlanError::unsupported(format!(
                    "cloudFiles.format `{f}`"
                )))
            }
            Some(f) => {
                return Err(PlanError::invalid(format!(
                    "cloudFiles.format {f:?} is not a file format Auto Loader reads; use json, csv, parquet, text or binaryFile."
                )))
            }
        };
        for (key, value) in options {
            let Some(rest) = key.strip_prefix(PREFIX) else {
                continue;
            };
            match rest {
                "format" | "infercolumntypes" | "schemahints"
                | "schemalocation" | "schemaevolutionmode" | "maxfilespertrigger"
                | "maxbytespertrigger" | "includeexistingfiles" | "allowoverwrites"
                | "partitioncolumns" | "validateoptions" => {}
                // Every trigger lists the whole directory, so a periodic backfill (which
                // exists to catch files a notification queue missed) is already done.
                "backfillinterval" | "useincrementallisting" => {}
                // Globs here match within one folder level, the strict globber's rule.
                "usestrictglobber" => {
                    bool_option(options, key, false)?;
                }
                "usenotifications" | "usemanagedfileevents" => {
                    if bool_option(options, key, false)? {
                        return Err(PlanError::unsupported(format!(
                            "{}=true (file notification mode needs a cloud event queue; sluice lists the directory)",
                            display_key(key)
                        )));
                    }
                }
                "cleansource" => {
                    if !value.trim().eq_ignore_ascii_case("off") {
                        return Err(PlanError::unsupported(format!(
                            "cloudFiles.cleanSource={value} (processed files are never deleted or moved)"
                        )));
                    }
                }
                // Only read with cleanSource, which stays OFF.
                "cleansource.retentionduration" | "cleansource.movedestination" => {}
                "maxfileage" => {
                    return Err(PlanError::unsupported(
                        "cloudFiles.maxFileAge (every ingested file is remembered)",
                    ))
                }
                other if NOTIFICATION_KEYS.contains(&other) => {
                    return Err(PlanError::unsupported(format!(
                        "the option cloudFiles.{other} (it configures file notification mode or a cloud account)"
                    )))
                }
                _ if !validate => {}
                _ => {
                    // Keys arrive lower-cased; the prefix is shown as users write it.
                    return Err(PlanError::invalid(format!(
                        "Found unknown option key \"cloudFiles.{}\" for the cloudFiles source. Check the spelling, or set cloudFiles.validateOptions to false to skip the check.",
                        &key[PREFIX.len().min(key.len())..]
                    )))
                }
            }
        }
        let reader_options: HashMap<String, String> = options
            .iter()
            .filter(|(k, _)| !k.starts_with(PREFIX))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        check_reader_options(&format, &reader_options)?;

        let fixed_schema = matches!(format.as_str(), "text" | "binaryfile");
        let evolution = match get("schemaevolutionmode").map(|m| m.trim().to_ascii_lowercase()) {
            None if user_schema || fixed_schema => EvolutionMode::None,
            None => EvolutionMode::AddNewColumns,
            Some(m) => match m.as_str() {
                "addnewcolumns" if user_schema => {
                    return Err(PlanError::invalid(
                        "cloudFiles.schemaEvolutionMode addNewColumns is not allowed when the stream's schema is given with .schema(); give the columns as cloudFiles.schemaHints instead.",
                    ))
                }
                "addnewcolumns" => EvolutionMode::AddNewColumns,
                "rescue" => EvolutionMode::Rescue,
                "failonnewcolumns" => EvolutionMode::FailOnNewColumns,
                "none" => EvolutionMode::None,
                other => {
                    return Err(PlanError::invalid(format!(
                        "Unrecognized cloudFiles.schemaEvolutionMode {other:?}: use addNewColumns, rescue, failOnNewColumns or none."
                    )))
                }
            },
        };
        let rescued_column = match reader_options.get("rescueddatacolumn") {
            Some(name) if name.trim().is_empty() => {
                return Err(PlanError::invalid(
                    "The option rescuedDataColumn must name a column.",
                ))
            }
            Some(name) => Some(name.clone()),
            // Fixed-schema formats have nothing to rescue.
            None if fixed_schema => None,
            None if !user_schema || evolution == EvolutionMode::Rescue => {
                Some("_rescued_data".to_string())
            }
            None => None,
        };
        if fixed_schema && rescued_column.is_some() {
            return Err(PlanError::invalid(format!(
                "The option rescuedDataColumn does not apply to the {format} format, whose schema is fixed."
            )));
        }

        let max_files_per_trigger = match get("maxfilespertrigger") {
            None => Some(1000),
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    return Err(PlanError::invalid(format!(
                        "cloudFiles.maxFilesPerTrigger must be a positive integer, not {v:?}."
                    )))
                }
            },
        };
        let max_bytes_per_trigger = match get("maxbytespertrigger") {
            None => None,
            Some(v) => match parse_bytes(v) {
                Some(n) if n > 0 => Some(n),
                _ => {
                    return Err(PlanError::invalid(format!(
                        "cloudFiles.maxBytesPerTrigger must be a byte size such as 10g, 512m or 1048576, not {v:?}."
                    )))
                }
            },
        };
        let schema_location = match get("schemalocation") {
            Some(p) if p.trim().is_empty() => {
                return Err(PlanError::invalid(
                    "cloudFiles.schemaLocation must not be empty.",
                ))
            }
            Some(p) => Some(PathBuf::from(p.strip_prefix("file:").unwrap_or(p))),
            None => None,
        };
        let infer_column_types = bool_option(options, "cloudfiles.infercolumntypes", false)?;
        let schema_hints = get("schemahints").filter(|h| !h.trim().is_empty()).cloned();
        if let Some(hints) = &schema_hints {
            // Checked now so that a bad hint fails when the stream is defined.
            super::hints::parse(hints, "UTC")?;
        }
        let partition_columns = get("partitioncolumns").map(|v| {
            v.split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect()
        });
        Ok(CloudFilesOptions {
            format,
            infer_column_types,
            schema_hints,
            schema_location,
            evolution,
            rescued_column,
            max_files_per_trigger,
            max_bytes_per_trigger,
            include_existing_files: bool_option(options, "cloudfiles.includeexistingfiles", true)?,
            allow_overwrites: bool_option(options, "cloudfiles.allowoverwrites", false)?,
            reader_options,
            partition_columns,
        })
    }

    /// `readerCaseSensitive` (default true): a field whose name differs from a column's only
    /// by case is rescued rather than read into the column.
    pub(crate) fn case_sensitive(&self) -> bool {
        !self
            .reader_options
            .get("readercasesensitive")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("false"))
    }

    /// Whether every file is read by its own header (Auto Loader assumes CSV headers).
    pub(crate) fn csv_header(&self) -> bool {
        !self
            .reader_options
            .get("header")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("false"))
    }

    /// The format options with Auto Loader's defaults (CSV files have headers).
    pub(crate) fn format_options(&self) -> HashMap<String, String> {
        let mut options = self.reader_options.clone();
        if self.format == "csv" {
            options
                .entry("header".into())
                .or_insert_with(|| "true".into());
        }
        options
    }
}

/// The format's own options, checked as `spark.read` checks them, plus the listing's and
/// Auto Loader's; anything else is refused with its name.
fn check_reader_options(format: &str, options: &HashMap<String, String>) -> PlanResult<()> {
    let spark_format = match format {
        "binaryfile" => "binaryFile",
        f => f,
    };
    let mut spark_options = HashMap::new();
    for (key, value) in options {
        if LISTING_KEYS.contains(&key.as_str()) {
            continue;
        }
        let ours = match format {
            "json" | "csv" => RESCUE_KEYS.contains(&key.as_str()),
            "parquet" => RESCUE_KEYS.contains(&key.as_str()) || key == "mergeschema",
            _ => false,
        };
        if ours {
            continue;
        }
        if matches!(format, "json" | "csv" | "text") {
            spark_options.insert(key.clone(), value.clone());
        } else {
            return Err(PlanError::unsupported(format!(
                "the {spark_format} option `{key}`"
            )));
        }
    }
    if matches!(format, "json" | "csv" | "text") {
        super::super::check(&DataSource {
            format: format.to_string(),
            paths: vec![],
            schema: None,
            options: spark_options,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_follow_databricks() {
        let o =
            CloudFilesOptions::parse(&options(&[("cloudFiles.format", "JSON")]), false).unwrap();
        assert_eq!(o.format, "json");
        assert_eq!(o.evolution, EvolutionMode::AddNewColumns);
        assert_eq!(o.rescued_column.as_deref(), Some("_rescued_data"));
        assert_eq!(o.max_files_per_trigger, Some(1000));
        assert!(o.include_existing_files && !o.allow_overwrites);
        let given =
            CloudFilesOptions::parse(&options(&[("cloudFiles.format", "csv")]), true).unwrap();
        assert_eq!(given.evolution, EvolutionMode::None);
        assert_eq!(given.rescued_column, None);
        assert!(given.csv_header());
        let binary =
            CloudFilesOptions::parse(&options(&[("cloudFiles.format", "binaryFile")]), false)
                .unwrap();
        assert_eq!(binary.rescued_column, None);
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        let err = |pairs: &[(&str, &str)], user_schema: bool| {
            CloudFilesOptions::parse(&options(pairs), user_schema)
                .unwrap_err()
                .to_string()
        };
        assert!(err(&[], false).contains("cloudFiles.format"));
        assert!(err(
            &[("cloudFiles.format", "json"), ("cloudFiles.bogus", "1")],
            false
        )
        .contains("cloudFiles.bogus"));
        assert!(err(
            &[
                ("cloudFiles.format", "json"),
                ("cloudFiles.useNotifications", "true")
            ],
            false
        )
        .contains("cloudFiles.useNotifications"));
        assert!(err(
            &[
                ("cloudFiles.format", "json"),
                ("cloudFiles.schemaEvolutionMode", "addNewColumns")
            ],
            true
        )
        .contains("addNewColumns"));
        assert!(err(
            &[
                ("cloudFiles.format", "json"),
                ("cloudFiles.maxBytesPerTrigger", "ten")
            ],
            false
        )
        .contains("maxBytesPerTrigger"));
        assert!(err(&[("cloudFiles.format", "json"), ("sep", ";")], false).contains("sep"));
        // validateOptions=false lets unknown cloudFiles keys through, as on Databricks.
        assert!(CloudFilesOptions::parse(
            &options(&[
                ("cloudFiles.format", "json"),
                ("cloudFiles.bogus", "1"),
                ("cloudFiles.validateOptions", "false")
            ]),
            false
        )
        .is_ok());
    }

    #[test]
    fn byte_strings() {
        assert_eq!(parse_bytes("10g"), Some(10 << 30));
        assert_eq!(parse_bytes("1m"), Some(1 << 20));
        assert_eq!(parse_bytes("512"), Some(512));
        assert_eq!(parse_bytes("2 KB"), Some(2048));
        assert_eq!(parse_bytes("x"), None);
    }
}
