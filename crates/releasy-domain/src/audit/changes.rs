//! The audit events of changes: one constructor per kind of change, each naming the
//! targets and a short summary of the state before and after. Summaries hold names,
//! statuses and dates, never a secret (no key, key hash, token or token hash) and
//! never free-form metadata (only whether it changed).
//!
//! Payload of every change event:
//! `{actor_id, request_id, client_address, target: {..ids}, before, after}`, with
//! `before` `null` for a creation and `after` `null` for a deletion.

use serde_json::{Value, json};

use crate::api_key::{ApiKey, Rotation};
use crate::artifact::{Artifact, PendingUpload, Verification, VerifyOutcome};
use crate::audit::{AuditEvent, Origin};
use crate::customer::Customer;
use crate::download::DownloadToken;
use crate::entitlement::{DownloadQuota, Entitlement};
use crate::product::ProductPolicy;
use crate::release::{Release, ReleaseStatus};
use crate::{ArtifactId, AuditEventId, CustomerId, Timestamp};

/// The names of the change events.
pub mod names {
    /// A customer was created.
    pub const CUSTOMER_CREATED: &str = "customer.created";
    /// A customer's name or plan changed.
    pub const CUSTOMER_UPDATED: &str = "customer.updated";
    /// A customer was suspended.
    pub const CUSTOMER_SUSPENDED: &str = "customer.suspended";
    /// A suspended customer was resumed.
    pub const CUSTOMER_UNSUSPENDED: &str = "customer.unsuspended";
    /// A customer API key was created.
    pub const KEY_CREATED: &str = "key.created";
    /// A customer API key was revoked.
    pub const KEY_REVOKED: &str = "key.revoked";
    /// A customer API key's name or address rule changed.
    pub const KEY_UPDATED: &str = "key.updated";
    /// A customer API key was rotated: a successor issued, its own revocation scheduled.
    pub const KEY_ROTATED: &str = "key.rotated";
    /// An entitlement was granted.
    pub const ENTITLEMENT_CREATED: &str = "entitlement.created";
    /// An entitlement's window, scope or metadata changed.
    pub const ENTITLEMENT_UPDATED: &str = "entitlement.updated";
    /// An entitlement was revoked.
    pub const ENTITLEMENT_DELETED: &str = "entitlement.deleted";
    /// A draft release was created.
    pub const RELEASE_CREATED: &str = "release.created";
    /// A draft's channel, notes or metadata changed.
    pub const RELEASE_UPDATED: &str = "release.updated";
    /// A release was published.
    pub const RELEASE_PUBLISHED: &str = "release.published";
    /// A published release went back to draft.
    pub const RELEASE_UNPUBLISHED: &str = "release.unpublished";
    /// A release was yanked.
    pub const RELEASE_YANKED: &str = "release.yanked";
    /// A yank was taken back.
    pub const RELEASE_UNYANKED: &str = "release.unyanked";
    /// A release was deleted with its artifacts and their download tokens.
    pub const RELEASE_DELETED: &str = "release.deleted";
    /// An artifact was registered to a release.
    pub const ARTIFACT_REGISTERED: &str = "artifact.registered";
    /// A check of an artifact's stored bytes found its declared size and SHA-256.
    pub const ARTIFACT_VERIFIED: &str = "artifact.verified";
    /// A check of an artifact's stored bytes found them missing or different: it is
    /// never served again.
    pub const ARTIFACT_FAILED: &str = "artifact.failed";
    /// An unfinished upload was aborted, and what it stored deleted.
    pub const ARTIFACT_UPLOAD_ABORTED: &str = "artifact_upload.aborted";
    /// A download token was issued.
    pub const DOWNLOAD_TOKEN_ISSUED: &str = "download_token.issued";
    /// A token request was refused by a delivery rule (a spent download quota).
    pub const DOWNLOAD_TOKEN_REFUSED: &str = "download_token.refused";
    /// A product's own release policy was set.
    pub const PRODUCT_POLICY_SET: &str = "product.policy_set";
}

/// What changed: the event's name, the customer it concerns, its targets and the
/// summaries around it.
struct Change {
    event: &'static str,
    customer_id: Option<CustomerId>,
    target: Value,
    before: Value,
    after: Value,
}

