//! Where the connection settings come from. Each value is taken from the first place
//! that has it: a command-line flag, then an environment variable, then the profile
//! file, then the built-in default (only the URL has one). The same rule applies to
//! every command.

mod profile;
mod secret;

use std::path::PathBuf;

use serde::Serialize;

pub use profile::{ProfileFile, ProfileValues};
pub use secret::Secret;

/// The server URL used when no flag, variable or profile sets one.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// The environment variables read, by setting.
pub mod env {
    /// Server base URL.
    pub const URL: &str = "RELEASY_URL";
    /// Admin bootstrap key.
    pub const ADMIN_KEY: &str = "RELEASY_ADMIN_API_KEY";
    /// Customer API key.
    pub const API_KEY: &str = "RELEASY_API_KEY";
    /// Operator JWT.
    pub const OPERATOR_TOKEN: &str = "RELEASY_OPERATOR_TOKEN";
    /// Profile name.
    pub const PROFILE: &str = "RELEASY_PROFILE";
    /// Profile file path.
    pub const CONFIG: &str = "RELEASY_CONFIG";
}

/// Why the settings could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The profile file exists (or was named) but cannot be read.
    #[error("cannot read the profile file {}: {source}", path.display())]
    ProfileRead {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The profile file is not valid.
    #[error("invalid profile file {}: {detail}", path.display())]
    ProfileSyntax {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The chosen profile is not in the file.
    #[error("profile `{name}` is not defined in {}", path.display())]
    UnknownProfile {
        /// The profile asked for.
        name: String,
        /// The file searched.
        path: PathBuf,
    },
    /// A profile was chosen but there is no profile file.
    #[error("profile `{name}` was chosen but there is no profile file (looked for {looked_for})")]
    ProfileWithoutFile {
        /// The profile asked for.
        name: String,
        /// Where the file was looked for.
        looked_for: String,
    },
    /// The URL is not an http or https URL.
    #[error("invalid server URL `{url}`: {detail}")]
    InvalidUrl {
        /// The value.
        url: String,
        /// What is wrong.
        detail: String,
    },
}

/// Where a value came from; the order is precedence (a flag first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A command-line flag.
    Flag,
    /// An environment variable.
    Env,
    /// The profile file.
    Profile,
    /// The built-in default.
    Default,
}

/// What the command line says (flags only; environment variables are read here).
#[derive(Debug, Default, Clone)]
pub struct FlagValues {
    /// `--url`.
    pub url: Option<String>,
    /// `--admin-key`.
    pub admin_key: Option<String>,
    /// `--api-key`.
    pub api_key: Option<String>,
    /// `--operator-token`.
    pub operator_token: Option<String>,
    /// `--profile`.
    pub profile: Option<String>,
    /// `--config`.
    pub config: Option<PathBuf>,
}

/// A resolved value and its origin.
#[derive(Debug, Clone)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Where it came from.
    pub source: Source,
}

/// The settings every command runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Server base URL, without a trailing slash.
    pub url: Sourced<reqwest::Url>,
    /// Admin bootstrap key.
    pub admin_key: Option<Sourced<Secret>>,
    /// Customer API key.
    pub api_key: Option<Sourced<Secret>>,
    /// Operator JWT.
    pub operator_token: Option<Sourced<Secret>>,
    /// The profile file read, if any.
    pub profile_file: Option<PathBuf>,
    /// The profile used, if any.
    pub profile: Option<String>,
}

impl Settings {
    /// Resolves the settings from `flags`, the environment seen through `env`, and the
    /// profile file.
    ///
    /// # Errors
    /// [`ConfigError`] for an unreadable or invalid profile file, an unknown profile, or
    /// an invalid URL.
    pub fn resolve(
        flags: &FlagValues,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let env_value = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let profile_name = flags.profile.clone().or_else(|| env_value(env::PROFILE));
        let (profile_file, profile, values) =
            load_profile(flags, &env_value, profile_name.as_deref())?;
        let pick = |flag: &Option<String>, var: &str, file: &Option<String>| {
            first_of([
                (flag.clone(), Source::Flag),
                (env_value(var), Source::Env),
                (file.clone(), Source::Profile),
            ])
        };
        let url = pick(&flags.url, env::URL, &values.url).unwrap_or(Sourced {
            value: DEFAULT_URL.to_owned(),
            source: Source::Default,
        });
        let secret = |s: Option<Sourced<String>>| {
            s.and_then(|s| {
                Secret::new(s.value).map(|value| Sourced {
                    value,
                    source: s.source,
                })
            })
        };
        Ok(Self {
            url: Sourced {
                value: parse_url(&url.value)?,
                source: url.source,
            },
            admin_key: secret(pick(&flags.admin_key, env::ADMIN_KEY, &values.admin_key)),
            api_key: secret(pick(&flags.api_key, env::API_KEY, &values.api_key)),
            operator_token: secret(pick(
                &flags.operator_token,
                env::OPERATOR_TOKEN,
                &values.operator_token,
            )),
            profile,
            profile_file,
        })
    }
}

fn first_of<const N: usize>(candidates: [(Option<String>, Source); N]) -> Option<Sourced<String>> {
    candidates.into_iter().find_map(|(value, source)| {
        value
            .filter(|v| !v.trim().is_empty())
            .map(|value| Sourced { value, source })
    })
}

