//! Audit events and the vocabulary of key-authentication outcomes.

use std::net::IpAddr;

use serde_json::json;

use crate::audit::ChainLink;
use crate::download::DownloadGrant;
use crate::rate_limit::RefusedFailures;
use crate::{ApiKeyId, AuditEventId, CustomerId, Timestamp};

/// One recorded event. Payloads never contain secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// Its id.
    pub id: AuditEventId,
    /// The customer it concerns, when known.
    pub customer_id: Option<CustomerId>,
    /// Who acted, such as `api_key`.
    pub actor: String,
    /// What happened, such as `api_key.auth`.
    pub event: String,
    /// Details, a JSON value.
    pub payload: serde_json::Value,
    /// When it happened.
    pub created_at: Timestamp,
}

/// Whether an authentication attempt succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthOutcome {
    /// The key was accepted.
    Accept,
    /// The key was rejected.
    Reject,
}

/// Why a key was accepted or rejected, as the contract names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthReason {
    /// Accepted.
    Ok,
    /// No key was sent.
    MissingHeader,
    /// No stored key matches.
    NotFound,
    /// The owning customer is suspended.
    Suspended,
    /// The key was revoked.
    Revoked,
    /// The key has expired.
    Expired,
    /// The stored scopes (or key type) do not parse.
    InvalidScopes,
    /// The key's `allowed_cidrs` do not include the client's address.
    AddressNotAllowed,
    /// The current time could not be read (kept for compatibility with stored events).
    TimeUnavailable,
}

impl AuthReason {
    /// The contract's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuthReason::Ok => "ok",
            AuthReason::MissingHeader => "missing_header",
            AuthReason::NotFound => "not_found",
            AuthReason::Suspended => "suspended",
            AuthReason::Revoked => "revoked",
            AuthReason::Expired => "expired",
            AuthReason::InvalidScopes => "invalid_scopes",
            AuthReason::AddressNotAllowed => "address_not_allowed",
            AuthReason::TimeUnavailable => "time_unavailable",
        }
    }

    /// Accept for [`AuthReason::Ok`], reject for every other reason.
    pub const fn outcome(self) -> AuthOutcome {
        match self {
            AuthReason::Ok => AuthOutcome::Accept,
            _ => AuthOutcome::Reject,
        }
    }
}

impl AuditEvent {
    /// The actor of key-authentication events.
    pub const API_KEY_ACTOR: &'static str = "api_key";
    /// The event name of key-authentication events.
    pub const API_KEY_AUTH: &'static str = "api_key.auth";
    /// The actor of what the server finds by itself.
    pub const SYSTEM_ACTOR: &'static str = "system";
    /// The event name of a download refused because the stored object changed.
    pub const ARTIFACT_CHANGED: &'static str = "artifact.changed";
    /// The actor of download-token resolves: whoever holds the token.
    pub const DOWNLOAD_TOKEN_ACTOR: &'static str = "download_token";
    /// The event name of a download refused for its client's address.
    pub const DOWNLOAD_REFUSED: &'static str = "download.refused";
    /// The event name of the failed authentications refused from one address.
    pub const AUTH_THROTTLED: &'static str = "auth.throttled";
    /// The event name of a retention sweep that cut the chain's start.
    pub const AUDIT_PRUNED: &'static str = "audit.pruned";

    /// The record of a retention sweep: `pruned` events created before `cutoff` were
    /// removed, and the chain now starts after position `start` (payload
    /// `{pruned, cutoff, chain_start: {position, hash}}`).
    pub fn audit_pruned(pruned: u64, cutoff: Timestamp, start: ChainLink, at: Timestamp) -> Self {
        Self {
            id: AuditEventId::generate(),
            customer_id: None,
            actor: Self::SYSTEM_ACTOR.to_owned(),
            event: Self::AUDIT_PRUNED.to_owned(),
            payload: json!({
                "pruned": pruned,
                "cutoff": cutoff.unix_seconds(),
                "chain_start": {"position": start.position, "hash": start.hash.to_string()},
            }),
            created_at: at,
        }
    }

    /// The summary of the failed authentications (customer keys and operator
    /// credentials) refused from one address since the last summary: payload
    /// `{client_address, refused}`.
    pub fn auth_throttled(summary: &RefusedFailures, at: Timestamp) -> Self {
        Self {
            id: AuditEventId::generate(),
            customer_id: None,
            actor: Self::SYSTEM_ACTOR.to_owned(),
            event: Self::AUTH_THROTTLED.to_owned(),
            payload: json!({
                "client_address": summary.client_label(),
                "refused": summary.refused,
            }),
            created_at: at,
        }
    }

    /// Adds the address the request came from to the payload (`client_address`), when
    /// known.
    #[must_use]
    pub fn from_client(mut self, client: Option<IpAddr>) -> Self {
        if let (Some(client), Some(payload)) = (client, self.payload.as_object_mut()) {
            payload.insert("client_address".to_owned(), json!(client.to_string()));
        }
        self
    }

    /// The event recorded when a download finds the artifact's stored object other
    /// than the one registered (`stored_etag`: the tag found, `None` when the object is
    /// gone).
    pub fn artifact_changed(
        grant: &DownloadGrant,
        stored_etag: Option<&str>,
        at: Timestamp,
    ) -> Self {
        Self {
            id: AuditEventId::generate(),
            customer_id: Some(grant.token.customer_id),
            actor: Self::SYSTEM_ACTOR.to_owned(),
            event: Self::ARTIFACT_CHANGED.to_owned(),
            payload: json!({
                "artifact_id": grant.token.artifact_id.to_string(),
                "object_key": grant.object_key.as_str(),
                "registered_etag": grant.object_etag,
                "stored_etag": stored_etag,
                "download_token_id": grant.token.id.to_string(),
            }),
            created_at: at,
        }
    }