impl Change {
    fn recorded(self, origin: &Origin, at: Timestamp) -> AuditEvent {
        let mut payload = origin.payload_fields();
        payload.insert("target".into(), self.target);
        payload.insert("before".into(), self.before);
        payload.insert("after".into(), self.after);
        AuditEvent {
            id: AuditEventId::generate(),
            customer_id: self.customer_id,
            actor: origin.actor.name().to_owned(),
            event: self.event.to_owned(),
            payload: Value::Object(payload),
            created_at: at,
        }
    }
}

fn seconds(at: Option<Timestamp>) -> Value {
    json!(at.map(Timestamp::unix_seconds))
}

fn customer_summary(customer: &Customer) -> Value {
    json!({
        "name": customer.name.as_str(),
        "plan": customer.plan.as_ref().map(|p| p.as_str()),
        "suspended_at": seconds(customer.suspended_at),
    })
}

fn key_target(key: &ApiKey) -> Value {
    json!({
        "api_key_id": key.id.to_string(),
        "customer_id": key.customer_id.to_string(),
    })
}

/// A key's settings; `allowed_cidrs` only when it has an address rule, so the events of
/// keys without one read as they did before rules existed.
fn key_summary(key: &ApiKey) -> Value {
    let mut summary = json!({
        "name": key.name.as_ref().map(|n| n.as_str()),
        "key_type": key.key_type.as_str(),
        "scopes": key.scopes.names(),
        "expires_at": seconds(key.expires_at),
        "revoked_at": seconds(key.revoked_at),
    });
    if let Some(networks) = &key.allowed_networks {
        summary["allowed_cidrs"] = json!(networks.ranges().collect::<Vec<_>>());
    }
    summary
}

/// A token's limits; `max_uses` and `allowed_cidrs` only when it has them, so the
/// events of tokens without them read as they did before.
fn token_summary(token: &DownloadToken) -> Value {
    let mut summary = json!({
        "expires_at": token.expires_at.unix_seconds(),
        "purpose": token.purpose,
    });
    if let Some(max_uses) = token.max_uses {
        summary["max_uses"] = json!(max_uses.get());
    }
    if let Some(networks) = &token.allowed_networks {
        summary["allowed_cidrs"] = json!(networks.ranges().collect::<Vec<_>>());
    }
    summary
}

fn entitlement_summary(entitlement: &Entitlement) -> Value {
    let scope = &entitlement.scope;
    let mut summary = json!({
        "product": entitlement.product.as_str(),
        "starts_at": entitlement.window.starts_at().unix_seconds(),
        "ends_at": seconds(entitlement.window.ends_at()),
        "channels": scope
            .channels
            .as_ref()
            .map(|channels| channels.iter().map(|c| c.as_str()).collect::<Vec<_>>()),
        "versions": scope.versions.as_ref().map(|v| v.as_str()),
        "perpetual_fallback": scope.perpetual_fallback,
        "has_metadata": entitlement.metadata.is_some(),
    });
    // Only when it has one, so the events of entitlements without read as before.
    if let Some(quota) = &entitlement.download_quota {
        summary["download_quota"] = quota_summary(quota);
    }
    summary
}

fn quota_summary(quota: &DownloadQuota) -> Value {
    json!({
        "downloads": quota.downloads(),
        "bytes": quota.bytes(),
        "period": quota.period().as_str(),
    })
}

fn release_target(release: &Release) -> Value {
    json!({
        "release_id": release.id.to_string(),
        "product": release.product.as_str(),
        "version": release.version.as_str(),
    })
}

fn release_details(release: &Release) -> Value {
    json!({
        "status": release.status.as_str(),
        "channel": release.channel.as_str(),
        "has_notes": release.notes.is_some(),
        "has_metadata": release.metadata.is_some(),
        "yanked": release.yank.is_some(),
    })
}

impl AuditEvent {
    /// `customer.created`.
    pub fn customer_created(origin: &Origin, customer: &Customer) -> Self {
        Change {
            event: names::CUSTOMER_CREATED,
            customer_id: Some(customer.id),
            target: json!({"customer_id": customer.id.to_string()}),
            before: Value::Null,
            after: customer_summary(customer),
        }
        .recorded(origin, customer.created_at)
    }

