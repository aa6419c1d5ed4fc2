//! Reading a customer's SMS reply to a survey (the `Survey` comment): one
//! digit per dimension in the survey's order — `1` very satisfied, `2`
//! satisfied, `3` average, `4` poor, `0` skip (optional dimensions only) —
//! with spaces, commas or `、` allowed between the digits and full-width
//! digits accepted; the text after the digits is the suggestion. So with
//! four dimensions `1123 送货有点慢` answers very satisfied, very satisfied,
//! satisfied, average and suggests "送货有点慢".
//!
//! The reader never fails on what a customer typed: it answers either the
//! answers or the problems, in English, for the reply's record.

use kefu_proto::v1::{SatisfactionLevel, SurveyAnswer, SurveyDimension};

/// A reply read as answers.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedReply {
    /// One answer per answered dimension, in the survey's order (a skipped
    /// optional dimension is left out).
    pub answers: Vec<SurveyAnswer>,
    /// The text after the digits, trimmed; empty when none.
    pub suggestion: String,
}

/// The characters allowed between digits: spaces (half- and full-width),
/// commas (half- and full-width), `、`, and the full stops customers type
/// out of habit.
fn is_separator(character: char) -> bool {
    character.is_whitespace() || matches!(character, ',' | '，' | '、' | '.' | '。' | ';' | '；')
}

/// The value of an ASCII or full-width digit.
fn digit(character: char) -> Option<u32> {
    match character {
        '0'..='9' => character.to_digit(10),
        '０'..='９' => Some(u32::from(character) - u32::from('０')),
        _ => None,
    }
}

