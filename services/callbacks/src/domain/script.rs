//! Scripts (话术): what a script must hold to be saved (every text a valid
//! template in the script's default locale, within its length), and the
//! script rendered for one call — the locale chosen, the seasonal greeting
//! in season that day, every placeholder replaced.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};
use kefu_proto::v1::{
    CallbackScript, CallbackScriptBranch, CallbackSeasonalGreeting, Date, LocalizedText,
    RenderedCallbackScript, RenderedCallbackScriptBranch, RenderedCallbackScriptQuestion,
};
use prost_types::Duration;

use super::template::{self, DateStyle, Value};
use crate::error::{CallbacksError, Result};

/// The collection of scripts.
pub const SCRIPTS: &str = "callbackScripts";

/// The default target duration of a call: 3 minutes.
pub const DEFAULT_TARGET_SECONDS: i64 = 180;

/// The longest target duration: 1 hour.
const MAX_TARGET_SECONDS: i64 = 3_600;

/// The most questions a script asks.
const MAX_QUESTIONS: usize = 20;

/// The most seasonal greetings a script holds.
const MAX_SEASONAL: usize = 50;

/// The longest text of a script (greeting, questions, branches).
const MAX_TEXT: usize = 2_000;

/// The longest seasonal or off-season greeting.
const MAX_GREETING: usize = 200;

/// The longest display name.
pub const MAX_NAME: usize = 100;

/// The longest description.
pub const MAX_DESCRIPTION: usize = 1_000;

/// Whether `key` is `[a-z][a-z0-9_]{0,62}` (question, greeting and
/// dimension keys).
pub fn is_key(key: &str) -> bool {
    key.len() <= 63
        && key.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
        && key
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
}

/// Whether `locale` looks like a BCP 47 tag (`zh-CN`, `en`).
pub fn is_locale(locale: &str) -> bool {
    !locale.is_empty()
        && locale.len() <= 35
        && locale.split('-').all(|piece| {
            (1..=8).contains(&piece.len()) && piece.bytes().all(|byte| byte.is_ascii_alphanumeric())
        })
}

/// The path of one locale's value of the text at `path`.
fn value_path(path: &str, locale: &str) -> String {
    format!("{path}.values[{locale:?}]")
}

/// A localized name: required (at least one non-empty value), each value at
/// most `max` characters.
pub fn check_label(path: &str, text: Option<&LocalizedText>, max: usize) -> Result<()> {
    let values = text.map(|text| &text.values);
    if values.is_none_or(|values| values.values().all(|value| value.trim().is_empty())) {
        return Err(CallbacksError::invalid(path, format!("{path} is required")));
    }
    check_lengths(path, text, max)
}

/// Each value of a localized text at most `max` characters.
pub fn check_lengths(path: &str, text: Option<&LocalizedText>, max: usize) -> Result<()> {
    for (locale, value) in text.into_iter().flat_map(|text| &text.values) {
        if value.chars().count() > max {
            let path = value_path(path, locale);
            return Err(CallbacksError::invalid(
                &path,
                format!("{path} is longer than {max} characters"),
            ));
        }
    }
    Ok(())
}

/// A plain text of at most `max` characters.
pub fn check_plain(path: &str, text: &str, max: usize) -> Result<()> {
    if text.chars().count() > max {
        return Err(CallbacksError::invalid(
            path,
            format!("{path} is longer than {max} characters"),
        ));
    }
    Ok(())
}

/// A localized template: each value within `max` and a template naming
/// known fields (and `extra` ones); when `required`, a value is needed;
/// when given, the `default_locale` one is needed.
pub fn check_template(
    path: &str,
    text: Option<&LocalizedText>,
    max: usize,
    required: bool,
    default_locale: &str,
    extra: &[&str],
) -> Result<()> {
    let values = text.map(|text| &text.values);
    let empty = values.is_none_or(|values| values.values().all(|value| value.trim().is_empty()));
    if empty {
        if required {
            return Err(CallbacksError::invalid(path, format!("{path} is required")));
        }
        return Ok(());
    }
    check_lengths(path, text, max)?;
    if !default_locale.is_empty()
        && values.is_none_or(|values| {
            values
                .get(default_locale)
                .is_none_or(|value| value.trim().is_empty())
        })
    {
        let path = value_path(path, default_locale);
        return Err(CallbacksError::invalid(
            &path,
            format!("{path} is required: every text has the default locale {default_locale}"),
        ));
    }
    for (locale, value) in values.into_iter().flatten() {
        if let Err(error) = template::parse(value, extra) {
            let path = value_path(path, locale);
            return Err(CallbacksError::invalid_because(
                &path,
                format!("{path}: {error}"),
                error.reason(),
            ));
        }
    }
    Ok(())
}