    /// The events of one customer update, from the customer before and after it:
    /// `customer.updated` when the name or plan changed, and `customer.suspended` or
    /// `customer.unsuspended` when the suspension did (suspending a suspended customer
    /// again moves its `suspended_at`: a `customer.suspended` too); none when nothing
    /// changed.
    pub fn customer_changes(
        origin: &Origin,
        before: &Customer,
        after: &Customer,
        at: Timestamp,
    ) -> Vec<Self> {
        let target = json!({"customer_id": after.id.to_string()});
        let change = |event| Change {
            event,
            customer_id: Some(after.id),
            target: target.clone(),
            before: customer_summary(before),
            after: customer_summary(after),
        };
        let mut events = Vec::new();
        if before.name != after.name || before.plan != after.plan {
            events.push(change(names::CUSTOMER_UPDATED).recorded(origin, at));
        }
        match (before.suspended_at, after.suspended_at) {
            (None, Some(_)) => events.push(change(names::CUSTOMER_SUSPENDED).recorded(origin, at)),
            (Some(was), Some(now)) if was != now => {
                events.push(change(names::CUSTOMER_SUSPENDED).recorded(origin, at));
            }
            (Some(_), None) => {
                events.push(change(names::CUSTOMER_UNSUSPENDED).recorded(origin, at));
            }
            _ => {}
        }
        events
    }

    /// `key.created`: the key's name, type, scopes and expiry (never its secret or
    /// hash).
    pub fn key_created(origin: &Origin, key: &ApiKey) -> Self {
        Change {
            event: names::KEY_CREATED,
            customer_id: Some(key.customer_id),
            target: key_target(key),
            before: Value::Null,
            after: key_summary(key),
        }
        .recorded(origin, key.created_at)
    }

    /// `key.revoked`, from the key before and after its revocation.
    pub fn key_revoked(origin: &Origin, before: &ApiKey, revoked: &ApiKey) -> Self {
        Change {
            event: names::KEY_REVOKED,
            customer_id: Some(revoked.customer_id),
            target: key_target(revoked),
            before: key_summary(before),
            after: key_summary(revoked),
        }
        .recorded(origin, revoked.revoked_at.unwrap_or(revoked.created_at))
    }

    /// `key.updated`: the key's name or address rule, before and after.
    pub fn key_updated(origin: &Origin, before: &ApiKey, after: &ApiKey, at: Timestamp) -> Self {
        Change {
            event: names::KEY_UPDATED,
            customer_id: Some(after.customer_id),
            target: key_target(after),
            before: key_summary(before),
            after: key_summary(after),
        }
        .recorded(origin, at)
    }

    /// `key.rotated`: the old key, whose revocation is now scheduled at the end of the
    /// overlap, and the id of its successor (whose own `key.created` event goes with
    /// this one).
    pub fn key_rotated(origin: &Origin, rotation: &Rotation, before: &ApiKey) -> Self {
        let retiring = &rotation.retiring;
        let mut target = key_target(retiring);
        target["successor_api_key_id"] = json!(rotation.successor.id.to_string());
        Change {
            event: names::KEY_ROTATED,
            customer_id: Some(retiring.customer_id),
            target,
            before: key_summary(before),
            after: key_summary(retiring),
        }
        .recorded(origin, rotation.successor.created_at)
    }

    fn entitlement_change(
        event: &'static str,
        entitlement: &Entitlement,
        before: Value,
        after: Value,
    ) -> Change {
        Change {
            event,
            customer_id: Some(entitlement.customer_id),
            target: json!({
                "entitlement_id": entitlement.id.to_string(),
                "customer_id": entitlement.customer_id.to_string(),
            }),
            before,
            after,
        }
    }

    /// `entitlement.created`.
    pub fn entitlement_created(origin: &Origin, entitlement: &Entitlement) -> Self {
        Self::entitlement_change(
            names::ENTITLEMENT_CREATED,
            entitlement,
            Value::Null,
            entitlement_summary(entitlement),
        )
        .recorded(origin, entitlement.created_at)
    }

    /// `entitlement.updated`, from the entitlement before and after.
    pub fn entitlement_updated(
        origin: &Origin,
        before: &Entitlement,
        after: &Entitlement,
        at: Timestamp,
    ) -> Self {
        let mut summary = entitlement_summary(after);
        summary["metadata_changed"] = json!(before.metadata != after.metadata);
        Self::entitlement_change(
            names::ENTITLEMENT_UPDATED,
            after,
            entitlement_summary(before),
            summary,
        )
        .recorded(origin, at)
    }

