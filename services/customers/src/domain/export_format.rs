//! What ExportCustomers writes: CSV in the import's columns (UTF-8 with a
//! BOM so Excel reads it as UTF-8), so an export re-imports unchanged, or
//! JSON lines of `Customer` in the proto3 JSON mapping; and the chunks it
//! streams them in (about 1 MiB, a row never split).
//!
//! A cell that starts like a spreadsheet formula (`=`, `+`, `-`, `@`, tab,
//! carriage return) is written with a leading `'` (OWASP "CSV injection"):
//! Excel shows it as text instead of evaluating a name such as
//! `=HYPERLINK(…)` an attacker typed into a web form. The import strips that
//! one quote again ([`unescape_cell`]), so the round trip holds (`+86 138…`).

use std::sync::OnceLock;

use kefu_proto::v1::{
    Channel, Customer, CustomerIdentifierKind, ExportCustomersChunk, RiskProfile,
};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

use super::csv_row::{
    ATTRIBUTE_PREFIX, COLUMNS, IDENTIFIER_COLUMNS, SEPARATOR, amount_text, attribute_text,
    channel_word, risk_profile_word,
};

/// The UTF-8 byte order mark the CSV starts with.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// About how many bytes a chunk holds (the contract's 1 MiB).
pub const CHUNK_BYTES: usize = 1024 * 1024;

/// The header row of a CSV export whose attribute columns are `keys`.
pub fn csv_header(attribute_keys: &[String]) -> Vec<String> {
    COLUMNS
        .iter()
        .map(|column| (*column).to_owned())
        .chain(
            attribute_keys
                .iter()
                .map(|key| format!("{ATTRIBUTE_PREFIX}{key}")),
        )
        .collect()
}

/// The cells of `customer` in the columns of [`csv_header`].
pub fn csv_record(customer: &Customer, attribute_keys: &[String]) -> Vec<String> {
    let joined = |values: Vec<&str>| values.join(&SEPARATOR.to_string());
    let address = customer.addresses.first().cloned().unwrap_or_default();
    let identifiers = |kind: CustomerIdentifierKind| {
        joined(
            customer
                .identifiers
                .iter()
                .filter(|id| id.kind == kind as i32)
                .map(|id| id.value.as_str())
                .collect(),
        )
    };
    let date = |date: &Option<kefu_proto::v1::Date>| {
        date.as_ref().map_or_else(String::new, |date| {
            format!("{:04}-{:02}-{:02}", date.year, date.month, date.day)
        })
    };
    let money = |money: &Option<kefu_proto::v1::Money>| {
        money
            .as_ref()
            .map_or_else(String::new, |money| amount_text(money.amount_minor))
    };
    // Flags only for a customer that has preferences at all, so one without
    // comes back without them.
    let flag = |value: fn(&kefu_proto::v1::ContactPreferences) -> bool| {
        customer
            .contact_preferences
            .as_ref()
            .map_or_else(String::new, |preferences| value(preferences).to_string())
    };
    let preferences = customer.contact_preferences.clone().unwrap_or_default();
    let channel =
        |value: i32| channel_word(Channel::try_from(value).unwrap_or(Channel::Unspecified));
    let mut cells = Vec::with_capacity(COLUMNS.len() + attribute_keys.len());
    for column in COLUMNS {
        let cell = match *column {
            "external_id" => customer.external_id.clone(),
            "display_name" => customer.display_name.clone(),
            "family_name" => customer.family_name.clone(),
            "given_name" => customer.given_name.clone(),
            "pinyin" => customer.pinyin.clone(),
            // The primary first: the import makes the first one primary.
            "phones" => {
                let mut phones: Vec<_> = customer.phones.iter().collect();
                phones.sort_by_key(|phone| !phone.primary);
                joined(phones.iter().map(|phone| phone.raw.as_str()).collect())
            }
            "emails" => {
                let mut emails: Vec<_> = customer.emails.iter().collect();
                emails.sort_by_key(|email| !email.primary);
                joined(emails.iter().map(|email| email.address.as_str()).collect())
            }
            "region_code" => address.region_code.clone(),
            "administrative_area" => address.administrative_area.clone(),
            "locality" => address.locality.clone(),
            "sublocality" => address.sublocality.clone(),
            "address_line" => joined(address.address_lines.iter().map(String::as_str).collect()),
            "postal_code" => address.postal_code.clone(),
            "tags" => joined(customer.tags.iter().map(String::as_str).collect()),
            "member" => customer.member.to_string(),
            "member_since" => date(&customer.member_since),
            "customer_since" => date(&customer.customer_since),
            "risk_profile" => risk_profile_word(
                RiskProfile::try_from(customer.risk_profile).unwrap_or(RiskProfile::Unspecified),
            )
            .to_owned(),
            "contribution" => money(&customer.contribution),
            "asset_size" => money(&customer.asset_size),
            // A tier the rules gave is theirs to give again; only a tier set
            // by hand is part of the record (and locks it on import).
            "tier" if customer.tier_locked => customer
                .tier
                .strip_prefix("tiers/")
                .unwrap_or(&customer.tier)
                .to_owned(),
            "tier" => String::new(),
            "owner" => customer.owner.clone(),
            "source_channel" => channel(customer.source_channel),
            "do_not_disturb" => flag(|p| p.do_not_disturb),
            "sms_consent" => flag(|p| p.sms_consent),
            "preferred_channel" => channel(preferences.preferred_channel),
            other => IDENTIFIER_COLUMNS
                .iter()
                .find(|(name, _)| *name == other)
                .map(|(_, kind)| identifiers(*kind))
                .unwrap_or_default(),
        };
        cells.push(escape_cell(cell));
    }
    for key in attribute_keys {
        let value = customer
            .attributes
            .as_ref()
            .and_then(|attributes| attributes.fields.get(key))
            .map(attribute_text)
            .unwrap_or_default();
        cells.push(escape_cell(value));
    }
    cells
}

