//! The activity timeline's words and the filters of the ownership history
//! and timeline lists: what each happening reads as in the tenant's locale
//! (`工单 T-1024 已解决：漏水维修`), and the AIP-160 subset the lists accept.

use chrono::{DateTime, Utc};

use crate::error::{CustomersError, Result};

/// The longest summary the contract allows, in characters.
pub const SUMMARY_LIMIT: usize = 500;

/// Something that happened to a customer, as the timeline tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happening {
    /// The customer was created; by an import when `imported`.
    Created {
        /// Whether an import created it.
        imported: bool,
    },
    /// A ticket was created.
    TicketCreated {
        /// `T-000123`.
        number: String,
        /// The ticket's subject.
        subject: String,
    },
    /// A ticket was resolved.
    TicketResolved {
        /// `T-000123`.
        number: String,
        /// The ticket's subject.
        subject: String,
    },
    /// A complaint was registered.
    ComplaintRegistered {
        /// `C-000123`.
        number: String,
        /// Its subject.
        subject: String,
    },
    /// A complaint was closed (or rejected at the judgement).
    ComplaintClosed {
        /// `C-000123`.
        number: String,
        /// Its subject.
        subject: String,
        /// Whether it was rejected rather than closed.
        rejected: bool,
    },
    /// A technician visit was completed.
    DispatchCompleted {
        /// The service voucher number, if any.
        voucher: String,
        /// The technician's display name, if known.
        technician: String,
    },
    /// A callback ended (DONE or FAILED).
    CallbackDone {
        /// Whether the customer was reached.
        reached: bool,
        /// The final outcome without its prefix (`NO_ANSWER`).
        outcome: String,
    },
    /// The customer answered a survey.
    SurveyAnswered {
        /// The lowest level among the answers without its prefix (`POOR`).
        lowest: String,
    },
    /// The owner changed (display names, or names when unknown).
    OwnerChanged {
        /// Before; empty if none.
        previous: String,
        /// After; empty if removed.
        new: String,
    },
    /// The owner made first contact.
    FirstContact {
        /// The owner's display name.
        owner: String,
        /// The channel without its prefix (`PHONE`), empty if unknown.
        channel: String,
        /// The owner's notes.
        notes: String,
    },
    /// Another customer was merged into this one.
    Merged {
        /// `customers/{customer}` merged in.
        merged: String,
    },
    /// A merge into this customer was undone.
    MergeUndone {
        /// `customers/{customer}` restored.
        merged: String,
    },
    /// The tier changed.
    TierChanged {
        /// `tiers/{tier}` before; empty if none.
        previous: String,
        /// `tiers/{tier}` after; empty if none.
        new: String,
    },
}

/// Whether `locale` (BCP 47) reads English; every other locale, and none,
/// reads Chinese (the product's default, `zh-CN`).
fn english(locale: &str) -> bool {
    locale.to_ascii_lowercase().starts_with("en")
}

/// `text` followed by `：detail` (or `: detail`) when there is a detail.
fn with_detail(text: String, detail: &str, english: bool) -> String {
    let detail = detail.trim();
    match (detail.is_empty(), english) {
        (true, _) => text,
        (false, true) => format!("{text}: {detail}"),
        (false, false) => format!("{text}：{detail}"),
    }
}

fn or_none(name: &str, english: bool) -> &str {
    match (name.is_empty(), english) {
        (false, _) => name,
        (true, true) => "none",
        (true, false) => "无",
    }
}

fn channel_zh(channel: &str) -> &str {
    match channel {
        "PHONE" => "电话",
        "WEB" => "网页",
        "EMAIL" => "邮件",
        "IM" => "在线聊天",
        "SOCIAL" => "社交媒体",
        "WALK_IN" => "到访",
        "LETTER" => "信函",
        "FORWARDED" => "转交",
        "SMS" => "短信",
        "API" => "接口",
        other => other,
    }
}

fn outcome_zh(outcome: &str) -> &str {
    match outcome {
        "REACHED" => "已联系到客户",
        "NO_ANSWER" => "无人接听",
        "WRONG_NUMBER" => "号码错误",
        "REFUSED" => "客户拒绝",
        "CALL_BACK_LATER" => "客户要求稍后回电",
        other => other,
    }
}

fn level_zh(level: &str) -> &str {
    match level {
        "VERY_SATISFIED" => "非常满意",
        "SATISFIED" => "满意",
        "AVERAGE" => "一般",
        "POOR" => "差",
        other => other,
    }
}

