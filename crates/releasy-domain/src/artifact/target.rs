//! What an artifact runs on and what kind of file it is: `os`, `arch` and `filetype`
//! beside the free-form platform, given at registration or derived from the platform
//! and the file name.

use crate::ValidationError;
use crate::artifact::Platform;
use crate::text::InlineAscii;

/// An `os`, `arch` or `filetype` value: trimmed, lower-cased, 1 to 32 characters of
/// `[a-z0-9._-]`.
/// Kept inline: listings copy it with every artifact they serve, without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TargetLabel(InlineAscii<{ TargetLabel::MAX_CHARS }>);

impl TargetLabel {
    /// The longest accepted label.
    pub const MAX_CHARS: usize = 32;

    /// Checks a label; `field` names it in the error.
    ///
    /// # Errors
    /// [`ValidationError`] on `field` when it is empty, too long or holds other
    /// characters.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, ValidationError> {
        let label = raw.trim().to_ascii_lowercase();
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        let inline =
            InlineAscii::new(&label).filter(|_| !label.is_empty() && label.chars().all(allowed));
        let Some(inline) = inline else {
            return Err(ValidationError::new(
                field,
                format!(
                    "must be 1 to {} characters of a-z, 0-9, '.', '_', '-'",
                    Self::MAX_CHARS
                ),
            ));
        };
        Ok(Self(inline))
    }

    /// The label.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// A label of the tables below, or an extension already checked: short ASCII.
    fn known(label: &str) -> Option<Self> {
        InlineAscii::new(label).map(Self)
    }
}

/// An artifact's operating system, architecture and file type, each known or not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArtifactTarget {
    /// `linux`, `macos`, `windows`, ...
    pub os: Option<TargetLabel>,
    /// `x86_64`, `aarch64`, ...
    pub arch: Option<TargetLabel>,
    /// `tar.gz`, `dmg`, `msi`, ...
    pub filetype: Option<TargetLabel>,
}

/// Operating systems by the names platform strings use for them.
const OPERATING_SYSTEMS: &[(&[&str], &str)] = &[
    (&["linux"], "linux"),
    (&["darwin", "macos", "mac", "osx", "apple"], "macos"),
    (&["windows", "win", "win32", "win64"], "windows"),
    (&["freebsd"], "freebsd"),
    (&["netbsd"], "netbsd"),
    (&["openbsd"], "openbsd"),
    (&["android"], "android"),
    (&["ios"], "ios"),
    (&["illumos"], "illumos"),
];

/// Architectures by the names platform strings use for them (Rust's names).
const ARCHITECTURES: &[(&[&str], &str)] = &[
    (&["x86_64", "amd64", "x64", "x86-64"], "x86_64"),
    (&["aarch64", "arm64"], "aarch64"),
    (&["i686", "i386", "x86", "386", "ia32"], "x86"),
    (&["armv7", "armv7l", "armhf", "arm"], "arm"),
    (&["riscv64"], "riscv64"),
    (&["ppc64le"], "ppc64le"),
    (&["s390x"], "s390x"),
    (&["universal"], "universal"),
];

/// File types of two extensions.
const DOUBLE_EXTENSIONS: &[&str] = &["tar.gz", "tar.xz", "tar.bz2", "tar.zst"];

impl ArtifactTarget {
    /// What `platform` and `filename` say: the os and arch named among the platform's
    /// parts (split at `-`, `_`, `/`, `.` and spaces; `x86_64` and `x86-64` whole), the
    /// file type from the name's extension (`tar.gz` and the like count as one).
    ///
    /// ```
    /// use releasy_domain::artifact::{ArtifactTarget, Platform};
    ///
    /// let t = ArtifactTarget::derive(&Platform::parse("linux-x86_64").unwrap(), "agent.tar.gz");
    /// assert_eq!(t.os.unwrap().as_str(), "linux");
    /// assert_eq!(t.arch.unwrap().as_str(), "x86_64");
    /// assert_eq!(t.filetype.unwrap().as_str(), "tar.gz");
    /// ```
    pub fn derive(platform: &Platform, filename: &str) -> Self {
        // `x86_64` and `x86-64` are one word, not `x86` and `64`.
        let platform = platform
            .as_str()
            .to_ascii_lowercase()
            .replace("x86_64", "x86-64");
        let mut words: Vec<&str> = platform
            .split(['-', '_', '/', '.', ' '])
            .filter(|p| !p.is_empty())
            .collect();
        if platform.contains("x86-64") {
            words.push("x86-64");
        }
        let find = |table: &[(&[&str], &str)]| {
            table
                .iter()
                .find(|(names, _)| words.iter().any(|w| names.contains(w)))
                .and_then(|(_, name)| TargetLabel::known(name))
        };
        Self {
            os: find(OPERATING_SYSTEMS),
            arch: find(ARCHITECTURES),
            filetype: file_type(filename),
        }
    }

