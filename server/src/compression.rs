//! `Plan.compressed_operation`: plans the client compressed with zstd.
use prost::Message;
use proto::connect::plan::compressed_operation::OpType as CompressedType;
use proto::connect::plan::{CompressedOperation, OpType};
use proto::connect::CompressionCodec;
use proto::connect::{Command, Relation};

use crate::error::{SparkError, SparkResult};

/// Largest plan accepted after decompression.
const MAX_PLAN_BYTES: u64 = 1 << 30;

pub fn decompress(c: CompressedOperation) -> SparkResult<Option<OpType>> {
    let bytes = match c.compression_codec() {
        CompressionCodec::Zstd => {
            use std::io::Read;
            let mut out = Vec::new();
            zstd::stream::read::Decoder::new(c.data.as_slice())?
                .take(MAX_PLAN_BYTES)
                .read_to_end(&mut out)?;
            out
        }
        other => {
            return Err(SparkError::invalid(format!(
                "unsupported plan compression codec {}",
                other.as_str_name()
            )))
        }
    };
    let decode_err =
        |e: prost::DecodeError| SparkError::invalid(format!("malformed compressed plan: {e}"));
    Ok(Some(match c.op_type() {
        CompressedType::Relation => {
            OpType::Root(Relation::decode(bytes.as_slice()).map_err(decode_err)?)
        }
        CompressedType::Command => {
            OpType::Command(Command::decode(bytes.as_slice()).map_err(decode_err)?)
        }
        CompressedType::Unspecified => {
            return Err(SparkError::invalid("compressed plan without a type"))
        }
    }))
}