/// A `Date` as a calendar date, if valid.
pub fn to_date(date: Option<&Date>) -> Option<NaiveDate> {
    let date = date?;
    NaiveDate::from_ymd_opt(
        date.year,
        u32::try_from(date.month).ok()?,
        u32::try_from(date.day).ok()?,
    )
}

/// Checks a script about to be saved (`prefix` is the request's field,
/// `callback_script`) and fills its defaults (a 3-minute target).
pub fn check_script(script: &mut CallbackScript, prefix: &str) -> Result<()> {
    let path = |field: &str| format!("{prefix}.{field}");
    check_label(
        &path("display_name"),
        script.display_name.as_ref(),
        MAX_NAME,
    )?;
    check_plain(&path("description"), &script.description, MAX_DESCRIPTION)?;
    if script.default_locale.is_empty() {
        let field = path("default_locale");
        return Err(CallbacksError::invalid(
            &field,
            format!("{field} is required"),
        ));
    }
    if !is_locale(&script.default_locale) {
        let field = path("default_locale");
        return Err(CallbacksError::invalid(
            &field,
            format!("{field} {:?} is not a BCP 47 locale", script.default_locale),
        ));
    }
    let locale = script.default_locale.clone();
    match &script.target_duration {
        None => {
            script.target_duration = Some(Duration {
                seconds: DEFAULT_TARGET_SECONDS,
                nanos: 0,
            });
        }
        Some(duration)
            if duration.seconds < 0
                || (duration.seconds == 0 && duration.nanos <= 0)
                || duration.seconds > MAX_TARGET_SECONDS
                || (duration.seconds == MAX_TARGET_SECONDS && duration.nanos > 0) =>
        {
            let field = path("target_duration");
            return Err(CallbacksError::invalid(
                &field,
                format!("{field} must be more than 0 and at most 1 hour"),
            ));
        }
        Some(_) => {}
    }
    let texts = [
        ("greeting", script.greeting.as_ref(), true),
        ("identity_check", script.identity_check.as_ref(), true),
        ("wrong_person", script.wrong_person.as_ref(), false),
        ("introduction", script.introduction.as_ref(), false),
    ];
    for (field, text, required) in texts {
        check_template(&path(field), text, MAX_TEXT, required, &locale, &[])?;
    }
    if script.questions.is_empty() || script.questions.len() > MAX_QUESTIONS {
        let field = path("questions");
        return Err(CallbacksError::invalid(
            &field,
            format!("{field} must hold 1 to {MAX_QUESTIONS} questions"),
        ));
    }
    let mut keys = BTreeSet::new();
    for (index, question) in script.questions.iter().enumerate() {
        let at = path(&format!("questions[{index}]"));
        if !is_key(&question.key) {
            let field = format!("{at}.key");
            return Err(CallbacksError::invalid(
                &field,
                format!("{field} {:?} is not [a-z][a-z0-9_]{{0,62}}", question.key),
            ));
        }
        if !keys.insert(question.key.as_str()) {
            let field = format!("{at}.key");
            return Err(CallbacksError::invalid(
                &field,
                format!("{field} {:?} is used twice in the script", question.key),
            ));
        }
        if !question.dimension.is_empty() && !is_key(&question.dimension) {
            let field = format!("{at}.dimension");
            return Err(CallbacksError::invalid(
                &field,
                format!("{field} {:?} is not a dimension key", question.dimension),
            ));
        }
        check_template(
            &format!("{at}.text"),
            question.text.as_ref(),
            MAX_TEXT,
            true,
            &locale,
            &[],
        )?;
    }
    for (field, branch) in [
        ("satisfied", &script.satisfied),
        ("dissatisfied", &script.dissatisfied),
    ] {
        let at = path(field);
        let Some(branch) = branch else {
            return Err(CallbacksError::invalid(&at, format!("{at} is required")));
        };
        check_template(
            &format!("{at}.follow_up_question"),
            branch.follow_up_question.as_ref(),
            MAX_TEXT,
            false,
            &locale,
            &[],
        )?;
        check_template(
            &format!("{at}.closing"),
            branch.closing.as_ref(),
            MAX_TEXT,
            false,
            &locale,
            &[],
        )?;
    }
    if script.seasonal_greetings.len() > MAX_SEASONAL {
        let field = path("seasonal_greetings");
        return Err(CallbacksError::invalid(
            &field,
            format!("{field} holds more than {MAX_SEASONAL} greetings"),
        ));
    }
    let mut keys = BTreeSet::new();
    for (index, greeting) in script.seasonal_greetings.iter().enumerate() {
        let at = path(&format!("seasonal_greetings[{index}]"));
        if !is_key(&greeting.key) || !keys.insert(greeting.key.as_str()) {
            let field = format!("{at}.key");
            return Err(CallbacksError::invalid(
                &field,
                format!(
                    "{field} {:?} must be [a-z][a-z0-9_]{{0,62}} and unique in the script",
                    greeting.key
                ),
            ));
        }
        check_lengths(
            &format!("{at}.display_name"),
            greeting.display_name.as_ref(),
            MAX_NAME,
        )?;
        let start = to_date(greeting.start_date.as_ref());
        let end = to_date(greeting.end_date.as_ref());
        let (Some(start), Some(end)) = (start, end) else {
            let field = if start.is_none() {
                format!("{at}.start_date")
            } else {
                format!("{at}.end_date")
            };
            return Err(CallbacksError::invalid(
                &field,
                format!("{field} is required and must be a valid date"),
            ));
        };
        // A yearly greeting may wrap over the new year (31 Dec – 2 Jan).
        if end < start && !greeting.recurs_yearly {
            let field = format!("{at}.end_date");
            return Err(CallbacksError::invalid(
                &field,
                format!("{field} is before the start date"),
            ));
        }
        check_template(
            &format!("{at}.text"),
            greeting.text.as_ref(),
            MAX_GREETING,
            true,
            &locale,
            &[],
        )?;
    }
    check_template(
        &path("off_season_greeting"),
        script.off_season_greeting.as_ref(),
        MAX_GREETING,
        false,
        &locale,
        &[],
    )?;
    Ok(())
}