    /// These values where set, the others from `derived`.
    pub fn or(self, derived: ArtifactTarget) -> Self {
        Self {
            os: self.os.or(derived.os),
            arch: self.arch.or(derived.arch),
            filetype: self.filetype.or(derived.filetype),
        }
    }
}

/// The file type a name's extension says, if it has a plausible one.
fn file_type(filename: &str) -> Option<TargetLabel> {
    let name = filename.to_ascii_lowercase();
    if let Some(double) = DOUBLE_EXTENSIONS
        .iter()
        .find(|ext| name.len() > ext.len() + 1 && name.ends_with(&format!(".{ext}")))
    {
        return TargetLabel::known(double);
    }
    let (stem, extension) = name.rsplit_once('.')?;
    let plausible = !stem.is_empty()
        && (1..=10).contains(&extension.len())
        && extension.chars().all(|c| c.is_ascii_alphanumeric())
        && !extension.chars().all(|c| c.is_ascii_digit());
    if plausible {
        TargetLabel::known(extension)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn derived(platform: &str, filename: &str) -> (Option<String>, Option<String>, Option<String>) {
        let t = ArtifactTarget::derive(&Platform::parse(platform).unwrap(), filename);
        let s = |l: Option<TargetLabel>| l.map(|l| l.as_str().to_owned());
        (s(t.os), s(t.arch), s(t.filetype))
    }

    fn some(
        os: &str,
        arch: &str,
        filetype: &str,
    ) -> (Option<String>, Option<String>, Option<String>) {
        let s = |v: &str| (!v.is_empty()).then(|| v.to_owned());
        (s(os), s(arch), s(filetype))
    }

    #[test]
    fn common_platform_strings_name_their_os_and_arch() {
        assert_eq!(
            derived("linux-x86_64", "a.tar.gz"),
            some("linux", "x86_64", "tar.gz")
        );
        assert_eq!(
            derived("darwin-aarch64", "App.dmg"),
            some("macos", "aarch64", "dmg")
        );
        assert_eq!(
            derived("windows-x86_64", "Setup.MSI"),
            some("windows", "x86_64", "msi")
        );
        assert_eq!(
            derived("macos-universal", "a.pkg"),
            some("macos", "universal", "pkg")
        );
        assert_eq!(
            derived("Linux ARM64", "a.deb"),
            some("linux", "aarch64", "deb")
        );
        assert_eq!(
            derived("linux_amd64", "a.rpm"),
            some("linux", "x86_64", "rpm")
        );
        assert_eq!(derived("win32", "a.exe"), some("windows", "", "exe"));
        assert_eq!(
            derived("x86_64-unknown-linux-gnu", "a.tar.xz"),
            some("linux", "x86_64", "tar.xz")
        );
        assert_eq!(
            derived("i686-pc-windows-msvc", "a.zip"),
            some("windows", "x86", "zip")
        );
        assert_eq!(
            derived("linux-armv7", "a.AppImage"),
            some("linux", "arm", "appimage")
        );
    }

    #[test]
    fn unknown_parts_derive_nothing() {
        assert_eq!(derived("any", "README"), some("", "", ""));
        assert_eq!(derived("noarch", ".bashrc"), some("", "", ""));
        assert_eq!(
            derived("source", "v1.2.3"),
            some("", "", ""),
            "a version is no extension"
        );
        assert_eq!(derived("source", "tar.gz"), some("", "", "gz"));
    }

    #[test]
    fn given_values_win_over_derived_ones() {
        let given = ArtifactTarget {
            os: Some(TargetLabel::parse("os", " Linux ").unwrap()),
            ..ArtifactTarget::default()
        };
        let t = given.or(ArtifactTarget::derive(
            &Platform::parse("windows-arm64").unwrap(),
            "a.msi",
        ));
        assert_eq!(t.os.unwrap().as_str(), "linux");
        assert_eq!(t.arch.unwrap().as_str(), "aarch64");
        assert_eq!(t.filetype.unwrap().as_str(), "msi");
    }

    #[test]
    fn labels_are_checked() {
        assert_eq!(TargetLabel::parse("arch", "").unwrap_err().field, "arch");
        assert!(TargetLabel::parse("os", "mac os").is_err());
        assert!(TargetLabel::parse("os", &"a".repeat(33)).is_err());
        assert_eq!(
            TargetLabel::parse("filetype", "TAR.GZ").unwrap().as_str(),
            "tar.gz"
        );
    }
}
