//! Tenant exports: when one counts as offered before deletion, when its
//! download expires, and the archive format (`.tar.gz` of JSON lines per
//! resource type, as `TenantExport.download_uri` promises).
//!
//! The archive is written here without a compression library: gzip with
//! stored (uncompressed) deflate blocks is valid gzip every `tar -xzf`
//! reads, and the workspace has no deflate implementation to lean on. The
//! exported records are small (the tenants service's own data).

use std::sync::OnceLock;

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use kefu_kit::events::{from_timestamp, to_timestamp};
use kefu_proto::v1::{TenantExport, TenantExportState};
use prost_reflect::{DescriptorPool, DynamicMessage, Kind, MapKey, ReflectMessage, Value};
use serde_json::{Map, Value as Json, json};

/// How long a download link works after success.
pub const DOWNLOAD_VALIDITY: Duration = Duration::days(7);

/// How recent a successful export must be for DeleteTenant to proceed.
pub const OFFER_WINDOW: Duration = Duration::days(30);

fn state_of(export: &TenantExport) -> TenantExportState {
    TenantExportState::try_from(export.state).unwrap_or(TenantExportState::Unspecified)
}

/// The export as callers see it at `now`: a success whose link has lapsed
/// reads EXPIRED, without its link.
pub fn view(mut export: TenantExport, now: DateTime<Utc>) -> TenantExport {
    let lapsed = export
        .expire_time
        .as_ref()
        .and_then(from_timestamp)
        .is_some_and(|expire| expire <= now);
    if state_of(&export) == TenantExportState::Succeeded && lapsed {
        export.state = TenantExportState::Expired as i32;
        export.download_uri.clear();
    }
    export
}

/// Whether one of `exports` succeeded within [`OFFER_WINDOW`] before `now`
/// (its link may have lapsed since: the data was offered).
pub fn offered(exports: &[TenantExport], now: DateTime<Utc>) -> bool {
    exports.iter().any(|export| {
        matches!(
            state_of(export),
            TenantExportState::Succeeded | TenantExportState::Expired
        ) && export
            .complete_time
            .as_ref()
            .and_then(from_timestamp)
            .is_some_and(|done| now - done <= OFFER_WINDOW)
    })
}

/// Marks `export` SUCCEEDED with its archive's size and digest.
pub fn succeed(
    export: &mut TenantExport,
    size_bytes: i64,
    sha256: String,
    download_uri: String,
    service: &str,
    now: DateTime<Utc>,
) {
    export.state = TenantExportState::Succeeded as i32;
    export.size_bytes = size_bytes;
    export.sha256 = sha256;
    export.download_uri = download_uri;
    if !export.completed_services.iter().any(|done| done == service) {
        export.completed_services.push(service.to_owned());
    }
    export.complete_time = Some(to_timestamp(now));
    export.expire_time = Some(to_timestamp(now + DOWNLOAD_VALIDITY));
    export.error.clear();
}

fn pool() -> Option<&'static DescriptorPool> {
    static POOL: OnceLock<Option<DescriptorPool>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(kefu_proto::FILE_DESCRIPTOR_SET).ok())
        .as_ref()
}

/// A message in the proto3 JSON mapping (field JSON names, enum value
/// names, RFC 3339 timestamps, `"1.5s"` durations, base64 bytes), so the
/// export reads like the REST API; `None` when the type is unknown.
pub fn to_json<M: prost::Message + prost::Name>(message: &M) -> Option<Json> {
    let descriptor = pool()?.get_message_by_name(&M::full_name())?;
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice()).ok()?;
    Some(message_json(&dynamic))
}

