//! Survey answers (满意度调查): which answers a survey accepts, the lowest
//! level among them, and the follow-up ticket an average or poor answer asks
//! the tickets service for.

use std::collections::{BTreeMap, HashSet};

use kefu_proto::v1::{LocalizedText, Priority, SatisfactionLevel, Survey, SurveyAnswer};

use crate::error::{CallbacksError, Result};

/// The longest suggestion a response keeps, in characters.
pub const MAX_SUGGESTION: usize = 2_000;

/// The answers of a response, checked against `survey`: every dimension
/// known and answered at most once, every level between VERY_SATISFIED and
/// POOR (UNSPECIFIED only for an optional dimension), every required
/// dimension answered. Answers come back in the survey's dimension order,
/// each with the dimension's label; unanswered optional dimensions are left
/// out. `field` is the request's name of the list (`answers`,
/// `survey_answers`), so a violation names `answers[1].level`.
pub fn validate(
    survey: &Survey,
    answers: &[SurveyAnswer],
    field: &str,
) -> Result<Vec<SurveyAnswer>> {
    let mut given: BTreeMap<usize, SurveyAnswer> = BTreeMap::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for (index, answer) in answers.iter().enumerate() {
        let at = format!("{field}[{index}]");
        if answer.dimension.is_empty() {
            return Err(CallbacksError::invalid(
                &format!("{at}.dimension"),
                format!("{at}.dimension is required"),
            ));
        }
        let Some(position) = survey
            .dimensions
            .iter()
            .position(|dimension| dimension.key == answer.dimension)
        else {
            return Err(CallbacksError::invalid(
                &format!("{at}.dimension"),
                format!("{} is not a dimension of {}", answer.dimension, survey.name),
            ));
        };
        if !seen.insert(answer.dimension.as_str()) {
            return Err(CallbacksError::invalid(
                &format!("{at}.dimension"),
                format!("{} is answered more than once", answer.dimension),
            ));
        }
        let dimension = &survey.dimensions[position];
        let level = SatisfactionLevel::try_from(answer.level).ok();
        match level {
            Some(SatisfactionLevel::Unspecified) if dimension.required => {
                return Err(CallbacksError::invalid(
                    &format!("{at}.level"),
                    format!("{} is required: answer it with a level", dimension.key),
                ));
            }
            Some(SatisfactionLevel::Unspecified) => continue,
            Some(_) => {}
            None => {
                return Err(CallbacksError::invalid(
                    &format!("{at}.level"),
                    format!(
                        "{at}.level is {}: a level is VERY_SATISFIED (1) to POOR (4)",
                        answer.level
                    ),
                ));
            }
        }
        given.insert(
            position,
            SurveyAnswer {
                dimension: dimension.key.clone(),
                label: dimension.label.clone(),
                level: answer.level,
            },
        );
    }
    if let Some(missing) = survey
        .dimensions
        .iter()
        .enumerate()
        .find(|(position, dimension)| dimension.required && !given.contains_key(position))
    {
        return Err(CallbacksError::invalid(
            field,
            format!("{} is required and not answered", missing.1.key),
        ));
    }
    Ok(given.into_values().collect())
}