/// Whether `greeting` is in season on `day`.
pub fn in_season(greeting: &CallbackSeasonalGreeting, day: NaiveDate) -> bool {
    let (Some(start), Some(end)) = (
        to_date(greeting.start_date.as_ref()),
        to_date(greeting.end_date.as_ref()),
    ) else {
        return false;
    };
    if greeting.recurs_yearly {
        let key = |date: NaiveDate| (date.month(), date.day());
        let (start, end, today) = (key(start), key(end), key(day));
        if start <= end {
            start <= today && today <= end
        } else {
            today >= start || today <= end
        }
    } else {
        start <= day && day <= end
    }
}

/// The greeting in season on `day`: the first listed that is.
pub fn season(script: &CallbackScript, day: NaiveDate) -> Option<&CallbackSeasonalGreeting> {
    script
        .seasonal_greetings
        .iter()
        .find(|greeting| in_season(greeting, day))
}

/// The locale a script renders in: the one asked for (else the tenant's)
/// when the script's greeting has it, otherwise the script's default.
pub fn render_locale(script: &CallbackScript, asked: &str, tenant: &str) -> String {
    let wanted = if asked.is_empty() { tenant } else { asked };
    let has = script
        .greeting
        .as_ref()
        .is_some_and(|greeting| greeting.values.contains_key(wanted));
    if has || script.default_locale.is_empty() {
        wanted.to_owned()
    } else {
        script.default_locale.clone()
    }
}

/// What a render needs besides the script.
pub struct RenderInput<'a> {
    /// `callbackTasks/{task}`.
    pub task: &'a str,
    /// The locale asked for (empty: the tenant's).
    pub locale: &'a str,
    /// The tenant's locale.
    pub tenant_locale: &'a str,
    /// The tenant's time zone (dates, the season).
    pub zone: chrono_tz::Tz,
    /// The day of the call in the tenant's zone.
    pub day: NaiveDate,
    /// The value of a field other than `season.greeting`.
    pub value: &'a dyn Fn(&str) -> Option<Value>,
}

