//! The Config RPC's operations over a session's configuration.
use proto::connect::config_request::operation::OpType;
use proto::connect::KeyValue;

use crate::error::{SparkError, SparkResult};
use crate::session::Session;

fn pair(key: &str, value: Option<&str>) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: value.map(str::to_string),
    }
}

/// Applies one config operation; returns the pairs and warnings to answer with.
pub fn apply(session: &Session, op: Option<OpType>) -> SparkResult<(Vec<KeyValue>, Vec<String>)> {
    let mut config = session.config();
    let op = op.ok_or_else(|| SparkError::invalid("config request without an operation"))?;
    Ok(match op {
        OpType::Set(s) => {
            for kv in &s.pairs {
                if config.is_static(&kv.key) {
                    return Err(SparkError::Plan(planner::PlanError::analysis(format!(
                        "[CANNOT_MODIFY_STATIC_CONFIG] Cannot modify the value of the static Spark config: \"{}\". SQLSTATE: 46110",
                        kv.key
                    ))));
                }
                match &kv.value {
                    Some(v) => config.set(&kv.key, v),
                    None => config.unset(&kv.key),
                }
            }
            (vec![], vec![])
        }
        OpType::Get(g) => {
            let mut pairs = vec![];
            for k in &g.keys {
                let v = config.get(k).ok_or_else(|| {
                    SparkError::Plan(planner::PlanError::analysis(format!(
                        "[SQL_CONF_NOT_FOUND] The SQL config \"{k}\" cannot be found. Please verify that the config exists. SQLSTATE: 42K0I"
                    )))
                })?;
                pairs.push(pair(k, Some(v)));
            }
            (pairs, vec![])
        }
        OpType::GetWithDefault(g) => {
            let pairs = g
                .pairs
                .iter()
                .map(|kv| pair(&kv.key, config.get(&kv.key).or(kv.value.as_deref())))
                .collect();
            (pairs, vec![])
        }
        OpType::GetOption(g) => (
            g.keys.iter().map(|k| pair(k, config.get(k))).collect(),
            vec![],
        ),
        OpType::GetAll(g) => (
            config
                .all(g.prefix.as_deref())
                .iter()
                .map(|(k, v)| pair(k, Some(v)))
                .collect(),
            vec![],
        ),
        OpType::Unset(u) => {
            for k in &u.keys {
                config.unset(k);
            }
            (vec![], vec![])
        }
        OpType::IsModifiable(m) => (
            m.keys
                .iter()
                .map(|k| {
                    pair(
                        k,
                        Some(if config.is_modifiable(k) {
                            "true"
                        } else {
                            "false"
                        }),
                    )
                })
                .collect(),
            vec![],
        ),
    })
}
