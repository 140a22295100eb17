//! `releasy config`: the resolved settings and where each came from. Secrets are
//! never shown, only whether they are set.

use serde_json::{Value, json};

use super::Context;
use crate::config::{Secret, Source, Sourced};
use crate::error::CliError;
use crate::output::Table;

/// Prints the settings.
///
/// # Errors
/// [`CliError::Io`] when standard output cannot take them.
pub fn run(ctx: &Context) -> Result<(), CliError> {
    let settings = &ctx.settings;
    let secret = |s: &Option<Sourced<Secret>>| match s {
        Some(s) => json!({ "set": true, "source": s.source }),
        None => json!({ "set": false, "source": Value::Null }),
    };
    let value = json!({
        "url": { "value": shown_url(&settings.url.value), "source": settings.url.source },
        "admin_key": secret(&settings.admin_key),
        "api_key": secret(&settings.api_key),
        "operator_token": secret(&settings.operator_token),
        "profile_file": settings.profile_file.as_ref().map(|p| p.display().to_string()),
        "profile": settings.profile,
    });
    ctx.output.emit(&value, || {
        let mut table = Table::new(&["setting", "value", "source"]);
        table.row(vec![
            "url".into(),
            shown_url(&settings.url.value),
            source_name(Some(settings.url.source)),
        ]);
        for (name, s) in [
            ("admin key", &settings.admin_key),
            ("api key", &settings.api_key),
            ("operator token", &settings.operator_token),
        ] {
            let shown = if s.is_some() { "(set)" } else { "(not set)" };
            table.row(vec![
                name.into(),
                shown.into(),
                source_name(s.as_ref().map(|s| s.source)),
            ]);
        }
        let file = settings
            .profile_file
            .as_ref()
            .map_or_else(|| "(none)".to_owned(), |p| p.display().to_string());
        table.row(vec!["profile file".into(), file, String::new()]);
        table.row(vec![
            "profile".into(),
            settings.profile.clone().unwrap_or_else(|| "(none)".into()),
            String::new(),
        ]);
        table.render("")
    })
}

/// The URL as shown: credentials in it (`https://ci:pw@releasy.example`, or a token
/// as the user name) masked, as every other secret is.
fn shown_url(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    if (!shown.username().is_empty() || shown.password().is_some())
        && (shown.set_password(None).is_err() || shown.set_username("***").is_err())
    {
        return "(a URL with credentials)".to_owned();
    }
    shown.to_string()
}

fn source_name(source: Option<Source>) -> String {
    match source {
        Some(Source::Flag) => "flag",
        Some(Source::Env) => "environment",
        Some(Source::Profile) => "profile file",
        Some(Source::Default) => "default",
        None => "-",
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_the_url_is_never_shown() {
        let url = reqwest::Url::parse("https://ci:s3cret@releasy.example/").unwrap();
        assert_eq!(shown_url(&url), "https://***@releasy.example/");
        let token = reqwest::Url::parse("https://t0ken@releasy.example/").unwrap();
        assert_eq!(shown_url(&token), "https://***@releasy.example/");
        let plain = reqwest::Url::parse("https://releasy.example/").unwrap();
        assert_eq!(shown_url(&plain), "https://releasy.example/");
    }
}
