//! Satisfaction surveys (满意度调查): what a survey must hold to be saved —
//! 1 to 20 dimensions with unique well-formed keys, labels, and an SMS
//! template naming only known fields.

use std::collections::BTreeSet;

use kefu_proto::v1::{Priority, Survey, SurveyDimension};

use super::{
    script::{
        MAX_DESCRIPTION, MAX_NAME, check_label, check_lengths, check_plain, check_template, is_key,
    },
    template::REPLY_INSTRUCTIONS,
};
use crate::error::{CallbacksError, Result};

/// The collection of surveys.
pub const SURVEYS: &str = "surveys";

/// The most dimensions a survey asks.
const MAX_DIMENSIONS: usize = 20;

/// The longest question, prompt or SMS text.
const MAX_QUESTION: usize = 500;

/// Checks a survey about to be saved (`prefix` is the request's field,
/// `survey`) and fills its defaults (a suggestion is asked for).
pub fn check_survey(survey: &mut Survey, prefix: &str) -> Result<()> {
    let path = |field: &str| format!("{prefix}.{field}");
    check_label(
        &path("display_name"),
        survey.display_name.as_ref(),
        MAX_NAME,
    )?;
    check_plain(&path("description"), &survey.description, MAX_DESCRIPTION)?;
    if survey.dimensions.is_empty() || survey.dimensions.len() > MAX_DIMENSIONS {
        let field = path("dimensions");
        return Err(CallbacksError::invalid(
            &field,
            format!("{field} must hold 1 to {MAX_DIMENSIONS} dimensions"),
        ));
    }
    let mut keys = BTreeSet::new();
    for (index, dimension) in survey.dimensions.iter().enumerate() {
        let at = path(&format!("dimensions[{index}]"));
        if !is_key(&dimension.key) {
            let field = format!("{at}.key");
            return Err(CallbacksError::invalid(
                &field,
                format!("{field} {:?} is not [a-z][a-z0-9_]{{0,62}}", dimension.key),
            ));
        }
        if !keys.insert(dimension.key.as_str()) {
            let field = format!("{at}.key");
            return Err(CallbacksError::invalid(
                &field,
                format!("{field} {:?} is asked twice", dimension.key),
            ));
        }
        check_label(&format!("{at}.label"), dimension.label.as_ref(), MAX_NAME)?;
        check_lengths(
            &format!("{at}.question"),
            dimension.question.as_ref(),
            MAX_QUESTION,
        )?;
    }
    if survey.suggestion_enabled.is_none() {
        survey.suggestion_enabled = Some(true);
    }
    check_lengths(
        &path("suggestion_prompt"),
        survey.suggestion_prompt.as_ref(),
        MAX_QUESTION,
    )?;
    check_template(
        &path("sms_template"),
        survey.sms_template.as_ref(),
        MAX_QUESTION,
        false,
        "",
        &[REPLY_INSTRUCTIONS],
    )?;
    if !survey.follow_up_ticket_kind.is_empty() && survey.follow_up_ticket_kind.len() > 100 {
        let field = path("follow_up_ticket_kind");
        return Err(CallbacksError::invalid(
            &field,
            format!("{field} is longer than 100 characters"),
        ));
    }
    if Priority::try_from(survey.follow_up_priority).is_err() {
        let field = path("follow_up_priority");
        return Err(CallbacksError::invalid(
            &field,
            format!("{field} is not a priority"),
        ));
    }
    Ok(())
}

