//! Spark data types: proto <-> Arrow, Spark DDL and JSON schema strings, Spark type names.
//!
//! Arrow representation follows what Spark sends over Connect: `timestamp` is microseconds
//! with the session time zone, `timestamp_ntz` microseconds without one, strings are `Utf8`.
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, IntervalUnit, Schema, TimeUnit};
use proto::connect::data_type::{self as pdt, Kind};
use proto::connect::DataType as ProtoType;
use serde_json::{json, Value};

use crate::error::{PlanError, PlanResult};

/// The field metadata key of a column comment (Spark's and Delta's).
pub const COMMENT_KEY: &str = "comment";

/// Spark's default decimal for unsized `DECIMAL`.
const DEFAULT_DECIMAL: (u8, i8) = (10, 0);

pub fn timestamp_type(tz: &str) -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(tz.into()))
}

pub fn map_type(key: DataType, value: DataType, value_nullable: bool) -> DataType {
    let entries = Field::new(
        "entries",
        DataType::Struct(Fields::from(vec![
            Field::new("key", key, false),
            Field::new("value", value, value_nullable),
        ])),
        false,
    );
    DataType::Map(Arc::new(entries), false)
}

pub fn list_type(element: DataType, nullable: bool) -> DataType {
    DataType::List(Arc::new(Field::new("element", element, nullable)))
}

/// Proto `DataType` to Arrow. `tz` is the session time zone used for `timestamp`.
pub fn from_proto(dt: &ProtoType, tz: &str) -> PlanResult<DataType> {
    let kind = dt
        .kind
        .as_ref()
        .ok_or_else(|| PlanError::invalid("data type without a kind"))?;
    Ok(match kind {
        Kind::Null(_) => DataType::Null,
        Kind::Binary(_) => DataType::Binary,
        Kind::Boolean(_) => DataType::Boolean,
        Kind::Byte(_) => DataType::Int8,
        Kind::Short(_) => DataType::Int16,
        Kind::Integer(_) => DataType::Int32,
        Kind::Long(_) => DataType::Int64,
        Kind::Float(_) => DataType::Float32,
        Kind::Double(_) => DataType::Float64,
        Kind::Decimal(d) => DataType::Decimal128(
            d.precision.unwrap_or(DEFAULT_DECIMAL.0 as i32) as u8,
            d.scale.unwrap_or(DEFAULT_DECIMAL.1 as i32) as i8,
        ),
        Kind::String(_) | Kind::Char(_) | Kind::VarChar(_) => DataType::Utf8,
        Kind::Date(_) => DataType::Date32,
        Kind::Timestamp(_) => timestamp_type(tz),
        Kind::TimestampNtz(_) => DataType::Timestamp(TimeUnit::Microsecond, None),
        Kind::Array(a) => {
            let element = a
                .element_type
                .as_deref()
                .ok_or_else(|| PlanError::invalid("array type without element type"))?;
            list_type(from_proto(element, tz)?, a.contains_null)
        }
        Kind::Map(m) => {
            let (Some(k), Some(v)) = (m.key_type.as_deref(), m.value_type.as_deref()) else {
                return Err(PlanError::invalid("map type without key or value type"));
            };
            map_type(
                from_proto(k, tz)?,
                from_proto(v, tz)?,
                m.value_contains_null,
            )
        }
        Kind::Struct(s) => DataType::Struct(struct_fields_from_proto(s, tz)?),
        Kind::DayTimeInterval(_) => crate::interval::DAY_TIME_TYPE,
        Kind::YearMonthInterval(_) => crate::interval::YEAR_MONTH_TYPE,
        Kind::CalendarInterval(_) => DataType::Interval(IntervalUnit::MonthDayNano),
        Kind::Unparsed(u) => parse_data_type(&u.data_type_string, tz)?,
        other => {
            return Err(PlanError::unsupported(format!(
                "data type {}",
                format!("{other:?}").split('(').next().unwrap_or("?")
            )))
        }
    })
}

fn struct_fields_from_proto(s: &pdt::Struct, tz: &str) -> PlanResult<Fields> {
    s.fields
        .iter()
        .map(|f| {
            let dt = f
                .data_type
                .as_ref()
                .ok_or_else(|| PlanError::invalid(format!("field {} without type", f.name)))?;
            Ok(Field::new(&f.name, from_proto(dt, tz)?, f.nullable))
        })
        .collect::<PlanResult<Vec<_>>>()
        .map(Fields::from)
}