/// Reads `body` against the survey's `dimensions` (in their order).
///
/// The reply starts with the digits; exactly one per dimension. Once every
/// dimension has its digit, a digit right after the last one (no separator)
/// means too many digits; anything after a separator is the suggestion.
pub fn parse(body: &str, dimensions: &[SurveyDimension]) -> Result<ParsedReply, Vec<String>> {
    let expected = dimensions.len();
    let mut digits: Vec<u32> = Vec::new();
    let mut rest = body.trim_start_matches(is_separator);
    let mut too_many = false;
    while let Some(character) = rest.chars().next() {
        if let Some(value) = digit(character) {
            if digits.len() == expected {
                too_many = true;
                digits.push(value);
                rest = &rest[character.len_utf8()..];
                continue;
            }
            digits.push(value);
            rest = &rest[character.len_utf8()..];
        } else if is_separator(character) {
            if digits.len() == expected && !too_many {
                break;
            }
            rest = &rest[character.len_utf8()..];
        } else {
            break;
        }
    }
    if too_many || digits.len() != expected {
        return Err(vec![format!(
            "expected {expected} digits, got {}",
            digits.len()
        )]);
    }
    let mut problems = Vec::new();
    let mut answers = Vec::new();
    for (dimension, value) in dimensions.iter().zip(&digits) {
        let level = match value {
            0 => SatisfactionLevel::Unspecified,
            1 => SatisfactionLevel::VerySatisfied,
            2 => SatisfactionLevel::Satisfied,
            3 => SatisfactionLevel::Average,
            4 => SatisfactionLevel::Poor,
            _ => {
                problems.push(format!(
                    "digit {value} for {} is not between 0 and 4",
                    dimension.key
                ));
                continue;
            }
        };
        if level == SatisfactionLevel::Unspecified {
            if dimension.required {
                problems.push(format!(
                    "{} is required and cannot be skipped",
                    dimension.key
                ));
            }
            continue;
        }
        answers.push(SurveyAnswer {
            dimension: dimension.key.clone(),
            label: dimension.label.clone(),
            level: level as i32,
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(ParsedReply {
        answers,
        suggestion: rest.trim_matches(is_separator).to_owned(),
    })
}

/// `survey.reply_instructions` in `locale` (Chinese for `zh*`, English
/// otherwise): how to answer, each dimension with its place in the digits.
pub fn reply_instructions(dimensions: &[SurveyDimension], locale: &str) -> String {
    let chinese = locale.starts_with("zh");
    let label = |dimension: &SurveyDimension| {
        let values = dimension
            .label
            .as_ref()
            .map(|label| &label.values)
            .filter(|values| !values.is_empty());
        let prefix = if chinese { "zh" } else { "en" };
        values
            .and_then(|values| {
                values.get(locale).or_else(|| {
                    values
                        .iter()
                        .find(|(tag, _)| tag.starts_with(prefix))
                        .map(|(_, text)| text)
                })
            })
            .cloned()
            .unwrap_or_else(|| dimension.key.clone())
    };
    let items: Vec<String> = dimensions
        .iter()
        .enumerate()
        .map(|(index, dimension)| format!("{}.{}", index + 1, label(dimension)))
        .collect();
    let count = dimensions.len();
    if chinese {
        format!(
            "请回复{count}位数字依次评价:{}(1非常满意 2满意 3一般 4差,0跳过选答项),数字后可写建议。",
            items.join(" ")
        )
    } else {
        format!(
            "Reply with {count} digits rating in order: {} (1 very satisfied, 2 satisfied, 3 average, 4 poor, 0 skips an optional one); add a suggestion after the digits.",
            items.join(" ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dimensions() -> Vec<SurveyDimension> {
        ["attitude", "skill", "timeliness", "promises_kept"]
            .iter()
            .enumerate()
            .map(|(index, key)| SurveyDimension {
                key: (*key).to_owned(),
                required: index < 3,
                ..SurveyDimension::default()
            })
            .collect()
    }

    fn levels(reply: &ParsedReply) -> Vec<(String, i32)> {
        reply
            .answers
            .iter()
            .map(|answer| (answer.dimension.clone(), answer.level))
            .collect()
    }

    #[test]
    fn digits_then_the_suggestion() {
        let reply = parse("1123 送货有点慢", &dimensions()).expect("readable");
        assert_eq!(
            levels(&reply),
            [
                ("attitude".to_owned(), 1),
                ("skill".to_owned(), 1),
                ("timeliness".to_owned(), 2),
                ("promises_kept".to_owned(), 3),
            ]
        );
        assert_eq!(reply.suggestion, "送货有点慢");
    }

    #[test]
    fn full_width_digits_and_separators_are_read() {
        let reply = parse("１、２，３ ４。谢谢", &dimensions()).expect("readable");
        assert_eq!(
            reply.answers.iter().map(|a| a.level).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert_eq!(reply.suggestion, "谢谢");
        let glued = parse("1123送货有点慢", &dimensions()).expect("readable");
        assert_eq!(glued.suggestion, "送货有点慢");
        let bare = parse("  2222  ", &dimensions()).expect("readable");
        assert_eq!(bare.suggestion, "");
    }

    #[test]
    fn zero_skips_an_optional_dimension_only() {
        let reply = parse("1110", &dimensions()).expect("readable");
        assert_eq!(reply.answers.len(), 3);
        assert_eq!(
            parse("1011", &dimensions()).expect_err("skipped skill"),
            ["skill is required and cannot be skipped"]
        );
    }

    #[test]
    fn wrong_counts_and_out_of_range_digits_are_problems() {
        assert_eq!(
            parse("112", &dimensions()).expect_err("three digits"),
            ["expected 4 digits, got 3"]
        );
        assert_eq!(
            parse("11234", &dimensions()).expect_err("five digits"),
            ["expected 4 digits, got 5"]
        );
        assert_eq!(
            parse("很好", &dimensions()).expect_err("no digits"),
            ["expected 4 digits, got 0"]
        );
        assert_eq!(
            parse("1923", &dimensions()).expect_err("a nine"),
            ["digit 9 for skill is not between 0 and 4"]
        );
    }

    #[test]
    fn the_instructions_number_every_dimension() {
        let zh = reply_instructions(&dimensions(), "zh-CN");
        assert!(zh.starts_with("请回复4位数字依次评价:1.attitude 2.skill"));
        let en = reply_instructions(&dimensions()[..2], "en");
        assert!(en.starts_with("Reply with 2 digits rating in order: 1.attitude 2.skill"));
    }

    #[test]
    fn a_suggestion_may_start_with_a_digit_after_a_space() {
        let reply = parse("1123 3天才送到", &dimensions()).expect("readable");
        assert_eq!(reply.suggestion, "3天才送到");
    }
}