/// Renders `script` for one call.
pub fn render(script: &CallbackScript, input: &RenderInput<'_>) -> RenderedCallbackScript {
    let locale = render_locale(script, input.locale, input.tenant_locale);
    let style = DateStyle {
        locale: &locale,
        zone: input.zone,
    };
    let pick = |text: Option<&LocalizedText>| -> String {
        let Some(text) = text else {
            return String::new();
        };
        text.values
            .get(&locale)
            .filter(|value| !value.is_empty())
            .or_else(|| text.values.get(&script.default_locale))
            .cloned()
            .unwrap_or_default()
    };
    let mut missing = BTreeSet::new();
    // Templates were checked on save; one that no longer parses (a field
    // retired since) renders as written rather than failing the call.
    let fill = |text: Option<&LocalizedText>,
                season: Option<&str>,
                missing: &mut BTreeSet<String>|
     -> String {
        let raw = pick(text);
        match template::parse(&raw, &[]) {
            Ok(parsed) => parsed.render(
                |field| {
                    if field == "season.greeting" {
                        season.map(|text| Value::Text(text.to_owned()))
                    } else {
                        (input.value)(field)
                    }
                },
                style,
                missing,
            ),
            Err(_) => raw,
        }
    };
    let in_season = season(script, input.day);
    let season_text = match in_season {
        Some(greeting) => fill(greeting.text.as_ref(), None, &mut missing),
        None => fill(script.off_season_greeting.as_ref(), None, &mut missing),
    };
    let season_value = Some(season_text.as_str()).filter(|text| !text.is_empty());
    let branch = |branch: Option<&CallbackScriptBranch>, missing: &mut BTreeSet<String>| {
        branch.map(|branch| RenderedCallbackScriptBranch {
            follow_up_question: fill(branch.follow_up_question.as_ref(), season_value, missing),
            closing: fill(branch.closing.as_ref(), season_value, missing),
        })
    };
    RenderedCallbackScript {
        callback_task: input.task.to_owned(),
        script: script.name.clone(),
        locale: locale.clone(),
        greeting: fill(script.greeting.as_ref(), season_value, &mut missing),
        identity_check: fill(script.identity_check.as_ref(), season_value, &mut missing),
        wrong_person: fill(script.wrong_person.as_ref(), season_value, &mut missing),
        introduction: fill(script.introduction.as_ref(), season_value, &mut missing),
        questions: script
            .questions
            .iter()
            .map(|question| RenderedCallbackScriptQuestion {
                key: question.key.clone(),
                dimension: question.dimension.clone(),
                text: fill(question.text.as_ref(), season_value, &mut missing),
            })
            .collect(),
        satisfied: branch(script.satisfied.as_ref(), &mut missing),
        dissatisfied: branch(script.dissatisfied.as_ref(), &mut missing),
        seasonal_greeting: in_season
            .map(|greeting| greeting.key.clone())
            .unwrap_or_default(),
        target_duration: script.target_duration,
        missing_fields: missing.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use kefu_proto::v1::CallbackScriptQuestion;

    use super::*;

    /// A change that makes a valid script invalid.
    type Change = Box<dyn Fn(&mut CallbackScript)>;
    use crate::error::CallbacksError;

    fn text(pairs: &[(&str, &str)]) -> Option<LocalizedText> {
        Some(LocalizedText {
            values: pairs
                .iter()
                .map(|(locale, value)| ((*locale).to_owned(), (*value).to_owned()))
                .collect(),
        })
    }

    fn date(year: i32, month: i32, day: i32) -> Option<Date> {
        Some(Date { year, month, day })
    }

    fn script() -> CallbackScript {
        CallbackScript {
            name: "callbackScripts/s1".into(),
            display_name: text(&[("zh-CN", "度假区回访话术")]),
            default_locale: "zh-CN".into(),
            greeting: text(&[
                ("zh-CN", "您好,我是{{tenant.display_name}}的客服代表"),
                ("en", "Hello, this is {{tenant.display_name}}"),
            ]),
            identity_check: text(&[(
                "zh-CN",
                r#"请问您是{{customer.family_name | "尊敬的客户"}}{{customer.honorific}}吗?打扰您了。"#,
            )]),
            introduction: text(&[(
                "zh-CN",
                "感谢您在{{task.trigger_date}}到我们度假区体验{{task.subject}}",
            )]),
            questions: vec![CallbackScriptQuestion {
                key: "attitude".into(),
                dimension: "attitude".into(),
                text: text(&[("zh-CN", "请问您对{{task.subject}}服务项目满意吗?")]),
            }],
            satisfied: Some(CallbackScriptBranch {
                follow_up_question: text(&[("zh-CN", "您对我们的服务有什么建议吗?")]),
                closing: text(&[("zh-CN", "感谢您的答复,祝您{{season.greeting}},再见!")]),
            }),
            dissatisfied: Some(CallbackScriptBranch {
                follow_up_question: text(&[("zh-CN", "能否告诉我您对哪方面不满意?")]),
                closing: text(&[("zh-CN", "非常抱歉,祝您{{season.greeting}},再见!")]),
            }),
            seasonal_greetings: vec![CallbackSeasonalGreeting {
                key: "national_day".into(),
                display_name: text(&[("zh-CN", "国庆节")]),
                start_date: date(2024, 10, 1),
                end_date: date(2024, 10, 7),
                recurs_yearly: true,
                text: text(&[("zh-CN", "国庆快乐"), ("en", "a happy National Day")]),
            }],
            off_season_greeting: text(&[("zh-CN", "生活愉快"), ("en", "a nice day")]),
            ..Default::default()
        }
    }

    fn field_of(error: CallbacksError) -> (String, Option<&'static str>) {
        match error {
            CallbacksError::Invalid(violation, reason) => (violation.field, reason),
            other => panic!("not invalid: {other}"),
        }
    }

    #[test]
    fn a_complete_script_is_accepted_with_a_three_minute_target() {
        let mut checked = script();
        check_script(&mut checked, "callback_script").expect("valid");
        assert_eq!(checked.target_duration.map(|d| d.seconds), Some(180));
    }

    #[test]
    fn an_unknown_placeholder_names_the_text_and_locale() {
        let mut bad = script();
        bad.greeting = text(&[("zh-CN", "您好"), ("en", "Hello {{customer.nickname}}")]);
        let (field, reason) = field_of(check_script(&mut bad, "callback_script").unwrap_err());
        assert_eq!(field, r#"callback_script.greeting.values["en"]"#);
        assert_eq!(reason, Some("UNKNOWN_PLACEHOLDER"));

        let mut bad = script();
        if let Some(branch) = bad.dissatisfied.as_mut() {
            branch.closing = text(&[("zh-CN", "再见{{season.greeting")]);
        }
        let (field, reason) = field_of(check_script(&mut bad, "callback_script").unwrap_err());
        assert_eq!(
            field,
            r#"callback_script.dissatisfied.closing.values["zh-CN"]"#
        );
        assert_eq!(reason, Some("INVALID_TEMPLATE"));
    }

    #[test]
    fn required_parts_and_limits_are_enforced() {
        let cases: Vec<(&str, Change)> = vec![
            (
                "callback_script.display_name",
                Box::new(|s| s.display_name = None),
            ),
            (
                "callback_script.default_locale",
                Box::new(|s| s.default_locale.clear()),
            ),
            (
                "callback_script.identity_check",
                Box::new(|s| s.identity_check = None),
            ),
            (
                "callback_script.questions",
                Box::new(|s| s.questions.clear()),
            ),
            (
                "callback_script.satisfied",
                Box::new(|s| s.satisfied = None),
            ),
            (
                r#"callback_script.introduction.values["zh-CN"]"#,
                Box::new(|s| s.introduction = text(&[("en", "Thanks")])),
            ),
            (
                "callback_script.questions[1].key",
                Box::new(|s| {
                    let copy = s.questions[0].clone();
                    s.questions.push(copy);
                }),
            ),
            (
                "callback_script.seasonal_greetings[0].end_date",
                Box::new(|s| {
                    s.seasonal_greetings[0].recurs_yearly = false;
                    s.seasonal_greetings[0].end_date = date(2024, 9, 30);
                }),
            ),
            (
                "callback_script.target_duration",
                Box::new(|s| {
                    s.target_duration = Some(Duration {
                        seconds: 7_200,
                        nanos: 0,
                    });
                }),
            ),
        ];
        for (expected, change) in cases {
            let mut bad = script();
            change(&mut bad);
            let (field, _) = field_of(check_script(&mut bad, "callback_script").unwrap_err());
            assert_eq!(field, expected);
        }
    }

    #[test]
    fn seasons_recur_yearly_and_wrap_over_the_new_year() {
        let mut greeting = script().seasonal_greetings[0].clone();
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
        assert!(in_season(&greeting, day(2031, 10, 3)));
        assert!(!in_season(&greeting, day(2031, 10, 8)));
        greeting.recurs_yearly = false;
        assert!(!in_season(&greeting, day(2031, 10, 3)));
        assert!(in_season(&greeting, day(2024, 10, 7)));
        greeting.recurs_yearly = true;
        greeting.start_date = date(2024, 12, 31);
        greeting.end_date = date(2025, 1, 2);
        assert!(in_season(&greeting, day(2030, 1, 1)));
        assert!(in_season(&greeting, day(2030, 12, 31)));
        assert!(!in_season(&greeting, day(2030, 1, 3)));
    }

    fn render_on(day: NaiveDate, locale: &str) -> RenderedCallbackScript {
        let mut checked = script();
        check_script(&mut checked, "callback_script").expect("valid");
        let values: BTreeMap<&str, Value> = [
            (
                "tenant.display_name",
                Value::Text("穆家寨生态旅游度假区".into()),
            ),
            ("task.subject", Value::Text("漂流".into())),
            (
                "task.trigger_date",
                Value::from_stored("task.trigger_date", "2024-09-29T02:00:00Z"),
            ),
        ]
        .into_iter()
        .collect();
        let value = |field: &str| values.get(field).cloned();
        render(
            &checked,
            &RenderInput {
                task: "callbackTasks/t1",
                locale,
                tenant_locale: "zh-CN",
                zone: chrono_tz::Asia::Shanghai,
                day,
                value: &value,
            },
        )
    }

    #[test]
    fn a_render_fills_values_the_season_and_reports_missing_fields() {
        let day = NaiveDate::from_ymd_opt(2025, 10, 2).expect("date");
        let rendered = render_on(day, "");
        assert_eq!(rendered.locale, "zh-CN");
        assert_eq!(rendered.greeting, "您好,我是穆家寨生态旅游度假区的客服代表");
        assert_eq!(rendered.identity_check, "请问您是尊敬的客户吗?打扰您了。");
        assert_eq!(
            rendered.introduction,
            "感谢您在2024年9月29日到我们度假区体验漂流"
        );
        assert_eq!(rendered.questions[0].text, "请问您对漂流服务项目满意吗?");
        assert_eq!(
            rendered.satisfied.map(|branch| branch.closing),
            Some("感谢您的答复,祝您国庆快乐,再见!".to_owned())
        );
        assert_eq!(rendered.seasonal_greeting, "national_day");
        assert_eq!(
            rendered.missing_fields,
            ["customer.family_name", "customer.honorific"]
        );

        let off = render_on(NaiveDate::from_ymd_opt(2025, 11, 2).expect("date"), "");
        assert_eq!(
            off.dissatisfied.map(|branch| branch.closing),
            Some("非常抱歉,祝您生活愉快,再见!".to_owned())
        );
        assert_eq!(off.seasonal_greeting, "");
    }

    #[test]
    fn a_locale_the_script_lacks_falls_back_to_its_default() {
        let day = NaiveDate::from_ymd_opt(2025, 11, 2).expect("date");
        let english = render_on(day, "en");
        assert_eq!(english.locale, "en");
        assert_eq!(english.greeting, "Hello, this is 穆家寨生态旅游度假区");
        // A text without an English value is read in the default locale.
        assert_eq!(english.questions[0].text, "请问您对漂流服务项目满意吗?");
        let french = render_on(day, "fr");
        assert_eq!(french.locale, "zh-CN");
    }
}