/// A dimension key cannot be renamed: responses and analytics aggregate by
/// key, so a renamed key would split one dimension's history in two. A new
/// key carrying the exact label of a dimension that the update drops reads
/// as a rename and is refused (remove it in one update, add the new one in
/// another, if that is really meant).
pub fn check_no_rename(
    before: &[SurveyDimension],
    after: &[SurveyDimension],
    prefix: &str,
) -> Result<()> {
    let kept = |key: &str| after.iter().any(|dimension| dimension.key == key);
    let existed = |key: &str| before.iter().any(|dimension| dimension.key == key);
    for (index, dimension) in after.iter().enumerate() {
        if existed(&dimension.key) {
            continue;
        }
        if let Some(renamed) = before
            .iter()
            .find(|old| !kept(&old.key) && old.label.is_some() && old.label == dimension.label)
        {
            let field = format!("{prefix}.dimensions[{index}].key");
            return Err(CallbacksError::invalid(
                &field,
                format!(
                    "{field} {:?} renames {:?}: a dimension key cannot be renamed (remove it and add a new one instead)",
                    dimension.key, renamed.key
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::{LocalizedText, SurveyDimension};

    use super::*;

    fn text(value: &str) -> Option<LocalizedText> {
        Some(LocalizedText {
            values: [("zh-CN".to_owned(), value.to_owned())].into(),
        })
    }

    fn dimension(key: &str) -> SurveyDimension {
        SurveyDimension {
            key: key.into(),
            label: text("服务态度"),
            question: text("您对我们师傅的服务态度满意吗?"),
            required: true,
        }
    }

    fn survey() -> Survey {
        Survey {
            display_name: text("售后服务满意度调查"),
            dimensions: ["attitude", "skill", "timeliness", "promises_kept"]
                .into_iter()
                .map(dimension)
                .collect(),
            sms_template: text("{{tenant.display_name}}回访:{{survey.reply_instructions}}"),
            ..Default::default()
        }
    }

    fn field_of(result: Result<()>) -> (String, Option<&'static str>) {
        match result {
            Err(CallbacksError::Invalid(violation, reason)) => (violation.field, reason),
            other => panic!("not invalid: {other:?}"),
        }
    }

    #[test]
    fn the_four_standard_dimensions_make_a_survey_asking_for_suggestions() {
        let mut checked = survey();
        check_survey(&mut checked, "survey").expect("valid");
        assert_eq!(checked.suggestion_enabled, Some(true));
    }

    #[test]
    fn dimension_keys_are_unique_well_formed_and_bounded() {
        let mut repeated = survey();
        repeated.dimensions.push(dimension("skill"));
        assert_eq!(
            field_of(check_survey(&mut repeated, "survey")).0,
            "survey.dimensions[4].key"
        );
        let mut malformed = survey();
        malformed.dimensions[1].key = "Skill-level".into();
        assert_eq!(
            field_of(check_survey(&mut malformed, "survey")).0,
            "survey.dimensions[1].key"
        );
        let mut none = survey();
        none.dimensions.clear();
        assert_eq!(
            field_of(check_survey(&mut none, "survey")).0,
            "survey.dimensions"
        );
        let mut many = survey();
        many.dimensions = (0..21).map(|i| dimension(&format!("d{i}"))).collect();
        assert_eq!(
            field_of(check_survey(&mut many, "survey")).0,
            "survey.dimensions"
        );
    }

    #[test]
    fn a_key_is_not_renamed_but_dimensions_come_and_go() {
        let before = survey().dimensions;
        let mut renamed = before.clone();
        renamed[1].key = "competence".into();
        assert_eq!(
            field_of(check_no_rename(&before, &renamed, "survey")).0,
            "survey.dimensions[1].key"
        );
        let mut relabelled = before.clone();
        relabelled[1].label = text("专业技能");
        assert!(check_no_rename(&before, &relabelled, "survey").is_ok());
        let mut added = before[..3].to_vec();
        let mut rafting = dimension("rafting");
        rafting.label = text("漂流体验");
        added.push(rafting);
        assert!(check_no_rename(&before, &added, "survey").is_ok());
    }

    #[test]
    fn the_sms_template_names_known_fields_only() {
        let mut bad = survey();
        bad.sms_template = text("{{survey.reply_digits}}");
        assert_eq!(
            field_of(check_survey(&mut bad, "survey")),
            (
                r#"survey.sms_template.values["zh-CN"]"#.to_owned(),
                Some("UNKNOWN_PLACEHOLDER")
            )
        );
    }
}