fn kind(k: Kind) -> ProtoType {
    ProtoType { kind: Some(k) }
}

/// Arrow to proto `DataType`, as Spark would describe the column.
pub fn to_proto(dt: &DataType) -> PlanResult<ProtoType> {
    Ok(kind(match dt {
        DataType::Null => Kind::Null(Default::default()),
        DataType::Boolean => Kind::Boolean(Default::default()),
        DataType::Int8 => Kind::Byte(Default::default()),
        DataType::Int16 | DataType::UInt8 => Kind::Short(Default::default()),
        DataType::Int32 | DataType::UInt16 => Kind::Integer(Default::default()),
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => Kind::Long(Default::default()),
        DataType::Float16 | DataType::Float32 => Kind::Float(Default::default()),
        DataType::Float64 => Kind::Double(Default::default()),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => Kind::Decimal(pdt::Decimal {
            precision: Some(i32::from(*p)),
            scale: Some(i32::from(*s)),
            type_variation_reference: 0,
        }),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            Kind::String(Default::default())
        }
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => Kind::Binary(Default::default()),
        DataType::Date32 | DataType::Date64 => Kind::Date(Default::default()),
        DataType::Timestamp(_, Some(_)) => Kind::Timestamp(Default::default()),
        DataType::Timestamp(_, None) => Kind::TimestampNtz(Default::default()),
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            Kind::Array(Box::new(pdt::Array {
                element_type: Some(Box::new(to_proto(f.data_type())?)),
                contains_null: f.is_nullable(),
                type_variation_reference: 0,
            }))
        }
        DataType::Map(entries, _) => {
            let (k, v) = map_key_value(entries)?;
            Kind::Map(Box::new(pdt::Map {
                key_type: Some(Box::new(to_proto(k.data_type())?)),
                value_type: Some(Box::new(to_proto(v.data_type())?)),
                value_contains_null: v.is_nullable(),
                type_variation_reference: 0,
            }))
        }
        DataType::Struct(fields) => Kind::Struct(pdt::Struct {
            fields: fields
                .iter()
                .map(|f| {
                    Ok(pdt::StructField {
                        name: f.name().clone(),
                        data_type: Some(to_proto(f.data_type())?),
                        nullable: f.is_nullable(),
                        metadata: f
                            .metadata()
                            .get(COMMENT_KEY)
                            .map(|c| json!({ COMMENT_KEY: c }).to_string()),
                    })
                })
                .collect::<PlanResult<_>>()?,
            type_variation_reference: 0,
        }),
        DataType::Dictionary(_, v) => return to_proto(v),
        // Arrow keeps no start and end fields: Spark's widest of each kind.
        DataType::Duration(_) => Kind::DayTimeInterval(pdt::DayTimeInterval {
            start_field: Some(0),
            end_field: Some(3),
            type_variation_reference: 0,
        }),
        DataType::Interval(IntervalUnit::YearMonth) => {
            Kind::YearMonthInterval(pdt::YearMonthInterval {
                start_field: Some(0),
                end_field: Some(1),
                type_variation_reference: 0,
            })
        }
        DataType::Interval(_) => Kind::CalendarInterval(Default::default()),
        other => return Err(PlanError::unsupported(format!("Arrow type {other}"))),
    }))
}

pub fn schema_to_proto(schema: &Schema) -> PlanResult<ProtoType> {
    to_proto(&DataType::Struct(schema.fields().clone()))
}

fn map_key_value(entries: &Field) -> PlanResult<(&Field, &Field)> {
    match entries.data_type() {
        DataType::Struct(kv) if kv.len() == 2 => Ok((&kv[0], &kv[1])),
        _ => Err(PlanError::invalid("malformed map type")),
    }
}

