//! Spark's `hash(...)`: 32-bit Murmur3 (x86 variant) chained over the arguments from the
//! seed 42, with Spark's own treatment of each type (and of a byte tail, which Spark mixes
//! one signed byte at a time rather than as the reference algorithm does).
use arrow::array::{Array, ArrayRef, AsArray, Int32Array};
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type, TimestampMicrosecondType,
};
use datafusion::common::{exec_err, Result};

/// The seed Spark's `hash` starts from.
pub(crate) const SEED: i32 = 42;

const C1: u32 = 0xcc9e_2d51;
const C2: u32 = 0x1b87_3593;

fn mix_k1(k1: u32) -> u32 {
    k1.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2)
}

fn mix_h1(h1: u32, k1: u32) -> u32 {
    (h1 ^ k1)
        .rotate_left(13)
        .wrapping_mul(5)
        .wrapping_add(0xe654_6b64)
}

fn fmix(h1: u32, length: u32) -> u32 {
    let mut h = h1 ^ length;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

fn hash_int(v: i32, seed: i32) -> i32 {
    fmix(mix_h1(seed as u32, mix_k1(v as u32)), 4) as i32
}

fn hash_long(v: i64, seed: i32) -> i32 {
    let h1 = mix_h1(seed as u32, mix_k1(v as u32));
    let h1 = mix_h1(h1, mix_k1((v >> 32) as u32));
    fmix(h1, 8) as i32
}

fn hash_bytes(bytes: &[u8], seed: i32) -> i32 {
    let mut h1 = seed as u32;
    let mut words = bytes.chunks_exact(4);
    for w in words.by_ref() {
        h1 = mix_h1(h1, mix_k1(u32::from_le_bytes([w[0], w[1], w[2], w[3]])));
    }
    for b in words.remainder() {
        h1 = mix_h1(h1, mix_k1(i32::from(*b as i8) as u32));
    }
    fmix(h1, bytes.len() as u32) as i32
}

/// Folds one column into the running hashes (a NULL leaves its row's hash as it was).
fn fold(column: &ArrayRef, hashes: &mut [i32]) -> Result<()> {
    macro_rules! each {
        ($array:expr, $f:expr) => {{
            let array = $array;
            for (i, h) in hashes.iter_mut().enumerate() {
                if array.is_valid(i) {
                    *h = $f(array.value(i), *h);
                }
            }
        }};
    }
    match column.data_type() {
        DataType::Null => {}
        DataType::Boolean => each!(column.as_boolean(), |v: bool, h| hash_int(i32::from(v), h)),
        DataType::Int8 => each!(column.as_primitive::<Int8Type>(), |v: i8, h| hash_int(
            i32::from(v),
            h
        )),
        DataType::Int16 => each!(column.as_primitive::<Int16Type>(), |v: i16, h| hash_int(
            i32::from(v),
            h
        )),
        DataType::Int32 => each!(column.as_primitive::<Int32Type>(), hash_int),
        DataType::Date32 => each!(column.as_primitive::<Date32Type>(), hash_int),
        DataType::Int64 => each!(column.as_primitive::<Int64Type>(), hash_long),
        DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, _) => {
            each!(column.as_primitive::<TimestampMicrosecondType>(), hash_long)
        }
        // Spark hashes -0.0 as 0.0.
        DataType::Float32 => each!(column.as_primitive::<Float32Type>(), |v: f32, h| {
            hash_int(if v == 0.0 { 0 } else { v.to_bits() as i32 }, h)
        }),
        DataType::Float64 => each!(column.as_primitive::<Float64Type>(), |v: f64, h| {
            hash_long(if v == 0.0 { 0 } else { v.to_bits() as i64 }, h)
        }),
        DataType::Decimal128(p, _) if *p <= 18 => {
            each!(column.as_primitive::<Decimal128Type>(), |v: i128, h| {
                hash_long(v as i64, h)
            })
        }
        DataType::Utf8 => each!(column.as_string::<i32>(), |v: &str, h| hash_bytes(
            v.as_bytes(),
            h
        )),
        DataType::LargeUtf8 => each!(column.as_string::<i64>(), |v: &str, h| hash_bytes(
            v.as_bytes(),
            h
        )),
        DataType::Utf8View => each!(column.as_string_view(), |v: &str, h| hash_bytes(
            v.as_bytes(),
            h
        )),
        DataType::Binary => each!(column.as_binary::<i32>(), hash_bytes),
        other => return exec_err!("hash of {other} is not supported by sluice yet"),
    }
    Ok(())
}

/// `hash(c1, c2, ...)` over whole columns.
pub(crate) fn hash(columns: &[ArrayRef]) -> Result<ArrayRef> {
    let rows = columns.first().map_or(0, |c| c.len());
    let mut hashes = vec![SEED; rows];
    for c in columns {
        fold(c, &mut hashes)?;
    }
    Ok(std::sync::Arc::new(Int32Array::from(hashes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_spark_for_longs() {
        // Spark: SELECT hash(0L), hash(1L), hash(2L)
        assert_eq!(hash_long(0, SEED), -1670924195);
        assert_eq!(hash_long(1, SEED), -1712319331);
        assert_eq!(hash_long(2, SEED), -797927272);
    }
}