/// Whether a cell would start a spreadsheet formula.
fn looks_like_formula(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// `cell` as exported: a formula-like start is kept as text with a `'`.
pub fn escape_cell(cell: String) -> String {
    if looks_like_formula(&cell) {
        format!("'{cell}")
    } else {
        cell
    }
}

/// A cell as imported: the `'` an export put before a formula-like start is
/// removed.
pub fn unescape_cell(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if looks_like_formula(rest) => rest,
        _ => cell,
    }
}

/// One CSV line (RFC 4180: quoted where needed, CRLF).
pub fn csv_line(cells: &[String]) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(256));
    // Writing into a Vec cannot fail.
    let _ = writer.write_record(cells);
    writer.into_inner().unwrap_or_default()
}

fn pool() -> Option<&'static DescriptorPool> {
    static POOL: OnceLock<Option<DescriptorPool>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(kefu_proto::FILE_DESCRIPTOR_SET).ok())
        .as_ref()
}

/// `customer` as one line of proto3 JSON (camelCase names, defaults
/// omitted), newline-terminated; `None` if the contract's descriptors are
/// missing (a build fault).
pub fn json_line(customer: &Customer) -> Option<Vec<u8>> {
    let descriptor = pool()?.get_message_by_name("kefu.v1.Customer")?;
    let message = DynamicMessage::decode(descriptor, customer.encode_to_vec().as_slice()).ok()?;
    let mut serializer = serde_json::Serializer::new(Vec::with_capacity(512));
    message
        .serialize_with_options(&mut serializer, &SerializeOptions::new())
        .ok()?;
    let mut line = serializer.into_inner();
    line.push(b'\n');
    Some(line)
}

/// Gathers rows into chunks of about [`CHUNK_BYTES`], never splitting one.
#[derive(Debug)]
pub struct Chunker {
    limit: usize,
    data: Vec<u8>,
    customers: i64,
}

