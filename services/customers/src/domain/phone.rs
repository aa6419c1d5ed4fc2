//! Phone numbers as people type them, normalised to E.164.
//!
//! Mainland China first: `138 0013 8000`, `+86-138-0013-8000`,
//! `0086 13800138000`, `010-8888 6666`, `0755 8888 6666 转 123`. A number
//! without a country code is read in the tenant's region (CN unless its
//! settings say otherwise); one with `+` or `00` names its own. Extensions
//! (`转`, `ext`, `x`, `#`) are dropped: a customer is reached through the
//! switchboard number.

use kefu_proto::v1::CustomerPhoneType;

/// A normalised number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalised {
    /// `+8613800138000`.
    pub e164: String,
    /// Mobile or landline when the numbering plan tells.
    pub kind: CustomerPhoneType,
}

/// Why a number cannot be normalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Letters or symbols that are not part of a number.
    #[error("contains characters that are not part of a phone number")]
    Characters,
    /// Not a number of the region's numbering plan.
    #[error("is not a valid {0} phone number")]
    Plan(&'static str),
    /// Too short or too long for E.164 (8 to 15 digits with the country code).
    #[error("is not a valid international number (8 to 15 digits with the country code)")]
    Length,
    /// A local number without its area code.
    #[error("needs its area code (区号), for example 010-8888 6666")]
    AreaCode,
    /// A region whose national numbers Kefu cannot read.
    #[error("has no country code; write it as +<country code> <number>")]
    CountryCode,
}

/// Country calling codes of the regions whose national numbers Kefu reads,
/// and whether their national numbers start with a trunk `0`.
const REGIONS: &[(&str, &str, bool)] = &[
    ("CN", "86", true),
    ("HK", "852", false),
    ("MO", "853", false),
    ("TW", "886", true),
    ("SG", "65", false),
    ("JP", "81", true),
    ("KR", "82", true),
    ("GB", "44", true),
    ("US", "1", false),
];

/// Normalises `raw` for a tenant in `region` (ISO 3166-1 alpha-2; empty
/// means CN).
pub fn normalise(raw: &str, region: &str) -> Result<Normalised, PhoneError> {
    let number = strip_extension(raw.trim());
    let mut digits = String::with_capacity(number.len());
    let mut plus = false;
    for (index, character) in number.chars().enumerate() {
        match character {
            '0'..='9' => digits.push(character),
            // Full-width digits, as Chinese input methods type them.
            '０'..='９' => digits.push(char::from(b'0' + (character as u32 - '０' as u32) as u8)),
            '+' | '＋' if index == 0 || digits.is_empty() && !plus => plus = true,
            ' ' | '-' | '(' | ')' | '.' | '/' | '\u{3000}' | '（' | '）' | '—' => {}
            _ => return Err(PhoneError::Characters),
        }
    }
    let international = if plus {
        Some(digits.clone())
    } else {
        digits.strip_prefix("00").map(str::to_owned)
    };
    match international {
        Some(international) => {
            if let Some(national) = international.strip_prefix("86") {
                return china(national, false);
            }
            if !(8..=15).contains(&international.len()) || international.starts_with('0') {
                return Err(PhoneError::Length);
            }
            Ok(Normalised {
                e164: format!("+{international}"),
                kind: CustomerPhoneType::Unspecified,
            })
        }
        None => {
            let region = if region.is_empty() { "CN" } else { region };
            if region.eq_ignore_ascii_case("CN") {
                return china(&digits, true);
            }
            let (_, code, trunk) = REGIONS
                .iter()
                .find(|(name, _, _)| name.eq_ignore_ascii_case(region))
                .ok_or(PhoneError::CountryCode)?;
            let national = if *trunk {
                digits.strip_prefix('0').unwrap_or(&digits)
            } else {
                &digits
            };
            let e164 = format!("{code}{national}");
            if !(8..=15).contains(&e164.len()) {
                return Err(PhoneError::Length);
            }
            Ok(Normalised {
                e164: format!("+{e164}"),
                kind: CustomerPhoneType::Unspecified,
            })
        }
    }
}

