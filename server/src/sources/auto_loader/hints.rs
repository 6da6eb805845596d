//! `cloudFiles.schemaHints`: `column type` pairs separated by commas that override the
//! inferred type of a column (or add the column). A column is a dotted path into structs,
//! with `element` for an array's elements and `key` / `value` for a map's, so that one leaf
//! can be typed without restating its parents: `a.b DATE, tags.element INT, m.value LONG`.
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields};
use planner::types::{list_type, map_type, parse_data_type};
use planner::{PlanError, PlanResult};

#[derive(Debug, Clone)]
pub struct Hint {
    pub path: Vec<String>,
    pub ty: DataType,
    /// The hint as written, for errors.
    pub text: String,
}

fn bad(text: &str, why: &str) -> PlanError {
    PlanError::invalid(format!(
        "The cloudFiles.schemaHints entry {text:?} is not a valid schema hint: {why}. Write `column type`, with a dotted path for a nested field (for example `a.element.b LONG`)."
    ))
}

/// Splits at commas that are not inside `<>`, `()`, backticks or quotes.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = vec![];
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '`' | '\'' | '"') => quote = Some(c),
            (None, '<' | '(') => depth += 1,
            (None, '>' | ')') => depth -= 1,
            (None, ',') if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// The dotted column path at the start of `entry` and the rest (the type).
fn column_path(entry: &str) -> Option<(Vec<String>, &str)> {
    let mut path = vec![];
    let mut rest = entry.trim_start();
    loop {
        if let Some(quoted) = rest.strip_prefix('`') {
            let mut name = String::new();
            let mut chars = quoted.char_indices().peekable();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                if c == '`' {
                    if matches!(chars.peek(), Some((_, '`'))) {
                        chars.next();
                        name.push('`');
                    } else {
                        end = Some(i + 1);
                        break;
                    }
                } else {
                    name.push(c);
                }
            }
            path.push(name);
            rest = &quoted[end?..];
        } else {
            let len = rest
                .find(|c: char| c.is_whitespace() || c == '.' || c == ':')
                .unwrap_or(rest.len());
            if len == 0 {
                return None;
            }
            path.push(rest[..len].to_string());
            rest = &rest[len..];
        }
        match rest.strip_prefix('.') {
            Some(r) => rest = r,
            None => break,
        }
    }
    let rest = rest.trim_start();
    Some((path, rest.strip_prefix(':').unwrap_or(rest)))
}

pub fn parse(hints: &str, time_zone: &str) -> PlanResult<Vec<Hint>> {
    split_top_level(hints)
        .into_iter()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|text| {
            let (path, ty) = column_path(text).ok_or_else(|| bad(text, "no column name"))?;
            let mut ty = ty.trim();
            // Every column Auto Loader reads is nullable, whatever the hint says.
            if ty.len() > 8 && ty[ty.len() - 8..].eq_ignore_ascii_case("not null") {
                ty = ty[..ty.len() - 8].trim_end();
            }
            if ty.is_empty() {
                return Err(bad(text, "no type"));
            }
            let ty = parse_data_type(ty, time_zone).map_err(|e| bad(text, &e.to_string()))?;
            Ok(Hint {
                path,
                ty,
                text: text.to_string(),
            })
        })
        .collect()
}

/// The fields with every hint applied, in order: a hinted column keeps its place, a new one
/// is added last.
pub fn apply(mut fields: Vec<Field>, hints: &[Hint]) -> PlanResult<Vec<Field>> {
    for hint in hints {
        set(&mut fields, &hint.path, &hint.ty, hint)?;
    }
    Ok(fields)
}

/// Exact name first, then ignoring case (Spark resolves columns case-insensitively).
fn position(fields: &[Field], name: &str) -> Option<usize> {
    fields.iter().position(|f| f.name() == name).or_else(|| {
        fields
            .iter()
            .position(|f| f.name().eq_ignore_ascii_case(name))
    })
}

fn set(fields: &mut Vec<Field>, path: &[String], ty: &DataType, hint: &Hint) -> PlanResult<()> {
    let Some((name, rest)) = path.split_first() else {
        return Err(bad(&hint.text, "no column name"));
    };
    match position(fields, name) {
        Some(i) => {
            let new_type = if rest.is_empty() {
                ty.clone()
            } else {
                descend(fields[i].data_type(), rest, ty, hint)?
            };
            fields[i] = Field::new(fields[i].name(), new_type, true);
        }
        None => {
            let new_type = if rest.is_empty() {
                ty.clone()
            } else {
                descend(&DataType::Null, rest, ty, hint)?
            };
            fields.push(Field::new(name, new_type, true));
        }
    }
    Ok(())
}

