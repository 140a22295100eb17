//! The optional profile file: TOML with top-level defaults and named
//! `[profiles.NAME]` tables that override them.
//!
//! ```toml
//! default_profile = "prod"          # used when no --profile / RELEASY_PROFILE
//! url = "http://127.0.0.1:8080"     # top-level values apply to every profile
//!
//! [profiles.prod]
//! url = "https://releasy.example.com"
//! api_key = "releasy_..."
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::ConfigError;

/// Connection values a profile may set; each is optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileValues {
    /// Server base URL.
    pub url: Option<String>,
    /// Admin bootstrap key.
    pub admin_key: Option<String>,
    /// Customer API key.
    pub api_key: Option<String>,
    /// Operator JWT.
    pub operator_token: Option<String>,
}

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    /// The profile used when none is chosen.
    pub default_profile: Option<String>,
    /// Values for every profile.
    #[serde(flatten)]
    pub defaults: ProfileValues,
    /// Named profiles.
    #[serde(default)]
    pub profiles: BTreeMap<String, ProfileValues>,
}

impl ProfileFile {
    /// Parses the file's text; `path` only names it in errors.
    ///
    /// # Errors
    /// [`ConfigError::ProfileSyntax`] for invalid TOML or unknown keys.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::ProfileSyntax {
            path: path.to_owned(),
            detail: e.message().to_owned(),
        })
    }

    /// The profile [`Self::select`] uses for `name`: it, or the file's default profile.
    pub fn chosen<'a>(&'a self, name: Option<&'a str>) -> Option<&'a str> {
        name.or(self.default_profile.as_deref())
    }

    /// The values of profile `name` (or of the file's default profile, or only the
    /// top-level values when neither is set), each falling back to the top level.
    ///
    /// # Errors
    /// [`ConfigError::UnknownProfile`] when the named profile is not in the file.
    pub fn select(&self, name: Option<&str>, path: &Path) -> Result<ProfileValues, ConfigError> {
        let Some(name) = self.chosen(name) else {
            return Ok(self.defaults.clone());
        };
        let profile = self
            .profiles
            .get(name)
            .ok_or_else(|| ConfigError::UnknownProfile {
                name: name.to_owned(),
                path: path.to_owned(),
            })?;
        let base = &self.defaults;
        Ok(ProfileValues {
            url: profile.url.clone().or_else(|| base.url.clone()),
            admin_key: profile.admin_key.clone().or_else(|| base.admin_key.clone()),
            api_key: profile.api_key.clone().or_else(|| base.api_key.clone()),
            operator_token: profile
                .operator_token
                .clone()
                .or_else(|| base.operator_token.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
default_profile = "prod"
url = "http://base"
api_key = "base-key"

[profiles.prod]
url = "https://prod"

[profiles.ci]
admin_key = "ci-admin"
"#;

    #[test]
    fn profiles_fall_back_to_top_level_values() {
        let path = Path::new("config.toml");
        let file = ProfileFile::parse(path, FILE).unwrap();
        assert_eq!(
            file.chosen(None),
            Some("prod"),
            "the file's default profile"
        );
        assert_eq!(file.chosen(Some("ci")), Some("ci"));
        let prod = file.select(None, path).unwrap();
        assert_eq!(prod.url.as_deref(), Some("https://prod"));
        assert_eq!(prod.api_key.as_deref(), Some("base-key"));
        let ci = file.select(Some("ci"), path).unwrap();
        assert_eq!(ci.url.as_deref(), Some("http://base"));
        assert_eq!(ci.admin_key.as_deref(), Some("ci-admin"));
        assert!(matches!(
            file.select(Some("nope"), path),
            Err(ConfigError::UnknownProfile { .. })
        ));
    }

    #[test]
    fn unknown_keys_are_errors() {
        let path = Path::new("config.toml");
        assert!(ProfileFile::parse(path, "ulr = \"x\"").is_err());
        assert!(ProfileFile::parse(path, "[profiles.a]\nkey = \"x\"").is_err());
    }
}