/// The suggestion of a response: at most [`MAX_SUGGESTION`] characters,
/// trimmed; INVALID_ARGUMENT naming `field` when longer.
pub fn suggestion(text: &str, field: &str) -> Result<String> {
    let trimmed = text.trim();
    if trimmed.chars().count() > MAX_SUGGESTION {
        return Err(CallbacksError::invalid(
            field,
            format!("{field} holds at most {MAX_SUGGESTION} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// The lowest level among `answers` (POOR is lowest, the highest number);
/// UNSPECIFIED when nothing was answered.
pub fn lowest_level(answers: &[SurveyAnswer]) -> SatisfactionLevel {
    answers
        .iter()
        .filter_map(|answer| SatisfactionLevel::try_from(answer.level).ok())
        .max_by_key(|level| *level as i32)
        .unwrap_or(SatisfactionLevel::Unspecified)
}

/// True for the levels that open follow-up work: AVERAGE and POOR.
pub fn is_negative(level: i32) -> bool {
    level == SatisfactionLevel::Average as i32 || level == SatisfactionLevel::Poor as i32
}

/// The answers that open follow-up work.
pub fn negative_answers(answers: &[SurveyAnswer]) -> Vec<SurveyAnswer> {
    answers
        .iter()
        .filter(|answer| is_negative(answer.level))
        .cloned()
        .collect()
}

/// The priority of the follow-up ticket: the survey's when it sets one,
/// else HIGH when any answer is POOR, NORMAL otherwise.
pub fn follow_up_priority(survey: &Survey, answers: &[SurveyAnswer]) -> Priority {
    if let Ok(priority) = Priority::try_from(survey.follow_up_priority)
        && priority != Priority::Unspecified
    {
        return priority;
    }
    if lowest_level(answers) == SatisfactionLevel::Poor {
        Priority::High
    } else {
        Priority::Normal
    }
}

/// A level's word in `locale` (Chinese for `zh*`, English otherwise).
fn level_word(level: i32, chinese: bool) -> &'static str {
    match (SatisfactionLevel::try_from(level).ok(), chinese) {
        (Some(SatisfactionLevel::VerySatisfied), true) => "非常满意",
        (Some(SatisfactionLevel::Satisfied), true) => "满意",
        (Some(SatisfactionLevel::Average), true) => "一般",
        (Some(SatisfactionLevel::Poor), true) => "差",
        (Some(SatisfactionLevel::VerySatisfied), false) => "very satisfied",
        (Some(SatisfactionLevel::Satisfied), false) => "satisfied",
        (Some(SatisfactionLevel::Average), false) => "average",
        (Some(SatisfactionLevel::Poor), false) => "poor",
        _ => "",
    }
}

/// A dimension's label in `locale`, else in any Chinese or English
/// locale, else its key.
fn label_in(answer: &SurveyAnswer, locale: &str) -> String {
    let values = answer
        .label
        .as_ref()
        .map(|label| &label.values)
        .filter(|values| !values.is_empty());
    let Some(values) = values else {
        return answer.dimension.clone();
    };
    let prefix = if locale.starts_with("zh") { "zh" } else { "en" };
    values
        .get(locale)
        .or_else(|| {
            values
                .iter()
                .find(|(tag, _)| tag.starts_with(prefix))
                .map(|(_, text)| text)
        })
        .cloned()
        .unwrap_or_else(|| answer.dimension.clone())
}

/// The locales follow-up texts are written in: the tenant's (when given)
/// and always `zh-CN` and `en`, so staff of either language can read them.
fn locales(tenant_locale: &str) -> Vec<String> {
    let mut locales = vec!["zh-CN".to_owned(), "en".to_owned()];
    if !tenant_locale.is_empty() && !locales.iter().any(|locale| locale == tenant_locale) {
        locales.push(tenant_locale.to_owned());
    }
    locales
}

/// The follow-up ticket's subject: `回访不满意:服务态度 差` / `Callback
/// dissatisfaction: attitude poor`, naming every negative answer.
pub fn follow_up_subject(negative: &[SurveyAnswer], tenant_locale: &str) -> LocalizedText {
    let mut values = std::collections::HashMap::new();
    for locale in locales(tenant_locale) {
        let chinese = locale.starts_with("zh");
        let parts: Vec<String> = negative
            .iter()
            .map(|answer| {
                format!(
                    "{} {}",
                    label_in(answer, &locale),
                    level_word(answer.level, chinese)
                )
            })
            .collect();
        let text = if chinese {
            format!("回访不满意:{}", parts.join("、"))
        } else {
            format!("Callback dissatisfaction: {}", parts.join(", "))
        };
        values.insert(locale, cut(&text, 200));
    }
    LocalizedText { values }
}

/// The follow-up ticket's description: the negative answers, the
/// suggestion and the agent's notes, one per line.
pub fn follow_up_description(
    negative: &[SurveyAnswer],
    suggestion: &str,
    notes: &str,
    tenant_locale: &str,
) -> LocalizedText {
    let mut values = std::collections::HashMap::new();
    for locale in locales(tenant_locale) {
        let chinese = locale.starts_with("zh");
        let mut lines: Vec<String> = negative
            .iter()
            .map(|answer| {
                format!(
                    "{}: {}",
                    label_in(answer, &locale),
                    level_word(answer.level, chinese)
                )
            })
            .collect();
        if !suggestion.is_empty() {
            let title = if chinese {
                "客户建议"
            } else {
                "Suggestion"
            };
            lines.push(format!("{title}: {suggestion}"));
        }
        if !notes.is_empty() {
            let title = if chinese {
                "回访记录"
            } else {
                "Callback notes"
            };
            lines.push(format!("{title}: {notes}"));
        }
        values.insert(locale, lines.join("\n"));
    }
    LocalizedText { values }
}

/// `text` cut to at most `limit` characters.
fn cut(text: &str, limit: usize) -> String {
    text.chars().take(limit).collect()
}

#[cfg(test)]
mod tests {
    use kefu_kit::error::ServiceError;
    use kefu_proto::v1::SurveyDimension;

    use super::*;

    fn text(zh: &str, en: &str) -> Option<LocalizedText> {
        Some(LocalizedText {
            values: [
                ("zh-CN".to_owned(), zh.to_owned()),
                ("en".to_owned(), en.to_owned()),
            ]
            .into_iter()
            .collect(),
        })
    }

    fn survey() -> Survey {
        let dimension = |key: &str, zh: &str, en: &str, required: bool| SurveyDimension {
            key: key.into(),
            label: text(zh, en),
            required,
            ..SurveyDimension::default()
        };
        Survey {
            name: "surveys/s1".into(),
            dimensions: vec![
                dimension("attitude", "服务态度", "Attitude", true),
                dimension("skill", "业务技能", "Skill", true),
                dimension("timeliness", "及时性", "Timeliness", true),
                dimension("promises_kept", "承诺兑现", "Promises kept", false),
            ],
            ..Survey::default()
        }
    }

    fn answer(dimension: &str, level: SatisfactionLevel) -> SurveyAnswer {
        SurveyAnswer {
            dimension: dimension.into(),
            level: level as i32,
            ..SurveyAnswer::default()
        }
    }

    fn field_of(error: &CallbacksError) -> String {
        error
            .field_violations()
            .first()
            .map(|violation| violation.field.clone())
            .unwrap_or_default()
    }

    #[test]
    fn answers_come_back_in_survey_order_with_labels() {
        let answers = vec![
            answer("timeliness", SatisfactionLevel::Average),
            answer("attitude", SatisfactionLevel::VerySatisfied),
            answer("skill", SatisfactionLevel::Satisfied),
        ];
        let checked = validate(&survey(), &answers, "answers").expect("valid answers");
        let keys: Vec<&str> = checked.iter().map(|a| a.dimension.as_str()).collect();
        assert_eq!(keys, ["attitude", "skill", "timeliness"]);
        assert_eq!(checked[0].label, text("服务态度", "Attitude"));
    }

    #[test]
    fn a_level_out_of_range_names_the_answer() {
        let answers = vec![
            SurveyAnswer {
                dimension: "attitude".into(),
                level: 7,
                ..SurveyAnswer::default()
            },
            answer("skill", SatisfactionLevel::Satisfied),
        ];
        let error = validate(&survey(), &answers, "answers").expect_err("level 7");
        assert_eq!(field_of(&error), "answers[0].level");
        let error = validate(&survey(), &answers, "survey_answers").expect_err("level 7");
        assert_eq!(field_of(&error), "survey_answers[0].level");
    }

    #[test]
    fn unknown_repeated_and_missing_dimensions_are_refused() {
        let unknown = vec![answer("price", SatisfactionLevel::Poor)];
        assert_eq!(
            field_of(&validate(&survey(), &unknown, "answers").expect_err("unknown")),
            "answers[0].dimension"
        );
        let repeated = vec![
            answer("attitude", SatisfactionLevel::Poor),
            answer("attitude", SatisfactionLevel::Poor),
        ];
        assert_eq!(
            field_of(&validate(&survey(), &repeated, "answers").expect_err("repeated")),
            "answers[1].dimension"
        );
        let missing = vec![answer("attitude", SatisfactionLevel::Poor)];
        let error = validate(&survey(), &missing, "answers").expect_err("missing");
        assert_eq!(field_of(&error), "answers");
        assert!(error.to_string().contains("skill"));
        let skipped_required = vec![answer("attitude", SatisfactionLevel::Unspecified)];
        assert_eq!(
            field_of(&validate(&survey(), &skipped_required, "answers").expect_err("skipped")),
            "answers[0].level"
        );
    }

    #[test]
    fn an_optional_dimension_may_be_skipped() {
        let answers = vec![
            answer("attitude", SatisfactionLevel::Satisfied),
            answer("skill", SatisfactionLevel::Satisfied),
            answer("timeliness", SatisfactionLevel::Satisfied),
            answer("promises_kept", SatisfactionLevel::Unspecified),
        ];
        let checked = validate(&survey(), &answers, "answers").expect("valid");
        assert_eq!(checked.len(), 3);
        assert_eq!(lowest_level(&checked), SatisfactionLevel::Satisfied);
        assert!(negative_answers(&checked).is_empty());
    }

    #[test]
    fn poor_is_lowest_and_asks_for_a_high_priority_follow_up() {
        let answers = vec![
            answer("attitude", SatisfactionLevel::Poor),
            answer("skill", SatisfactionLevel::Average),
            answer("timeliness", SatisfactionLevel::VerySatisfied),
        ];
        assert_eq!(lowest_level(&answers), SatisfactionLevel::Poor);
        assert_eq!(follow_up_priority(&survey(), &answers), Priority::High);
        let average = vec![answer("skill", SatisfactionLevel::Average)];
        assert_eq!(follow_up_priority(&survey(), &average), Priority::Normal);
        let urgent = Survey {
            follow_up_priority: Priority::Urgent as i32,
            ..survey()
        };
        assert_eq!(follow_up_priority(&urgent, &average), Priority::Urgent);
        assert_eq!(lowest_level(&[]), SatisfactionLevel::Unspecified);
    }

    #[test]
    fn the_follow_up_texts_name_the_negative_answers() {
        let answers = validate(
            &survey(),
            &[
                answer("attitude", SatisfactionLevel::Poor),
                answer("skill", SatisfactionLevel::Satisfied),
                answer("timeliness", SatisfactionLevel::Average),
            ],
            "answers",
        )
        .expect("valid");
        let negative = negative_answers(&answers);
        let subject = follow_up_subject(&negative, "zh-CN");
        assert_eq!(
            subject.values["zh-CN"],
            "回访不满意:服务态度 差、及时性 一般"
        );
        assert_eq!(
            subject.values["en"],
            "Callback dissatisfaction: Attitude poor, Timeliness average"
        );
        let description = follow_up_description(&negative, "送货有点慢", "客户语气不满", "zh-CN");
        assert_eq!(
            description.values["zh-CN"],
            "服务态度: 差\n及时性: 一般\n客户建议: 送货有点慢\n回访记录: 客户语气不满"
        );
    }

    #[test]
    fn a_long_suggestion_is_refused() {
        assert_eq!(suggestion("  好  ", "suggestion").expect("short"), "好");
        let long = "长".repeat(MAX_SUGGESTION + 1);
        assert_eq!(
            field_of(&suggestion(&long, "suggestion").expect_err("long")),
            "suggestion"
        );
    }
}