/// `dt` with the field at `path` inside it given type `ty`.
fn descend(dt: &DataType, path: &[String], ty: &DataType, hint: &Hint) -> PlanResult<DataType> {
    let (head, rest) = path
        .split_first()
        .ok_or_else(|| bad(&hint.text, "empty path"))?;
    let inner = |current: &DataType| -> PlanResult<DataType> {
        if rest.is_empty() {
            Ok(ty.clone())
        } else {
            descend(current, rest, ty, hint)
        }
    };
    Ok(match dt {
        DataType::List(element) if head.eq_ignore_ascii_case("element") => {
            list_type(inner(element.data_type())?, true)
        }
        DataType::Map(entries, _) if matches!(head.to_ascii_lowercase().as_str(), "key" | "value") => {
            let DataType::Struct(kv) = entries.data_type() else {
                return Err(bad(&hint.text, "a map without key and value"));
            };
            let (Some(k), Some(v)) = (kv.first(), kv.get(1)) else {
                return Err(bad(&hint.text, "a map without key and value"));
            };
            if head.eq_ignore_ascii_case("key") {
                map_type(inner(k.data_type())?, v.data_type().clone(), true)
            } else {
                map_type(k.data_type().clone(), inner(v.data_type())?, true)
            }
        }
        DataType::List(_) | DataType::Map(..) => {
            return Err(bad(
                &hint.text,
                &format!("`{head}` does not name the elements of an array (`element`) or the keys or values of a map (`key`, `value`)"),
            ))
        }
        DataType::Struct(existing) => {
            let mut fields: Vec<Field> = existing.iter().map(|f| f.as_ref().clone()).collect();
            set(&mut fields, path, ty, hint)?;
            DataType::Struct(Fields::from(fields))
        }
        // A path into a value that is not a struct makes it one.
        _ => {
            let mut fields = vec![];
            set(&mut fields, path, ty, hint)?;
            DataType::Struct(Fields::from(
                fields.into_iter().map(Arc::new).collect::<Vec<_>>(),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(fields: &Fields) -> Vec<String> {
        fields.iter().map(|f| f.name().clone()).collect()
    }

    #[test]
    fn parses_paths_and_types() {
        let hints = parse(
            "a INT, b.c DATE, `x.y` string, m MAP<STRING, INT>, d decimal(10, 2) NOT NULL",
            "UTC",
        )
        .unwrap();
        assert_eq!(hints.len(), 5);
        assert_eq!(hints[1].path, vec!["b", "c"]);
        assert_eq!(hints[2].path, vec!["x.y"]);
        assert_eq!(hints[4].ty, DataType::Decimal128(10, 2));
        assert!(parse("a", "UTC").unwrap_err().to_string().contains("\"a\""));
        assert!(parse("a notatype", "UTC").is_err());
    }

    #[test]
    fn applies_to_leaves() {
        let s = |f: Vec<Field>| DataType::Struct(Fields::from(f));
        let fields = vec![
            Field::new("a", DataType::Utf8, true),
            Field::new(
                "user",
                s(vec![
                    Field::new("dob", DataType::Utf8, true),
                    Field::new("id", DataType::Utf8, true),
                ]),
                true,
            ),
            Field::new("tags", list_type(DataType::Utf8, true), true),
            Field::new(
                "items",
                list_type(s(vec![Field::new("price", DataType::Utf8, true)]), true),
                true,
            ),
        ];
        let hints = parse(
            "A int, user.dob date, tags.element bigint, items.element.price double, m map<string,string>, m.value int, new.x boolean",
            "UTC",
        )
        .unwrap();
        let out = apply(fields, &hints).unwrap();
        assert_eq!(out[0].data_type(), &DataType::Int32);
        let DataType::Struct(user) = out[1].data_type() else {
            panic!()
        };
        assert_eq!(names(user), vec!["dob", "id"]);
        assert_eq!(user[0].data_type(), &DataType::Date32);
        assert_eq!(out[2].data_type(), &list_type(DataType::Int64, true));
        assert_eq!(
            out[3].data_type(),
            &list_type(s(vec![Field::new("price", DataType::Float64, true)]), true)
        );
        assert_eq!(
            out[4].data_type(),
            &map_type(DataType::Utf8, DataType::Int32, true)
        );
        assert_eq!(
            out[5].data_type(),
            &s(vec![Field::new("x", DataType::Boolean, true)])
        );
        let wrong = parse("tags.x int", "UTC").unwrap();
        assert!(apply(out, &wrong).is_err());
    }
}