/// Spark's `simpleString` of a type: `int`, `bigint`, `decimal(10,2)`, `array<string>`...
pub fn simple_string(dt: &DataType) -> String {
    match dt {
        DataType::Null => "void".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Int8 => "tinyint".into(),
        DataType::Int16 | DataType::UInt8 => "smallint".into(),
        DataType::Int32 | DataType::UInt16 => "int".into(),
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => "bigint".into(),
        DataType::Float16 | DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => format!("decimal({p},{s})"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string".into(),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "binary".into(),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Timestamp(_, Some(_)) => "timestamp".into(),
        DataType::Timestamp(_, None) => "timestamp_ntz".into(),
        DataType::Duration(_) => "interval day to second".into(),
        DataType::Interval(IntervalUnit::YearMonth) => "interval year to month".into(),
        DataType::Interval(_) => "interval".into(),
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            format!("array<{}>", simple_string(f.data_type()))
        }
        DataType::Map(entries, _) => match map_key_value(entries) {
            Ok((k, v)) => format!(
                "map<{},{}>",
                simple_string(k.data_type()),
                simple_string(v.data_type())
            ),
            Err(_) => "map".into(),
        },
        DataType::Struct(fields) => format!(
            "struct<{}>",
            fields
                .iter()
                .map(|f| format!("{}:{}", f.name(), simple_string(f.data_type())))
                .collect::<Vec<_>>()
                .join(",")
        ),
        DataType::Dictionary(_, v) => simple_string(v),
        other => other.to_string().to_lowercase(),
    }
}