impl Happening {
    /// The one-line summary in `locale`, at most [`SUMMARY_LIMIT`]
    /// characters.
    pub fn summary(&self, locale: &str) -> String {
        let en = english(locale);
        let text = match self {
            Self::Created { imported } => match (imported, en) {
                (false, false) => "客户档案已创建".to_owned(),
                (true, false) => "客户档案由导入创建".to_owned(),
                (false, true) => "Customer created".to_owned(),
                (true, true) => "Customer created by an import".to_owned(),
            },
            Self::TicketCreated { number, subject } => with_detail(
                if en {
                    format!("Ticket {number} created")
                } else {
                    format!("工单 {number} 已创建")
                },
                subject,
                en,
            ),
            Self::TicketResolved { number, subject } => with_detail(
                if en {
                    format!("Ticket {number} resolved")
                } else {
                    format!("工单 {number} 已解决")
                },
                subject,
                en,
            ),
            Self::ComplaintRegistered { number, subject } => with_detail(
                if en {
                    format!("Complaint {number} registered")
                } else {
                    format!("投诉 {number} 已登记")
                },
                subject,
                en,
            ),
            Self::ComplaintClosed {
                number,
                subject,
                rejected,
            } => with_detail(
                match (rejected, en) {
                    (false, false) => format!("投诉 {number} 已结案"),
                    (true, false) => format!("投诉 {number} 不予受理"),
                    (false, true) => format!("Complaint {number} closed"),
                    (true, true) => format!("Complaint {number} rejected"),
                },
                subject,
                en,
            ),
            Self::DispatchCompleted {
                voucher,
                technician,
            } => {
                let mut text = if en {
                    "Technician visit completed".to_owned()
                } else {
                    "上门服务已完成".to_owned()
                };
                if !voucher.is_empty() {
                    text.push_str(&if en {
                        format!(" (voucher {voucher})")
                    } else {
                        format!("（服务凭证号 {voucher}）")
                    });
                }
                let technician = if technician.is_empty() || en {
                    technician.clone()
                } else {
                    format!("技师 {technician}")
                };
                with_detail(text, &technician, en)
            }
            Self::CallbackDone { reached, outcome } => match (reached, en) {
                (true, false) => "回访已完成：已联系到客户".to_owned(),
                (false, false) => format!("回访未完成：{}", outcome_zh(outcome)),
                (true, true) => "Callback done: customer reached".to_owned(),
                (false, true) => format!(
                    "Callback failed: {}",
                    outcome.to_ascii_lowercase().replace('_', " ")
                ),
            },
            Self::SurveyAnswered { lowest } => {
                if en {
                    with_detail(
                        "Satisfaction survey answered".to_owned(),
                        &if lowest.is_empty() {
                            String::new()
                        } else {
                            format!(
                                "lowest rating {}",
                                lowest.to_ascii_lowercase().replace('_', " ")
                            )
                        },
                        en,
                    )
                } else {
                    with_detail(
                        "客户完成满意度调查".to_owned(),
                        &if lowest.is_empty() {
                            String::new()
                        } else {
                            format!("最低评价 {}", level_zh(lowest))
                        },
                        en,
                    )
                }
            }
            Self::OwnerChanged { previous, new } => match (new.is_empty(), en) {
                (false, false) => format!("专属客服变更：{} → {new}", or_none(previous, en)),
                (true, false) => format!("专属客服已移除：{}", or_none(previous, en)),
                (false, true) => format!("Owner changed: {} → {new}", or_none(previous, en)),
                (true, true) => format!("Owner removed: {}", or_none(previous, en)),
            },
            Self::FirstContact {
                owner,
                channel,
                notes,
            } => {
                let text = match (channel.is_empty(), en) {
                    (true, false) => format!("专属客服 {owner} 首次联系客户"),
                    (false, false) => {
                        format!("专属客服 {owner} 首次联系客户（{}）", channel_zh(channel))
                    }
                    (true, true) => format!("First contact by owner {owner}"),
                    (false, true) => format!(
                        "First contact by owner {owner} ({})",
                        channel.to_ascii_lowercase().replace('_', " ")
                    ),
                };
                with_detail(text, notes, en)
            }
            Self::Merged { merged } => {
                if en {
                    format!("{merged} was merged into this customer")
                } else {
                    format!("客户 {merged} 已合并到本客户")
                }
            }
            Self::MergeUndone { merged } => {
                if en {
                    format!("Merge undone: {merged} restored")
                } else {
                    format!("合并已撤销：{merged} 已恢复")
                }
            }
            Self::TierChanged { previous, new } => {
                if en {
                    format!(
                        "Tier changed: {} → {}",
                        or_none(previous, en),
                        or_none(new, en)
                    )
                } else {
                    format!(
                        "客户等级变更：{} → {}",
                        or_none(previous, en),
                        or_none(new, en)
                    )
                }
            }
        };
        truncate(text, SUMMARY_LIMIT)
    }
}