/// `raw` without an extension suffix.
fn strip_extension(raw: &str) -> &str {
    let lower_cut = ["转", "分机", "ext", "EXT", "Ext", "x", "X", "#", ",", "，"]
        .iter()
        .filter_map(|marker| raw.find(marker))
        .min();
    match lower_cut {
        Some(cut) if cut > 0 => raw[..cut].trim_end(),
        _ => raw,
    }
}

/// A mainland number: `national` after `+86`, or as typed in China
/// (`with_trunk`: landlines carry their leading `0`).
fn china(national: &str, with_trunk: bool) -> Result<Normalised, PhoneError> {
    let mobile = national.len() == 11
        && national.starts_with('1')
        && matches!(national.as_bytes()[1], b'3'..=b'9');
    if mobile {
        return Ok(Normalised {
            e164: format!("+86{national}"),
            kind: CustomerPhoneType::Mobile,
        });
    }
    let landline = if with_trunk {
        match national.strip_prefix('0') {
            Some(rest) => rest,
            None if (7..=8).contains(&national.len()) => return Err(PhoneError::AreaCode),
            None => return Err(PhoneError::Plan("mainland China")),
        }
    } else {
        national.strip_prefix('0').unwrap_or(national)
    };
    // Area codes: 10 and 2x are two digits, the others three; subscriber
    // numbers have 7 or 8 digits.
    let area = if landline.starts_with("10") || landline.starts_with('2') {
        2
    } else {
        3
    };
    let subscriber = landline.len().saturating_sub(area);
    if landline.starts_with(['1', '0']) && !landline.starts_with("10")
        || !(7..=8).contains(&subscriber)
    {
        return Err(PhoneError::Plan("mainland China"));
    }
    Ok(Normalised {
        e164: format!("+86{landline}"),
        kind: CustomerPhoneType::Landline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e164(raw: &str) -> String {
        normalise(raw, "CN").expect(raw).e164
    }

    #[test]
    fn mainland_mobiles_as_people_type_them() {
        for raw in [
            "13800138000",
            "138 0013 8000",
            "+86-138-0013-8000",
            "0086 13800138000",
            "+86 138 0013 8000",
            "(+86) 13800138000",
            "１３８００１３８０００",
        ] {
            assert_eq!(e164(raw), "+8613800138000", "{raw}");
        }
        assert_eq!(
            normalise("13800138000", "").expect("valid").kind,
            CustomerPhoneType::Mobile
        );
    }

    #[test]
    fn landlines_keep_their_area_code_and_drop_extensions() {
        assert_eq!(e164("010-8888 6666"), "+861088886666");
        assert_eq!(e164("0755 8888 6666 转 123"), "+8675588886666");
        assert_eq!(e164("021-5555-6666 ext 9"), "+862155556666");
        assert_eq!(e164("+86 10 8888 6666"), "+861088886666");
        assert_eq!(
            normalise("010-8888 6666", "CN").expect("valid").kind,
            CustomerPhoneType::Landline
        );
    }

    #[test]
    fn other_countries_by_code_or_by_the_tenant_region() {
        assert_eq!(e164("+852 9123 4567"), "+85291234567");
        assert_eq!(e164("001 415 555 0100"), "+14155550100");
        assert_eq!(
            normalise("020 7946 0958", "GB").expect("valid").e164,
            "+442079460958"
        );
        assert_eq!(normalise("5551234", "FR"), Err(PhoneError::CountryCode));
    }

    #[test]
    fn malformed_numbers_are_refused_with_the_reason() {
        assert_eq!(normalise("8888 6666", "CN"), Err(PhoneError::AreaCode));
        assert_eq!(
            normalise("1380013800", "CN"),
            Err(PhoneError::Plan("mainland China"))
        );
        assert_eq!(
            normalise("12800138000", "CN"),
            Err(PhoneError::Plan("mainland China"))
        );
        assert_eq!(
            normalise("138-0013-800a", "CN"),
            Err(PhoneError::Characters)
        );
        assert_eq!(normalise("+1234", "CN"), Err(PhoneError::Length));
        assert_eq!(normalise("", "CN"), Err(PhoneError::Plan("mainland China")));
    }
}