impl Chunker {
    /// A chunker whose chunks hold about `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            data: Vec::new(),
            customers: 0,
        }
    }

    /// Adds bytes that are no customer (the BOM and header).
    pub fn preamble(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
    }

    /// Adds one customer's row; a full chunk when this row would overflow
    /// the current one.
    pub fn push(&mut self, row: &[u8]) -> Option<ExportCustomersChunk> {
        let full = (!self.data.is_empty() && self.data.len() + row.len() > self.limit)
            .then(|| self.take(false));
        self.data.extend_from_slice(row);
        self.customers += 1;
        full
    }

    /// The last chunk (possibly empty), marked `last`.
    pub fn finish(mut self) -> ExportCustomersChunk {
        self.take(true)
    }

    fn take(&mut self, last: bool) -> ExportCustomersChunk {
        ExportCustomersChunk {
            data: std::mem::take(&mut self.data),
            customers: std::mem::take(&mut self.customers),
            last,
        }
    }
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::{
        ContactPreferences, CustomerEmail, CustomerIdentifier, CustomerPhone, Date, Money,
        PostalAddress,
    };

    use super::*;
    use crate::domain::{
        csv_row::{self, AttributeTypes, Decoded, FileEncoding},
        customer::normalise,
    };

    fn sample() -> Customer {
        let mut customer = Customer {
            display_name: "=张三, \"老张\"".into(),
            pinyin: "zhang san".into(),
            phones: vec![
                CustomerPhone {
                    raw: "010-8888 6666".into(),
                    ..CustomerPhone::default()
                },
                CustomerPhone {
                    raw: "+86 138 0013 8000".into(),
                    primary: true,
                    ..CustomerPhone::default()
                },
            ],
            emails: vec![CustomerEmail {
                address: "zhang@example.com".into(),
                ..CustomerEmail::default()
            }],
            addresses: vec![PostalAddress {
                region_code: "CN".into(),
                administrative_area: "上海市".into(),
                locality: "上海市".into(),
                address_lines: vec!["浦东新区\n世纪大道 1 号".into(), "3-2-1502".into()],
                ..PostalAddress::default()
            }],
            identifiers: vec![CustomerIdentifier {
                kind: CustomerIdentifierKind::UnitNumber as i32,
                value: "3-2-1502".into(),
                ..CustomerIdentifier::default()
            }],
            tags: vec!["业主".into(), "VIP".into()],
            member: true,
            member_since: Some(Date {
                year: 2020,
                month: 1,
                day: 31,
            }),
            risk_profile: RiskProfile::Balanced as i32,
            contribution: Some(Money {
                currency_code: String::new(),
                amount_minor: 123_456,
            }),
            customer_since: Some(Date {
                year: 2019,
                month: 5,
                day: 1,
            }),
            source_channel: Channel::Phone as i32,
            contact_preferences: Some(ContactPreferences {
                sms_consent: true,
                preferred_channel: Channel::Sms as i32,
                ..ContactPreferences::default()
            }),
            external_id: "crm-1".into(),
            ..Customer::default()
        };
        normalise(&mut customer, "CN", "customer").expect("valid");
        customer
    }

    #[test]
    fn a_csv_export_reads_back_as_the_same_customer() {
        let customer = sample();
        let mut file = BOM.to_vec();
        file.extend(csv_line(&csv_header(&[])));
        file.extend(csv_line(&csv_record(&customer, &[])));
        let text = String::from_utf8(file.clone()).expect("utf-8");
        assert!(
            text.contains("'=张三"),
            "formula-like cells are escaped: {text}"
        );
        assert!(text.contains("'+86 138 0013 8000;010-8888 6666"), "{text}");
        let mut reader = csv_row::csv_reader(Decoded::new(file.as_slice(), FileEncoding::Utf8));
        let mut records = Vec::new();
        for record in reader.byte_records() {
            let record = record.expect("csv");
            records.push(csv_row::record_fields(1, &record).expect("text"));
        }
        let header = csv_row::header(&records[0]).expect("the export's header imports");
        let row = csv_row::candidate(&header, 2, &records[1], &AttributeTypes::new(), "CN")
            .expect("the export's row imports");
        let mut expected = customer.clone();
        // The import lists the primary phone first.
        expected.phones.reverse();
        expected.phones[1].primary = false;
        assert_eq!(row.customer, expected);
    }

    #[test]
    fn json_lines_are_proto3_json() {
        let customer = sample();
        let line = json_line(&customer).expect("descriptors");
        assert_eq!(line.last(), Some(&b'\n'));
        assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
        let json: serde_json::Value = serde_json::from_slice(&line).expect("json");
        assert_eq!(json["displayName"], "=张三, \"老张\"");
        assert_eq!(json["riskProfile"], "RISK_PROFILE_BALANCED");
        assert_eq!(json["contribution"]["amountMinor"], "123456");
        assert_eq!(json["phones"][1]["e164"], "+8613800138000");
    }

    #[test]
    fn chunks_never_split_a_row() {
        let mut chunker = Chunker::new(12);
        chunker.preamble(b"head\n");
        assert_eq!(chunker.push(b"row-1\n"), None);
        let first = chunker.push(b"row-2\n").expect("full");
        assert_eq!(first.data, b"head\nrow-1\n");
        assert_eq!((first.customers, first.last), (1, false));
        let last = chunker.finish();
        assert_eq!(last.data, b"row-2\n");
        assert_eq!((last.customers, last.last), (1, true));
        let empty = Chunker::new(10).finish();
        assert!(empty.last && empty.data.is_empty() && empty.customers == 0);
    }

    #[test]
    fn the_formula_quote_is_removed_on_import_only_before_a_formula() {
        assert_eq!(escape_cell("=1+1".into()), "'=1+1");
        assert_eq!(escape_cell("张三".into()), "张三");
        assert_eq!(unescape_cell("'=1+1"), "=1+1");
        assert_eq!(unescape_cell("'quoted'"), "'quoted'");
    }
}
