//! Names for searching and ordering: the pinyin of Chinese names
//! (`张三` → `zhang san`), initials (`zs`), the keys name-prefix search
//! matches, and the sort key that orders customers by pinyin.

use pinyin::ToPinyin;

/// The pinyin of `text`, syllables separated by spaces, lowercase; other
/// letters and digits kept as words (`王 Lily` → `wang lily`).
pub fn pinyin_of(text: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut latin = String::new();
    for (character, syllable) in text.chars().zip(text.to_pinyin()) {
        match syllable {
            Some(syllable) => {
                if !latin.is_empty() {
                    words.push(std::mem::take(&mut latin));
                }
                words.push(syllable.plain().to_owned());
            }
            None if character.is_alphanumeric() => latin.extend(character.to_lowercase()),
            None => {
                if !latin.is_empty() {
                    words.push(std::mem::take(&mut latin));
                }
            }
        }
    }
    if !latin.is_empty() {
        words.push(latin);
    }
    words.join(" ")
}

/// The first letter of each pinyin word (`zhang san` → `zs`).
pub fn initials(pinyin: &str) -> String {
    pinyin
        .split_whitespace()
        .filter_map(|word| word.chars().next())
        .collect()
}

/// A search prefix or name part as keys compare: lowercase, without spaces.
pub fn squash(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '·' | '•' | '.' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The keys a name-prefix search finds a customer by: the display name,
/// family and given names, each word of the display name, the pinyin (whole
/// and from each syllable) and the initials, squashed and de-duplicated.
pub fn search_keys(
    display_name: &str,
    family_name: &str,
    given_name: &str,
    pinyin: &str,
) -> Vec<String> {
    let mut keys = vec![
        squash(display_name),
        squash(family_name),
        squash(given_name),
        squash(pinyin),
        initials(pinyin),
    ];
    let words: Vec<&str> = display_name.split_whitespace().collect();
    for start in 1..words.len() {
        keys.push(squash(&words[start..].join("")));
    }
    let syllables: Vec<&str> = pinyin.split_whitespace().collect();
    for start in 1..syllables.len() {
        keys.push(syllables[start..].concat());
    }
    keys.retain(|key| !key.is_empty());
    for key in &mut keys {
        // The key column holds 200 characters; a prefix longer than the
        // search limit (50) never needs more.
        if key.chars().count() > 200 {
            *key = key.chars().take(200).collect();
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

/// The key customers are ordered by (pinyin collation): the pinyin, then
/// the display name itself for names with the same pinyin.
pub fn sort_key(display_name: &str, pinyin: &str) -> String {
    let mut key: String = pinyin.chars().take(400).collect();
    key.push('\u{1}');
    key.extend(display_name.chars().take(200));
    key
}

/// The exclusive upper bound of the keys starting with `prefix`.
pub fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10ffff}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_names_get_pinyin_and_initials() {
        assert_eq!(pinyin_of("张三"), "zhang san");
        assert_eq!(pinyin_of("王 Lily"), "wang lily");
        assert_eq!(pinyin_of("John Smith"), "john smith");
        assert_eq!(initials("zhang san"), "zs");
    }

    #[test]
    fn a_customer_is_found_by_any_part_of_the_name() {
        let keys = search_keys("张三丰", "张", "三丰", &pinyin_of("张三丰"));
        for prefix in [
            "张", "张三", "三丰", "zhang", "zhangsan", "sanfeng", "zsf", "feng",
        ] {
            let prefix = squash(prefix);
            assert!(
                keys.iter().any(|key| key.starts_with(&prefix)),
                "{prefix} not in {keys:?}"
            );
        }
        let keys = search_keys("John Smith", "", "", &pinyin_of("John Smith"));
        assert!(keys.iter().any(|key| key.starts_with("smith")));
        assert!(keys.iter().any(|key| key.starts_with("johns")));
    }

    #[test]
    fn customers_sort_by_pinyin() {
        let mut names = ["张三", "安娜", "李四"];
        names.sort_by_key(|name| sort_key(name, &pinyin_of(name)));
        assert_eq!(names, ["安娜", "李四", "张三"]);
    }
}