fn message_json(message: &DynamicMessage) -> Json {
    let descriptor = message.descriptor();
    match descriptor.full_name() {
        "google.protobuf.Timestamp" => {
            let field = |name| message.get_field_by_name(name).map(|v| v.into_owned());
            let seconds = field("seconds").and_then(|v| v.as_i64()).unwrap_or(0);
            let nanos = field("nanos").and_then(|v| v.as_i32()).unwrap_or(0);
            return from_timestamp(&prost_types::Timestamp { seconds, nanos })
                .map(|time| Json::String(time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)))
                .unwrap_or(Json::Null);
        }
        "google.protobuf.Duration" => {
            let field = |name| message.get_field_by_name(name).map(|v| v.into_owned());
            let seconds = field("seconds").and_then(|v| v.as_i64()).unwrap_or(0);
            let nanos = field("nanos").and_then(|v| v.as_i32()).unwrap_or(0);
            let text = if nanos == 0 {
                format!("{seconds}s")
            } else {
                format!("{seconds}.{:09}s", nanos.unsigned_abs())
            };
            return Json::String(text);
        }
        _ => {}
    }
    let mut object = Map::new();
    for (field, value) in message.fields() {
        object.insert(
            field.json_name().to_owned(),
            value_json(&field.kind(), value),
        );
    }
    Json::Object(object)
}

fn value_json(kind: &Kind, value: &Value) -> Json {
    match value {
        Value::Bool(v) => json!(v),
        Value::I32(v) => json!(v),
        Value::U32(v) => json!(v),
        // 64-bit integers are strings in proto3 JSON: JavaScript readers
        // would round them.
        Value::I64(v) => json!(v.to_string()),
        Value::U64(v) => json!(v.to_string()),
        Value::F32(v) => json!(v),
        Value::F64(v) => json!(v),
        Value::String(v) => json!(v),
        Value::Bytes(v) => json!(base64::engine::general_purpose::STANDARD.encode(v)),
        Value::EnumNumber(number) => match kind {
            Kind::Enum(descriptor) => descriptor
                .get_value(*number)
                .map(|value| json!(value.name()))
                .unwrap_or_else(|| json!(number)),
            _ => json!(number),
        },
        Value::Message(message) => message_json(message),
        Value::List(items) => {
            Json::Array(items.iter().map(|item| value_json(kind, item)).collect())
        }
        Value::Map(entries) => {
            let value_kind = match kind {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                other => other.clone(),
            };
            let mut object = Map::new();
            for (key, value) in entries {
                let key = match key {
                    MapKey::Bool(v) => v.to_string(),
                    MapKey::I32(v) => v.to_string(),
                    MapKey::I64(v) => v.to_string(),
                    MapKey::U32(v) => v.to_string(),
                    MapKey::U64(v) => v.to_string(),
                    MapKey::String(v) => v.clone(),
                };
                object.insert(key, value_json(&value_kind, value));
            }
            Json::Object(object)
        }
    }
}