    /// `entitlement.deleted`, from the entitlement the delete removed.
    pub fn entitlement_deleted(origin: &Origin, deleted: &Entitlement, at: Timestamp) -> Self {
        Self::entitlement_change(
            names::ENTITLEMENT_DELETED,
            deleted,
            entitlement_summary(deleted),
            Value::Null,
        )
        .recorded(origin, at)
    }

    /// `release.created`.
    pub fn release_created(origin: &Origin, release: &Release) -> Self {
        Change {
            event: names::RELEASE_CREATED,
            customer_id: None,
            target: release_target(release),
            before: Value::Null,
            after: release_details(release),
        }
        .recorded(origin, release.created_at)
    }

    /// `release.published` or `release.unpublished`: the release's status moving from
    /// `release.status` to `to` (a compare-and-set on the status, so `before` is
    /// exact).
    pub fn release_status_changed(
        origin: &Origin,
        release: &Release,
        to: ReleaseStatus,
        at: Timestamp,
    ) -> Self {
        let event = match to {
            ReleaseStatus::Published => names::RELEASE_PUBLISHED,
            ReleaseStatus::Draft => names::RELEASE_UNPUBLISHED,
        };
        Change {
            event,
            customer_id: None,
            target: release_target(release),
            before: json!({"status": release.status.as_str()}),
            after: json!({"status": to.as_str()}),
        }
        .recorded(origin, at)
    }

    /// `release.updated`, from the draft before and after.
    pub fn release_updated(
        origin: &Origin,
        before: &Release,
        after: &Release,
        at: Timestamp,
    ) -> Self {
        let mut summary = release_details(after);
        summary["notes_changed"] = json!(before.notes != after.notes);
        summary["metadata_changed"] = json!(before.metadata != after.metadata);
        Change {
            event: names::RELEASE_UPDATED,
            customer_id: None,
            target: release_target(after),
            before: release_details(before),
            after: summary,
        }
        .recorded(origin, at)
    }

    /// `release.yanked` or `release.unyanked`, from the release as the change left it.
    pub fn release_yank_changed(origin: &Origin, after: &Release, at: Timestamp) -> Self {
        let (event, before, summary) = match &after.yank {
            Some(yank) => (
                names::RELEASE_YANKED,
                json!({"yanked": false}),
                json!({
                    "yanked": true,
                    "reason": yank.reason.as_str(),
                    "blocks_downloads": yank.blocks_downloads,
                }),
            ),
            None => (
                names::RELEASE_UNYANKED,
                json!({"yanked": true}),
                json!({"yanked": false}),
            ),
        };
        Change {
            event,
            customer_id: None,
            target: release_target(after),
            before,
            after: summary,
        }
        .recorded(origin, at)
    }

    /// `release.deleted`, from the release the delete removed.
    pub fn release_deleted(origin: &Origin, deleted: &Release, at: Timestamp) -> Self {
        Change {
            event: names::RELEASE_DELETED,
            customer_id: None,
            target: release_target(deleted),
            before: release_details(deleted),
            after: Value::Null,
        }
        .recorded(origin, at)
    }

    /// `artifact_upload.aborted`: `upload`, presigned and never registered, ended and
    /// its bytes deleted.
    pub fn upload_aborted(origin: &Origin, upload: &PendingUpload, at: Timestamp) -> Self {
        Change {
            event: names::ARTIFACT_UPLOAD_ABORTED,
            customer_id: None,
            target: json!({
                "artifact_id": upload.artifact_id.to_string(),
                "release_id": upload.release_id.to_string(),
            }),
            before: json!({
                "object_key": upload.object_key.as_str(),
                "size": upload.size.map(|size| size.bytes()),
                "multipart": upload.multipart.is_some(),
                "presigned_at": upload.created_at.unix_seconds(),
            }),
            after: Value::Null,
        }
        .recorded(origin, at)
    }

    /// `artifact.registered`.
    pub fn artifact_registered(origin: &Origin, artifact: &Artifact) -> Self {
        Change {
            event: names::ARTIFACT_REGISTERED,
            customer_id: None,
            target: json!({
                "artifact_id": artifact.id.to_string(),
                "release_id": artifact.release_id.to_string(),
            }),
            before: Value::Null,
            after: json!({
                "platform": artifact.platform.as_str(),
                "object_key": artifact.object_key.as_str(),
                "size": artifact.size.bytes(),
                "sha256": artifact.checksum.as_str(),
                "verification": artifact.verification.as_str(),
            }),
        }
        .recorded(origin, artifact.created_at)
    }

