//! What the demo prints: where it runs, what it holds, and commands to paste into
//! another shell. Everything after the `export` line is a script that runs as it is
//! (the demo's test runs it).

use std::fmt::Write as _;

use super::seed::PLATFORM;
use super::{Demo, PRODUCT};

/// The line that starts the part to paste.
pub const PASTE_FROM: &str = "export RELEASY_URL=";

pub(super) fn render(demo: &Demo) -> String {
    let seeded = &demo.seeded;
    let url = &demo.url;
    let versions: Vec<String> = seeded
        .releases
        .iter()
        .map(|r| format!("{} ({})", r.version, r.channel))
        .collect();
    let newest_stable = seeded
        .releases
        .iter()
        .rev()
        .find(|r| r.channel == "stable")
        .unwrap_or(&seeded.releases[0]);
    let oldest = &seeded.releases[0].version;
    let customer = &seeded.customer_id;
    let artifact = &newest_stable.artifact_id;
    let mut text = String::new();
    let _ = write!(
        text,
        r#"Releasy demo at {url}, data in {data} (delete it when done). Ctrl-C stops it.

Seeded through the API:
  product {PRODUCT}: {versions}, each with a {PLATFORM} file
  customer Acme Corp ({customer}), entitled to {PRODUCT}
  a read-only key for it (releases:read, downloads:token)
  the admin key, in {data}/admin-api-key

Paste into another shell (the releasy CLI: cargo install --path crates/releasy-cli):

{PASTE_FROM}{url}
ADMIN_KEY='{admin}'
API_KEY='{api}'

# The customer: the newest stable release, an upgrade check on the beta channel,
# a download link for {file}, and the download itself.
curl -fsS "$RELEASY_URL/v1/releases/latest?product={PRODUCT}" -H "x-releasy-api-key: $API_KEY"; echo
curl -fsS "$RELEASY_URL/v1/releases/upgrade?product={PRODUCT}&current={oldest}&channel=beta" -H "x-releasy-api-key: $API_KEY"; echo
curl -fsS -X POST "$RELEASY_URL/v1/downloads/token" -H "x-releasy-api-key: $API_KEY" \
  -H 'content-type: application/json' -d '{{"artifact_id":"{artifact}"}}'; echo
RELEASY_API_KEY=$API_KEY releasy latest {PRODUCT}
RELEASY_API_KEY=$API_KEY releasy upgrade {PRODUCT} --current {oldest} --channel beta
RELEASY_API_KEY=$API_KEY releasy download {PRODUCT} --platform {PLATFORM} -o demo-downloads/
sh demo-downloads/{file}

# The operator: customers, what this one may have and why, and the releases.
curl -fsS "$RELEASY_URL/v1/admin/customers" -H "x-releasy-admin-key: $ADMIN_KEY"; echo
RELEASY_ADMIN_API_KEY=$ADMIN_KEY releasy entitlement access --customer {customer} --product {PRODUCT} --version {newest}
RELEASY_ADMIN_API_KEY=$ADMIN_KEY releasy release list --product {PRODUCT} --sort version
"#,
        data = demo.data_dir.display(),
        versions = versions.join(", "),
        admin = seeded.admin_key,
        api = seeded.api_key,
        file = newest_stable.filename,
        newest = newest_stable.version,
    );
    text
}