/// Spark's SQL spelling of a type (`INT`, `STRING`, `ARRAY<INT>`), used in `CAST(x AS INT)`.
pub fn sql_name(dt: &DataType) -> String {
    match dt {
        DataType::Struct(fields) => format!(
            "STRUCT<{}>",
            fields
                .iter()
                .map(|f| format!("{}: {}", f.name(), sql_name(f.data_type())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        DataType::List(f) => format!("ARRAY<{}>", sql_name(f.data_type())),
        DataType::Map(entries, _) => match map_key_value(entries) {
            Ok((k, v)) => format!(
                "MAP<{}, {}>",
                sql_name(k.data_type()),
                sql_name(v.data_type())
            ),
            Err(_) => "MAP".into(),
        },
        other => simple_string(other).to_uppercase(),
    }
}

/// Spark's JSON form of a type (`DataType.json()`), as PySpark parses it.
pub fn to_json(dt: &DataType) -> Value {
    match dt {
        DataType::Struct(fields) => json!({
            "type": "struct",
            "fields": fields.iter().map(|f| json!({
                "name": f.name(),
                "type": to_json(f.data_type()),
                "nullable": f.is_nullable(),
                "metadata": {},
            })).collect::<Vec<_>>(),
        }),
        DataType::List(f) | DataType::LargeList(f) => json!({
            "type": "array",
            "elementType": to_json(f.data_type()),
            "containsNull": f.is_nullable(),
        }),
        DataType::Map(entries, _) => match map_key_value(entries) {
            Ok((k, v)) => json!({
                "type": "map",
                "keyType": to_json(k.data_type()),
                "valueType": to_json(v.data_type()),
                "valueContainsNull": v.is_nullable(),
            }),
            Err(_) => json!("map"),
        },
        other => Value::String(json_atomic_name(other)),
    }
}

fn json_atomic_name(dt: &DataType) -> String {
    match simple_string(dt).as_str() {
        "tinyint" => "byte".into(),
        "smallint" => "short".into(),
        "int" => "integer".into(),
        "bigint" => "long".into(),
        "void" => "null".into(),
        s => s.into(),
    }
}

/// Parses Spark's JSON schema (`StructType.json()`), or a DDL string when it is not JSON.
pub fn parse_schema_string(s: &str, tz: &str) -> PlanResult<DataType> {
    let trimmed = s.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('"') {
        let value: Value = serde_json::from_str(s)
            .map_err(|e| PlanError::Parse(format!("invalid JSON schema: {e}")))?;
        from_json(&value, tz)
    } else {
        parse_ddl(s, tz)
    }
}

fn from_json(v: &Value, tz: &str) -> PlanResult<DataType> {
    let bad = || PlanError::Parse(format!("invalid JSON data type: {v}"));
    match v {
        Value::String(name) => parse_data_type(name, tz),
        Value::Object(o) => match o.get("type").and_then(Value::as_str) {
            Some("struct") => {
                let fields = o.get("fields").and_then(Value::as_array).ok_or_else(bad)?;
                let fields = fields
                    .iter()
                    .map(|f| {
                        let name = f.get("name").and_then(Value::as_str).ok_or_else(bad)?;
                        let dt = from_json(f.get("type").ok_or_else(bad)?, tz)?;
                        let nullable = f.get("nullable").and_then(Value::as_bool).unwrap_or(true);
                        Ok(Field::new(name, dt, nullable))
                    })
                    .collect::<PlanResult<Vec<_>>>()?;
                Ok(DataType::Struct(fields.into()))
            }
            Some("array") => Ok(list_type(
                from_json(o.get("elementType").ok_or_else(bad)?, tz)?,
                o.get("containsNull")
                    .and_then(Value::as_bool)
                    .unwrap_or(true),
            )),
            Some("map") => Ok(map_type(
                from_json(o.get("keyType").ok_or_else(bad)?, tz)?,
                from_json(o.get("valueType").ok_or_else(bad)?, tz)?,
                o.get("valueContainsNull")
                    .and_then(Value::as_bool)
                    .unwrap_or(true),
            )),
            Some("udt") => from_json(o.get("sqlType").ok_or_else(bad)?, tz),
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

/// Parses a DDL schema: `a INT, b STRING`, `a: int`, `struct<a:int>` or a single type (`int`).
/// A single type that is not a struct is returned as it is.
pub fn parse_ddl(s: &str, tz: &str) -> PlanResult<DataType> {
    let mut p = DdlParser::new(s, tz);
    // Prefer the field-list reading; fall back to a lone type.
    let as_fields = p.field_list(None).and_then(|f| p.end().map(|_| f));
    match as_fields {
        Ok(fields) => Ok(DataType::Struct(fields.into())),
        Err(field_err) => {
            let mut p = DdlParser::new(s, tz);
            match p.data_type().and_then(|t| p.end().map(|_| t)) {
                Ok(t) => Ok(t),
                Err(_) => Err(with_ddl_text(field_err, s)),
            }
        }
    }
}

/// An unknown type name, with its SQLSTATE and the text it was found in, as Spark reports it.
fn with_ddl_text(e: PlanError, ddl: &str) -> PlanError {
    match e {
        PlanError::Parse(m) if m.starts_with("[UNSUPPORTED_DATATYPE]") => {
            PlanError::Parse(format!("{m} SQLSTATE: 0A000\n\n== SQL ==\n{ddl}\n"))
        }
        other => other,
    }
}

/// Parses a single Spark type name such as `decimal(10,2)` or `array<int>`.
pub fn parse_data_type(s: &str, tz: &str) -> PlanResult<DataType> {
    let mut p = DdlParser::new(s, tz);
    let t = p.data_type()?;
    p.end()?;
    Ok(t)
}

/// A small recursive-descent parser over Spark's DDL type grammar.
struct DdlParser<'a> {
    src: &'a str,
    pos: usize,
    tz: &'a str,
}

impl<'a> DdlParser<'a> {
    fn new(src: &'a str, tz: &'a str) -> Self {
        Self { src, pos: 0, tz }
    }

    fn error(&self, what: &str) -> PlanError {
        PlanError::Parse(format!(
            "[PARSE_SYNTAX_ERROR] Syntax error at or near {}: {what} in '{}' (position {})",
            self.rest()
                .split_whitespace()
                .next()
                .map(|t| format!("'{t}'"))
                .unwrap_or_else(|| "end of input".into()),
            self.src,
            self.pos
        ))
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.src.len() - trimmed.len();
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> PlanResult<()> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error(&format!("expected '{c}'")))
        }
    }

    fn end(&mut self) -> PlanResult<()> {
        self.skip_ws();
        if self.rest().is_empty() {
            Ok(())
        } else {
            Err(self.error("unexpected trailing input"))
        }
    }

    fn identifier(&mut self) -> PlanResult<String> {
        self.skip_ws();
        let rest = self.rest();
        if let Some(quoted) = rest.strip_prefix('`') {
            // Backticks escape themselves by doubling.
            let mut out = String::new();
            let mut chars = quoted.char_indices().peekable();
            while let Some((i, c)) = chars.next() {
                if c == '`' {
                    if matches!(chars.peek(), Some((_, '`'))) {
                        chars.next();
                        out.push('`');
                    } else {
                        self.pos += i + 2;
                        return Ok(out);
                    }
                } else {
                    out.push(c);
                }
            }
            return Err(self.error("unterminated quoted identifier"));
        }
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if len == 0 {
            return Err(self.error("expected an identifier"));
        }
        self.pos += len;
        Ok(rest[..len].to_string())
    }

    /// What follows `interval`: `day to second`, `hour`, `year to month` ... (Arrow keeps
    /// only the kind), or nothing for Spark's calendar interval.
    fn interval_fields(&mut self) -> PlanResult<DataType> {
        const FIELDS: [&str; 6] = ["year", "month", "day", "hour", "minute", "second"];
        let next_field = |p: &mut Self| {
            let save = p.pos;
            match p.identifier().map(|w| w.to_ascii_lowercase()) {
                Ok(w) if FIELDS.contains(&w.as_str()) => Some(w),
                _ => {
                    p.pos = save;
                    None
                }
            }
        };
        let Some(start) = next_field(self) else {
            return Ok(DataType::Interval(IntervalUnit::MonthDayNano));
        };
        let save = self.pos;
        if matches!(self.identifier(), Ok(w) if w.eq_ignore_ascii_case("to")) {
            next_field(self).ok_or_else(|| self.error("expected an interval field"))?;
        } else {
            self.pos = save;
        }
        Ok(if matches!(start.as_str(), "year" | "month") {
            crate::interval::YEAR_MONTH_TYPE
        } else {
            crate::interval::DAY_TIME_TYPE
        })
    }

    fn number(&mut self) -> PlanResult<i64> {
        self.skip_ws();
        let rest = self.rest();
        let len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '-'))
            .unwrap_or(rest.len());
        let n = rest[..len]
            .parse()
            .map_err(|_| self.error("expected a number"))?;
        self.pos += len;
        Ok(n)
    }

    /// `name [:] type [NOT NULL] [COMMENT '...'] (, ...)*`, up to `close` or the end.
    fn field_list(&mut self, close: Option<char>) -> PlanResult<Vec<Field>> {
        let mut fields = vec![];
        loop {
            self.skip_ws();
            if close.is_some_and(|c| self.rest().starts_with(c)) || self.rest().is_empty() {
                break;
            }
            let name = self.identifier()?;
            self.eat(':');
            let dt = self.data_type()?;
            let mut nullable = true;
            let mut comment = None;
            loop {
                self.skip_ws();
                let upper = self.rest().to_ascii_uppercase();
                if upper.starts_with("NOT NULL") {
                    self.pos += "NOT NULL".len();
                    nullable = false;
                } else if upper.starts_with("COMMENT") {
                    self.pos += "COMMENT".len();
                    comment = Some(self.string_literal()?);
                } else {
                    break;
                }
            }
            let field = Field::new(name, dt, nullable);
            // Spark keeps a column comment in the field's metadata, as Delta's schema does.
            fields.push(match comment {
                Some(c) => field.with_metadata([(COMMENT_KEY.to_string(), c)].into()),
                None => field,
            });
            if !self.eat(',') {
                break;
            }
        }
        if fields.is_empty() && close.is_none() {
            return Err(self.error("expected a field"));
        }
        Ok(fields)
    }

    fn string_literal(&mut self) -> PlanResult<String> {
        self.skip_ws();
        let rest = self.rest();
        let quote = rest
            .chars()
            .next()
            .filter(|c| *c == '\'' || *c == '"')
            .ok_or_else(|| self.error("expected a string"))?;
        let end = rest[1..]
            .find(quote)
            .ok_or_else(|| self.error("unterminated string"))?;
        self.pos += end + 2;
        Ok(rest[1..end + 1].to_string())
    }

    fn data_type(&mut self) -> PlanResult<DataType> {
        let name = self.identifier()?.to_ascii_lowercase();
        Ok(match name.as_str() {
            "boolean" | "bool" => DataType::Boolean,
            "tinyint" | "byte" => DataType::Int8,
            "smallint" | "short" => DataType::Int16,
            "int" | "integer" => DataType::Int32,
            "bigint" | "long" => DataType::Int64,
            "float" | "real" => DataType::Float32,
            "double" => DataType::Float64,
            "string" | "text" => DataType::Utf8,
            "char" | "varchar" | "character" => {
                if self.eat('(') {
                    self.number()?;
                    self.expect(')')?;
                }
                DataType::Utf8
            }
            "binary" => DataType::Binary,
            "date" => DataType::Date32,
            "timestamp" | "timestamp_ltz" => timestamp_type(self.tz),
            "timestamp_ntz" => DataType::Timestamp(TimeUnit::Microsecond, None),
            "void" | "null" => DataType::Null,
            "interval" => self.interval_fields()?,
            "decimal" | "dec" | "numeric" => {
                let (mut p, mut s) = (i64::from(DEFAULT_DECIMAL.0), 0);
                if self.eat('(') {
                    p = self.number()?;
                    if self.eat(',') {
                        s = self.number()?;
                    }
                    self.expect(')')?;
                }
                if !(1..=38).contains(&p) || s < 0 || s > p {
                    return Err(PlanError::Parse(format!(
                        "[INVALID_DECIMAL] decimal({p},{s}) is not a valid decimal type"
                    )));
                }
                DataType::Decimal128(p as u8, s as i8)
            }
            "array" => {
                self.expect('<')?;
                let t = self.data_type()?;
                self.expect('>')?;
                list_type(t, true)
            }
            "map" => {
                self.expect('<')?;
                let k = self.data_type()?;
                self.expect(',')?;
                let v = self.data_type()?;
                self.expect('>')?;
                map_type(k, v, true)
            }
            "struct" => {
                self.expect('<')?;
                let fields = self.field_list(Some('>'))?;
                self.expect('>')?;
                DataType::Struct(fields.into())
            }
            other => {
                return Err(PlanError::Parse(format!(
                    "[UNSUPPORTED_DATATYPE] Unsupported data type \"{}\".",
                    other.to_uppercase()
                )))
            }
        })
    }
}

/// Spark's `StructType.treeString` (what `printSchema()` prints).
pub fn tree_string(schema: &Schema, level: Option<usize>) -> String {
    let mut out = String::from("root\n");
    for f in schema.fields() {
        tree_field(
            &mut out,
            f.name(),
            f.data_type(),
            Some(f.is_nullable()),
            "nullable",
            1,
            level.unwrap_or(usize::MAX),
        );
    }
    out
}

fn tree_field(
    out: &mut String,
    name: &str,
    dt: &DataType,
    null: Option<bool>,
    label: &str,
    depth: usize,
    max: usize,
) {
    if depth > max {
        return;
    }
    let prefix = " |   ".repeat(depth - 1);
    let type_name = match dt {
        DataType::Struct(_) => "struct".to_string(),
        DataType::List(_) | DataType::LargeList(_) => "array".to_string(),
        DataType::Map(..) => "map".to_string(),
        other => json_atomic_name(other),
    };
    let null = null
        .map(|n| format!(" ({label} = {n})"))
        .unwrap_or_default();
    out.push_str(&format!("{prefix} |-- {name}: {type_name}{null}\n"));
    match dt {
        DataType::Struct(fields) => {
            for f in fields {
                tree_field(
                    out,
                    f.name(),
                    f.data_type(),
                    Some(f.is_nullable()),
                    "nullable",
                    depth + 1,
                    max,
                );
            }
        }
        DataType::List(e) | DataType::LargeList(e) => tree_field(
            out,
            "element",
            e.data_type(),
            Some(e.is_nullable()),
            "containsNull",
            depth + 1,
            max,
        ),
        DataType::Map(entries, _) => {
            if let Ok((k, v)) = map_key_value(entries) {
                tree_field(out, "key", k.data_type(), None, "", depth + 1, max);
                tree_field(
                    out,
                    "value",
                    v.data_type(),
                    Some(v.is_nullable()),
                    "valueContainsNull",
                    depth + 1,
                    max,
                );
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_field_lists_and_types() {
        let t = parse_ddl(
            "a INT, b string NOT NULL, `c d` array<map<string,decimal(5,2)>>",
            "UTC",
        )
        .unwrap();
        assert_eq!(
            simple_string(&t),
            "struct<a:int,b:string,c d:array<map<string,decimal(5,2)>>>"
        );
        let DataType::Struct(f) = &t else { panic!() };
        assert!(!f[1].is_nullable());
        assert_eq!(
            simple_string(&parse_ddl("bigint", "UTC").unwrap()),
            "bigint"
        );
        assert_eq!(
            simple_string(&parse_ddl("a: int, b: struct<x: double>", "UTC").unwrap()),
            "struct<a:int,b:struct<x:double>>"
        );
        assert!(parse_ddl("a INT,, b", "UTC").is_err());
        assert!(parse_ddl("a foo", "UTC").is_err());
    }

    #[test]
    fn json_round_trip() {
        let t = parse_ddl(
            "a int, b array<string>, c map<string,bigint>, d timestamp",
            "UTC",
        )
        .unwrap();
        let json = to_json(&t).to_string();
        assert_eq!(parse_schema_string(&json, "UTC").unwrap(), t);
    }

    #[test]
    fn proto_round_trip() {
        let t = parse_ddl(
            "a tinyint, b decimal(12,3), c struct<x: date, y: timestamp_ntz>",
            "UTC",
        )
        .unwrap();
        assert_eq!(from_proto(&to_proto(&t).unwrap(), "UTC").unwrap(), t);
    }
}