    /// `artifact.verified` or `artifact.failed` (actor `system`): a check of the
    /// stored bytes of `artifact` (as it was before) decided `outcome`.
    pub fn artifact_checked(artifact: &Artifact, outcome: VerifyOutcome, at: Timestamp) -> Self {
        let event = match outcome.verification() {
            Verification::Verified => names::ARTIFACT_VERIFIED,
            _ => names::ARTIFACT_FAILED,
        };
        let stored_size = match outcome {
            VerifyOutcome::WrongSize { stored } => Some(stored),
            _ => None,
        };
        Change {
            event,
            customer_id: None,
            target: json!({
                "artifact_id": artifact.id.to_string(),
                "release_id": artifact.release_id.to_string(),
            }),
            before: json!({"verification": artifact.verification.as_str()}),
            after: json!({
                "verification": outcome.verification().as_str(),
                "outcome": outcome.as_str(),
                "stored_size": stored_size,
            }),
        }
        .recorded(&Origin::system(), at)
    }

    /// `download_token.issued`: which artifact, for whom, until when (never the token
    /// or its hash).
    pub fn download_token_issued(origin: &Origin, token: &DownloadToken) -> Self {
        Change {
            event: names::DOWNLOAD_TOKEN_ISSUED,
            customer_id: Some(token.customer_id),
            target: json!({
                "download_token_id": token.id.to_string(),
                "artifact_id": token.artifact_id.to_string(),
                "customer_id": token.customer_id.to_string(),
            }),
            before: Value::Null,
            after: token_summary(token),
        }
        .recorded(origin, token.created_at)
    }

    /// `download_token.refused`: a token request refused by a delivery rule, with its
    /// reason (`quota_exceeded`). Not a change, but audited like the refused resolves.
    pub fn download_token_refused(
        origin: &Origin,
        customer_id: CustomerId,
        artifact_id: ArtifactId,
        reason: &str,
        at: Timestamp,
    ) -> Self {
        let mut payload = origin.payload_fields();
        payload.insert("reason".into(), json!(reason));
        payload.insert("artifact_id".into(), json!(artifact_id.to_string()));
        Self {
            id: AuditEventId::generate(),
            customer_id: Some(customer_id),
            actor: origin.actor.name().to_owned(),
            event: names::DOWNLOAD_TOKEN_REFUSED.to_owned(),
            payload: Value::Object(payload),
            created_at: at,
        }
    }

    /// `product.policy_set`: the product's own policy as set.
    pub fn product_policy_set(origin: &Origin, policy: &ProductPolicy) -> Self {
        Change {
            event: names::PRODUCT_POLICY_SET,
            customer_id: None,
            target: json!({"product": policy.product.as_str()}),
            before: Value::Null,
            after: json!({"immutable_releases": policy.immutable_releases}),
        }
        .recorded(origin, policy.updated_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customer::CustomerName;

    fn customer(suspended_at: Option<i64>) -> Customer {
        Customer {
            id: crate::CustomerId::generate(),
            name: CustomerName::parse("Acme").unwrap_or_else(|e| panic!("{e}")),
            plan: None,
            created_at: Timestamp::from_unix_seconds(1),
            suspended_at: suspended_at.map(Timestamp::from_unix_seconds),
        }
    }

    fn names_of(before: Option<i64>, after: Option<i64>) -> Vec<String> {
        let before = customer(before);
        let after = Customer {
            suspended_at: after.map(Timestamp::from_unix_seconds),
            ..before.clone()
        };
        AuditEvent::customer_changes(
            &Origin::admin_key(),
            &before,
            &after,
            Timestamp::from_unix_seconds(9),
        )
        .into_iter()
        .map(|e| e.event)
        .collect()
    }

    #[test]
    fn every_move_of_the_suspension_is_an_event_and_no_move_is_none() {
        assert_eq!(names_of(None, Some(5)), ["customer.suspended"]);
        assert_eq!(
            names_of(Some(5), Some(7)),
            ["customer.suspended"],
            "suspended again"
        );
        assert_eq!(names_of(Some(5), None), ["customer.unsuspended"]);
        assert!(names_of(Some(5), Some(5)).is_empty());
        assert!(names_of(None, None).is_empty());
    }
}