    /// The event recorded when a download token's resolve is refused for a reason of
    /// delivery control (an address outside its key's `allowed_cidrs`, every use of
    /// `max_uses` spent): payload `{reason, download_token_id, artifact_id}`, and the
    /// client address the caller adds.
    pub fn download_refused(grant: &DownloadGrant, reason: &str, at: Timestamp) -> Self {
        Self {
            id: AuditEventId::generate(),
            customer_id: Some(grant.token.customer_id),
            actor: Self::DOWNLOAD_TOKEN_ACTOR.to_owned(),
            event: Self::DOWNLOAD_REFUSED.to_owned(),
            payload: json!({
                "reason": reason,
                "download_token_id": grant.token.id.to_string(),
                "artifact_id": grant.token.artifact_id.to_string(),
            }),
            created_at: at,
        }
    }

    /// The event recorded for every customer-key authentication attempt.
    pub fn api_key_auth(
        reason: AuthReason,
        api_key_id: Option<ApiKeyId>,
        customer_id: Option<CustomerId>,
        at: Timestamp,
    ) -> Self {
        let outcome = match reason.outcome() {
            AuthOutcome::Accept => "accept",
            AuthOutcome::Reject => "reject",
        };
        Self {
            id: AuditEventId::generate(),
            customer_id,
            actor: Self::API_KEY_ACTOR.to_owned(),
            event: Self::API_KEY_AUTH.to_owned(),
            payload: json!({
                "outcome": outcome,
                "reason": reason.as_str(),
                "api_key_id": api_key_id.map(|id| id.to_string()),
            }),
            created_at: at,
        }
    }
}

/// Filters of an audit listing; every bound is inclusive, `None` means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Events about this customer.
    pub customer_id: Option<CustomerId>,
    /// Events by this actor.
    pub actor: Option<String>,
    /// Events with this name.
    pub event: Option<String>,
    /// Events at or after this time.
    pub created_from: Option<Timestamp>,
    /// Events at or before this time.
    pub created_to: Option<Timestamp>,
}

impl AuditFilter {
    /// Whether `event` passes this filter (the rule every repository implements).
    pub fn matches(&self, event: &AuditEvent) -> bool {
        self.customer_id
            .is_none_or(|id| event.customer_id == Some(id))
            && self.actor.as_ref().is_none_or(|a| &event.actor == a)
            && self.event.as_ref().is_none_or(|e| &event.event == e)
            && self.created_from.is_none_or(|t| event.created_at >= t)
            && self.created_to.is_none_or(|t| event.created_at <= t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_event_payload_has_outcome_reason_and_key_id() {
        let key = ApiKeyId::generate();
        let event = AuditEvent::api_key_auth(
            AuthReason::Revoked,
            Some(key),
            None,
            Timestamp::from_unix_seconds(5),
        );
        assert_eq!(event.actor, "api_key");
        assert_eq!(event.event, "api_key.auth");
        assert_eq!(
            event.payload,
            json!({"outcome": "reject", "reason": "revoked", "api_key_id": key.to_string()})
        );
    }

    #[test]
    fn the_client_address_joins_the_payload_when_known() {
        let at = Timestamp::from_unix_seconds(5);
        let known = AuditEvent::api_key_auth(AuthReason::NotFound, None, None, at)
            .from_client(Some("203.0.113.9".parse().unwrap()));
        assert_eq!(known.payload["client_address"], "203.0.113.9");
        let unknown =
            AuditEvent::api_key_auth(AuthReason::NotFound, None, None, at).from_client(None);
        assert!(unknown.payload.get("client_address").is_none());
    }

    #[test]
    fn a_throttle_summary_names_the_address_and_the_count() {
        let summary = RefusedFailures {
            client: "2001:db8::".parse().unwrap(),
            refused: 4_211,
        };
        let event = AuditEvent::auth_throttled(&summary, Timestamp::from_unix_seconds(9));
        assert_eq!(
            (event.actor.as_str(), event.event.as_str()),
            ("system", "auth.throttled")
        );
        assert_eq!(
            event.payload,
            json!({"client_address": "2001:db8::/48", "refused": 4_211})
        );
        assert_eq!(event.customer_id, None);
    }

    #[test]
    fn filter_bounds_are_inclusive() {
        let event =
            AuditEvent::api_key_auth(AuthReason::Ok, None, None, Timestamp::from_unix_seconds(10));
        let at = |s| Some(Timestamp::from_unix_seconds(s));
        assert!(
            AuditFilter {
                created_from: at(10),
                created_to: at(10),
                ..Default::default()
            }
            .matches(&event)
        );
        assert!(
            !AuditFilter {
                created_from: at(11),
                ..Default::default()
            }
            .matches(&event)
        );
        assert!(
            !AuditFilter {
                created_to: at(9),
                ..Default::default()
            }
            .matches(&event)
        );
        assert!(
            !AuditFilter {
                actor: Some("admin".into()),
                ..Default::default()
            }
            .matches(&event)
        );
    }
}
