//! The industry templates (DOMAIN.md §6): data shipped with Kefu, one
//! text-format `kefu.v1.IndustryTemplate` per file and version under
//! `templates/`, parsed against the contract's own descriptors so a file
//! that drifts from the contract fails the tests, not a tenant's creation.

use std::sync::OnceLock;

use kefu_proto::v1::{Industry, IndustryTemplate};
use prost_reflect::{DescriptorPool, DynamicMessage};

/// Every shipped template file.
const FILES: &[(&str, &str)] = &[(
    "generic.v1.textproto",
    include_str!("../templates/generic.v1.textproto"),
)];

/// Every version of every template.
#[derive(Debug)]
pub struct Catalogue {
    templates: Vec<IndustryTemplate>,
}

/// The catalogue, parsed once.
pub fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        let mut templates: Vec<IndustryTemplate> = FILES
            .iter()
            .map(|(file, text)| {
                // Shipped data, checked by the tests below: a parse failure
                // is a build defect, not an input error.
                parse(text).unwrap_or_else(|error| panic!("template {file}: {error}"))
            })
            .collect();
        templates.sort_by(|a, b| a.name.cmp(&b.name).then(a.version.cmp(&b.version)));
        Catalogue { templates }
    })
}

/// Parses one template file.
pub fn parse(text: &str) -> Result<IndustryTemplate, String> {
    let pool = DescriptorPool::decode(kefu_proto::FILE_DESCRIPTOR_SET)
        .map_err(|error| error.to_string())?;
    let descriptor = pool
        .get_message_by_name("kefu.v1.IndustryTemplate")
        .ok_or("kefu.v1.IndustryTemplate is not in the contract")?;
    DynamicMessage::parse_text_format(descriptor, text)
        .map_err(|error| error.to_string())?
        .transcode_to::<IndustryTemplate>()
        .map_err(|error| error.to_string())
}

impl Catalogue {
    /// Every version of every template, by name then version.
    pub fn all(&self) -> &[IndustryTemplate] {
        &self.templates
    }

    /// The latest version of each template.
    pub fn latest(&self) -> Vec<&IndustryTemplate> {
        let mut latest: Vec<&IndustryTemplate> = Vec::new();
        for template in &self.templates {
            match latest.last_mut() {
                Some(last) if last.name == template.name => *last = template,
                _ => latest.push(template),
            }
        }
        latest
    }

    /// Version `version` (0: the latest) of the template `name`
    /// (`industryTemplates/{template}`).
    pub fn get(&self, name: &str, version: i32) -> Option<&IndustryTemplate> {
        self.templates
            .iter()
            .filter(|template| template.name == name)
            .filter(|template| version == 0 || template.version == version)
            .max_by_key(|template| template.version)
    }

    /// The latest template of `industry`; industries without their own
    /// template yet start from the generic one.
    pub fn for_industry(&self, industry: Industry) -> Option<&IndustryTemplate> {
        if industry == Industry::Unspecified {
            return None;
        }
        let latest = self.latest();
        latest
            .iter()
            .find(|template| template.industry == industry as i32)
            .or_else(|| {
                latest
                    .iter()
                    .find(|template| template.industry == Industry::Generic as i32)
            })
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_carries_the_default_approval_matrix() {
        let catalogue = catalogue();
        assert_eq!(catalogue.all().len(), FILES.len());
        for template in catalogue.all() {
            let thresholds = &template
                .approval_matrix
                .as_ref()
                .expect("approval matrix")
                .thresholds;
            let bounds: Vec<Option<i64>> = thresholds
                .iter()
                .map(|t| t.upper_bound.as_ref().map(|m| m.amount_minor))
                .collect();
            assert_eq!(
                bounds,
                [Some(99_999), Some(500_000), None],
                "{}",
                template.name
            );
            let standard = template
                .survey_dimensions
                .iter()
                .filter(|dimension| dimension.standard)
                .count();
            assert_eq!(
                standard, 4,
                "{} has the four standard dimensions",
                template.name
            );
            assert!(
                template
                    .ticket_kinds
                    .iter()
                    .any(|kind| kind.base_kind == "COMPLAINT"),
                "{} has a complaint kind",
                template.name
            );
        }
    }

    #[test]
    fn every_industry_finds_a_template() {
        for industry in [
            Industry::PropertyManagement,
            Industry::Ecommerce,
            Industry::SecuritiesBrokerage,
            Industry::CarDealership,
            Industry::HealthcareConsulting,
            Industry::Hospitality,
            Industry::Generic,
        ] {
            assert!(catalogue().for_industry(industry).is_some(), "{industry:?}");
        }
        assert!(catalogue().for_industry(Industry::Unspecified).is_none());
        assert!(catalogue().get("industryTemplates/generic", 1).is_some());
        assert!(catalogue().get("industryTemplates/generic", 99).is_none());
    }
}