/// `text` cut to `limit` characters (an ellipsis marks the cut).
fn truncate(text: String, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text;
    }
    let mut cut: String = text.chars().take(limit - 1).collect();
    cut.push('…');
    cut
}

/// How a filterable field compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Text: `=` and `!=`; a trailing `*` in the value matches a prefix.
    Text,
    /// An enum, by its value name with or without its prefix: `=`, `!=`.
    Enum(&'static str),
    /// A timestamp (RFC 3339): `=`, `!=`, `<`, `<=`, `>`, `>=`.
    Time,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `=`.
    Equal,
    /// `!=`.
    NotEqual,
    /// `<`.
    Less,
    /// `<=`.
    LessOrEqual,
    /// `>`.
    Greater,
    /// `>=`.
    GreaterOrEqual,
}

/// The value a condition compares with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// Exact text.
    Text(String),
    /// Text starting with this (the value ended in `*`).
    Prefix(String),
    /// An enum value's full name (`OWNERSHIP_CHANGE_KIND_REASSIGNED`).
    Enum(String),
    /// A time.
    Time(DateTime<Utc>),
}

/// One condition of a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The field, as documented.
    pub field: String,
    /// The operator.
    pub operator: Operator,
    /// The value.
    pub operand: Operand,
}

fn bad_filter(description: impl Into<String>) -> CustomersError {
    CustomersError::invalid("filter", description)
}

/// Parses `filter` (conditions joined by `AND`) over the documented
/// `fields`; INVALID_ARGUMENT naming `filter` for anything else.
pub fn parse_filter(filter: &str, fields: &[(&str, FieldKind)]) -> Result<Vec<Condition>> {
    let filter = filter.trim();
    if filter.is_empty() {
        return Ok(Vec::new());
    }
    if filter.chars().count() > 2_000 {
        return Err(bad_filter("filter is longer than 2,000 characters"));
    }
    filter
        .split(" AND ")
        .map(|term| parse_condition(term.trim(), fields))
        .collect()
}