/// JSON lines: one compact JSON document per line.
pub fn json_lines(records: &[Json]) -> Vec<u8> {
    let mut out = Vec::new();
    for record in records {
        out.extend_from_slice(record.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

/// A ustar archive of `(path, content)` files, modified at `mtime`.
pub fn tar(files: &[(String, Vec<u8>)], mtime: DateTime<Utc>) -> Vec<u8> {
    let mut out = Vec::new();
    let mtime = u64::try_from(mtime.timestamp()).unwrap_or(0);
    for (path, content) in files {
        let mut header = [0_u8; 512];
        let name = path.as_bytes();
        let name_length = name.len().min(100);
        header[..name_length].copy_from_slice(&name[..name_length]);
        octal(&mut header[100..108], 0o644);
        octal(&mut header[108..116], 0);
        octal(&mut header[116..124], 0);
        octal(&mut header[124..136], content.len() as u64);
        octal(&mut header[136..148], mtime);
        header[156] = b'0';
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        // The checksum is computed with its own field as spaces.
        header[148..156].copy_from_slice(b"        ");
        let sum: u64 = header.iter().map(|byte| u64::from(*byte)).sum();
        let text = format!("{sum:06o}\0 ");
        header[148..156].copy_from_slice(text.as_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(content);
        let padding = (512 - content.len() % 512) % 512;
        out.resize(out.len() + padding, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    let text = format!("{value:0width$o}");
    let bytes = text.as_bytes();
    let start = bytes.len().saturating_sub(width);
    field[..width].copy_from_slice(&bytes[start..]);
    field[width] = 0;
}

/// `data` as a gzip member of stored deflate blocks.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut chunks = data.chunks(0xffff).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        out.push(u8::from(last));
        let length = chunk.len() as u16;
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(&(!length).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    static TABLE: OnceLock<[u32; 256]> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = [0_u32; 256];
        for (index, entry) in table.iter_mut().enumerate() {
            let mut crc = index as u32;
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    0xedb8_8320 ^ (crc >> 1)
                } else {
                    crc >> 1
                };
            }
            *entry = crc;
        }
        table
    });
    !data.iter().fold(!0_u32, |crc, byte| {
        table[((crc ^ u32::from(*byte)) & 0xff) as usize] ^ (crc >> 8)
    })
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::{Money, SlaPolicy, SlaTarget, SlaTimeBasis};

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("instant")
    }

    #[test]
    fn a_success_counts_as_offered_for_thirty_days_and_downloads_for_seven() {
        let done = at("2026-11-01T00:00:00Z");
        let mut export = TenantExport {
            state: TenantExportState::Running as i32,
            ..TenantExport::default()
        };
        assert!(!offered(std::slice::from_ref(&export), done));
        succeed(&mut export, 10, "ab".into(), "/x".into(), "tenants", done);
        assert!(offered(
            std::slice::from_ref(&export),
            done + Duration::days(30)
        ));
        assert!(!offered(
            std::slice::from_ref(&export),
            done + Duration::days(31)
        ));
        assert_eq!(
            view(export.clone(), done).state,
            TenantExportState::Succeeded as i32
        );
        let lapsed = view(export, done + Duration::days(7));
        assert_eq!(lapsed.state, TenantExportState::Expired as i32);
        assert!(lapsed.download_uri.is_empty());
    }

    #[test]
    fn records_read_like_the_json_api() {
        let policy = SlaPolicy {
            name: "slaPolicies/p".into(),
            time_basis: SlaTimeBasis::Calendar as i32,
            targets: vec![SlaTarget {
                first_response_target: Some(prost_types::Duration {
                    seconds: 3_600,
                    nanos: 0,
                }),
                ..SlaTarget::default()
            }],
            create_time: Some(to_timestamp(at("2026-11-01T08:00:00Z"))),
            ..SlaPolicy::default()
        };
        let json = to_json(&policy).expect("known type");
        assert_eq!(json["name"], "slaPolicies/p");
        assert_eq!(json["timeBasis"], "SLA_TIME_BASIS_CALENDAR");
        assert_eq!(json["targets"][0]["firstResponseTarget"], "3600s");
        assert_eq!(json["createTime"], "2026-11-01T08:00:00Z");
        let money = to_json(&Money {
            currency_code: "CNY".into(),
            amount_minor: 99_999,
        })
        .expect("known type");
        assert_eq!(money["amountMinor"], "99999");
    }

    #[test]
    fn the_archive_is_a_valid_gzip_of_a_tar() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        let archive = tar(
            &[("a.jsonl".to_owned(), b"{}\n".to_vec())],
            at("2026-11-01T00:00:00Z"),
        );
        assert_eq!(archive.len(), 512 * 2 + 1024);
        assert_eq!(&archive[257..262], b"ustar");
        let gz = gzip(&archive);
        assert_eq!(&gz[..2], &[0x1f, 0x8b]);
        assert_eq!(gz.len(), 10 + 5 + archive.len() + 8);
        assert_eq!(gzip(&[]).len(), 10 + 5 + 8);
    }
}