/// Reads the profile file: the one named by `--config` or `RELEASY_CONFIG` (which
/// must exist), else the default path when it exists. Answers the file, the profile
/// used (asked for, or the file's `default_profile`), and its values.
fn load_profile(
    flags: &FlagValues,
    env_value: &dyn Fn(&str) -> Option<String>,
    profile_name: Option<&str>,
) -> Result<(Option<PathBuf>, Option<String>, ProfileValues), ConfigError> {
    let named = flags
        .config
        .clone()
        .or_else(|| env_value(env::CONFIG).map(PathBuf::from));
    let default = named
        .is_none()
        .then(|| default_path_from(env_value))
        .flatten();
    let path = match (named, default) {
        (Some(path), _) => Some(path),
        (None, Some(path)) if path.is_file() => Some(path),
        (None, default) => {
            if let Some(name) = profile_name {
                return Err(ConfigError::ProfileWithoutFile {
                    name: name.to_owned(),
                    looked_for: default
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "$HOME/.config/releasy/config.toml".to_owned()),
                });
            }
            None
        }
    };
    let Some(path) = path else {
        return Ok((None, None, ProfileValues::default()));
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::ProfileRead {
        path: path.clone(),
        source,
    })?;
    let file = ProfileFile::parse(&path, &text)?;
    let values = file.select(profile_name, &path)?;
    let chosen = file.chosen(profile_name).map(str::to_owned);
    Ok((Some(path), chosen, values))
}

/// `$XDG_CONFIG_HOME/releasy/config.toml`, else `$HOME/.config/releasy/config.toml`.
fn default_path_from(env_value: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env_value("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| env_value("HOME").map(|home| PathBuf::from(home).join(".config")))
        .map(|dir| dir.join("releasy").join("config.toml"))
}

/// `raw` with whatever stands before an `@` in its authority hidden, so that no
/// password (or token given as the user name) reaches an error message.
fn without_credentials(raw: &str) -> String {
    // The authority starts after `scheme://`, or after leading slashes, or at the start
    // (`ci:pw@host` parses as a URL of scheme `ci`, refused for it).
    let start = raw.find("://").map_or_else(
        || raw.len() - raw.trim_start_matches('/').len(),
        |scheme_end| scheme_end + 3,
    );
    let rest = &raw[start..];
    let authority = rest.find(['/', '?', '#']).map_or(rest, |end| &rest[..end]);
    match authority.rfind('@') {
        Some(at) => format!("{}***{}", &raw[..start], &rest[at..]),
        None => raw.to_owned(),
    }
}

fn parse_url(raw: &str) -> Result<reqwest::Url, ConfigError> {
    let invalid = |detail: &str| ConfigError::InvalidUrl {
        url: without_credentials(raw),
        detail: detail.to_owned(),
    };
    let url = reqwest::Url::parse(raw.trim().trim_end_matches('/'))
        .map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a query or fragment is not allowed"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn flags_beat_environment_beats_profile_beats_default() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(
            &file,
            "url = \"http://profile:1\"\napi_key = \"profile-key\"\nadmin_key = \"profile-admin\"\n",
        )
        .unwrap();
        let config = file.display().to_string();
        let env = env_of(&[
            (env::CONFIG, &config),
            (env::URL, "http://env:2"),
            (env::API_KEY, "env-key"),
        ]);
        let flags = FlagValues {
            url: Some("http://flag:3/".into()),
            ..FlagValues::default()
        };
        let settings = Settings::resolve(&flags, &env).unwrap();
        assert_eq!(settings.url.value.as_str(), "http://flag:3/");
        assert_eq!(settings.url.source, Source::Flag);
        let api_key = settings.api_key.unwrap();
        assert_eq!(
            (api_key.value.expose(), api_key.source),
            ("env-key", Source::Env)
        );
        let admin = settings.admin_key.unwrap();
        assert_eq!(
            (admin.value.expose(), admin.source),
            ("profile-admin", Source::Profile)
        );
        assert!(settings.operator_token.is_none());

        let bare = Settings::resolve(&FlagValues::default(), &env_of(&[])).unwrap();
        assert_eq!(bare.url.source, Source::Default);
        assert_eq!(bare.url.value.as_str(), "http://127.0.0.1:8080/");
    }

    #[test]
    fn empty_values_count_as_unset_and_bad_input_is_an_error() {
        let env = env_of(&[(env::URL, ""), (env::API_KEY, " ")]);
        let settings = Settings::resolve(&FlagValues::default(), &env).unwrap();
        assert_eq!(settings.url.source, Source::Default);
        assert!(settings.api_key.is_none());

        let flags = FlagValues {
            url: Some("ftp://x".into()),
            ..FlagValues::default()
        };
        assert!(matches!(
            Settings::resolve(&flags, &env_of(&[])),
            Err(ConfigError::InvalidUrl { .. })
        ));
        let flags = FlagValues {
            profile: Some("prod".into()),
            ..FlagValues::default()
        };
        let env = env_of(&[("HOME", "/nonexistent-home")]);
        assert!(matches!(
            Settings::resolve(&flags, &env),
            Err(ConfigError::ProfileWithoutFile { .. })
        ));
    }

    #[test]
    fn a_refused_url_is_named_without_its_credentials() {
        let flags = FlagValues {
            url: Some("https://ci:s3cret@releasy.example/?q".into()),
            ..FlagValues::default()
        };
        let err = Settings::resolve(&flags, &env_of(&[]))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cret"), "{err}");
        assert!(err.contains("https://***@releasy.example/?q"), "{err}");
        assert_eq!(without_credentials("no url"), "no url");
        assert_eq!(
            without_credentials("ci:s3cret@releasy.example"),
            "***@releasy.example"
        );
        assert_eq!(
            without_credentials("//ci:s3cret@releasy.example/x"),
            "//***@releasy.example/x"
        );
        assert_eq!(
            without_credentials("http://host/a@b"),
            "http://host/a@b",
            "an @ in the path is not a credential"
        );
    }
}