fn parse_condition(term: &str, fields: &[(&str, FieldKind)]) -> Result<Condition> {
    let field_end = term
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(term.len());
    let (field, rest) = term.split_at(field_end);
    let rest = rest.trim_start();
    let (operator, value) = [
        ("<=", Operator::LessOrEqual),
        (">=", Operator::GreaterOrEqual),
        ("!=", Operator::NotEqual),
        ("=", Operator::Equal),
        ("<", Operator::Less),
        (">", Operator::Greater),
    ]
    .into_iter()
    .find_map(|(symbol, operator)| rest.strip_prefix(symbol).map(|value| (operator, value)))
    .ok_or_else(|| {
        bad_filter(format!(
            "{term:?} is not a condition; write field = \"value\" and join conditions with AND"
        ))
    })?;
    let Some((_, kind)) = fields.iter().find(|(name, _)| *name == field) else {
        let names: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
        return Err(bad_filter(format!(
            "cannot filter on {field:?}; filter fields: {}",
            names.join(", ")
        )));
    };
    let value = value.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(value);
    let equality = matches!(operator, Operator::Equal | Operator::NotEqual);
    let operand = match kind {
        FieldKind::Text if equality => match value.strip_suffix('*') {
            Some(prefix) => Operand::Prefix(prefix.to_owned()),
            None => Operand::Text(value.to_owned()),
        },
        FieldKind::Enum(prefix) if equality => {
            let full = if value.starts_with(prefix) {
                value.to_owned()
            } else {
                format!("{prefix}{value}")
            };
            Operand::Enum(full)
        }
        FieldKind::Time => Operand::Time(
            DateTime::parse_from_rfc3339(value)
                .map_err(|_| {
                    bad_filter(format!(
                        "{field} compares with an RFC 3339 time such as \"2026-12-01T08:00:00Z\""
                    ))
                })?
                .with_timezone(&Utc),
        ),
        _ => {
            return Err(bad_filter(format!("{field} compares only with = and !=")));
        }
    };
    Ok(Condition {
        field: field.to_owned(),
        operator,
        operand,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_summaries_read_like_the_contract() {
        let resolved = Happening::TicketResolved {
            number: "T-1024".into(),
            subject: "漏水维修".into(),
        };
        assert_eq!(resolved.summary("zh-CN"), "工单 T-1024 已解决：漏水维修");
        assert_eq!(resolved.summary(""), "工单 T-1024 已解决：漏水维修");
        assert_eq!(resolved.summary("en"), "Ticket T-1024 resolved: 漏水维修");
        let created = Happening::TicketCreated {
            number: "T-7".into(),
            subject: " ".into(),
        };
        assert_eq!(created.summary("zh-CN"), "工单 T-7 已创建");
    }

    #[test]
    fn other_summaries() {
        assert_eq!(
            Happening::OwnerChanged {
                previous: String::new(),
                new: "王芳".into()
            }
            .summary("zh-CN"),
            "专属客服变更：无 → 王芳"
        );
        assert_eq!(
            Happening::OwnerChanged {
                previous: "王芳".into(),
                new: String::new()
            }
            .summary("en-US"),
            "Owner removed: 王芳"
        );
        assert_eq!(
            Happening::CallbackDone {
                reached: false,
                outcome: "NO_ANSWER".into()
            }
            .summary("zh-CN"),
            "回访未完成：无人接听"
        );
        assert_eq!(
            Happening::FirstContact {
                owner: "王芳".into(),
                channel: "PHONE".into(),
                notes: "约好周六上门".into()
            }
            .summary("zh-CN"),
            "专属客服 王芳 首次联系客户（电话）：约好周六上门"
        );
        assert_eq!(
            Happening::ComplaintClosed {
                number: "C-000123".into(),
                subject: "噪音".into(),
                rejected: true
            }
            .summary("zh-CN"),
            "投诉 C-000123 不予受理：噪音"
        );
        assert_eq!(
            Happening::DispatchCompleted {
                voucher: "FW-1".into(),
                technician: "李师傅".into()
            }
            .summary("zh-CN"),
            "上门服务已完成（服务凭证号 FW-1）：技师 李师傅"
        );
    }

    #[test]
    fn summaries_stay_within_the_limit() {
        let long = Happening::TicketCreated {
            number: "T-1".into(),
            subject: "漏".repeat(800),
        }
        .summary("zh-CN");
        assert_eq!(long.chars().count(), SUMMARY_LIMIT);
        assert!(long.ends_with('…'));
    }

    const FIELDS: &[(&str, FieldKind)] = &[
        ("new_owner", FieldKind::Text),
        ("kind", FieldKind::Enum("OWNERSHIP_CHANGE_KIND_")),
        ("create_time", FieldKind::Time),
    ];

    #[test]
    fn filters_parse_the_documented_fields() {
        let conditions = parse_filter(
            r#"new_owner = "users/a" AND kind = REASSIGNED AND create_time >= "2026-12-01T00:00:00Z""#,
            FIELDS,
        )
        .expect("valid");
        assert_eq!(conditions.len(), 3);
        assert_eq!(conditions[0].operand, Operand::Text("users/a".into()));
        assert_eq!(
            conditions[1].operand,
            Operand::Enum("OWNERSHIP_CHANGE_KIND_REASSIGNED".into())
        );
        assert_eq!(conditions[2].operator, Operator::GreaterOrEqual);
        let prefix = parse_filter(r#"new_owner = "users/*""#, FIELDS).expect("valid");
        assert_eq!(prefix[0].operand, Operand::Prefix("users/".into()));
        assert!(parse_filter("", FIELDS).expect("empty").is_empty());
    }

    #[test]
    fn bad_filters_name_the_filter() {
        for bad in [
            "owner = \"users/a\"",
            "kind > REASSIGNED",
            "create_time >= yesterday",
            "new_owner",
        ] {
            match parse_filter(bad, FIELDS) {
                Err(CustomersError::Invalid(violation, _)) => {
                    assert_eq!(violation.field, "filter", "{bad}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
