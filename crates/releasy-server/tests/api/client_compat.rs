//! Existing clients keep working: the published `releasy-client` 0.1.1, unchanged,
//! drives every endpoint of the foundation against the real server.

use releasy_client::{
    AdminCreateCustomerRequest, AdminCreateKeyRequest, AdminCustomerListQuery,
    AdminRevokeKeyRequest, AdminUpdateCustomerRequest, AuditEventListQuery, Auth, Client,
};

use crate::helpers::{ADMIN_KEY, Backend, TestApp};
use crate::on_both_backends;

async fn releasy_client_drives_the_foundation_endpoints(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let base_url = app.base_url.clone();
    // The client is blocking (ureq): keep it off the async test runtime.
    tokio::task::spawn_blocking(move || {
        let admin = Client::new(base_url, Auth::AdminKey(ADMIN_KEY.to_owned())).unwrap();
        assert_eq!(admin.live_check().unwrap().status, "ok");
        assert_eq!(admin.ready_check().unwrap().status, "ok");
        assert_eq!(admin.health_check().unwrap().status, "ok");
        assert!(admin.openapi_json().unwrap()["paths"]["/v1/admin/customers"].is_object());

        let request = AdminCreateCustomerRequest {
            name: "Acme".into(),
            plan: Some("core".into()),
        };
        let created = admin
            .admin_create_customer_with_idempotency(&request, Some("client-key-1"))
            .unwrap();
        let replayed = admin
            .admin_create_customer_with_idempotency(&request, Some("client-key-1"))
            .unwrap();
        assert_eq!(created, replayed);
        assert_eq!(created.plan.as_deref(), Some("core"));

        let fetched = admin.get_customer(&created.id).unwrap();
        assert_eq!(fetched.name, "Acme");
        let listed = admin
            .list_customers(&AdminCustomerListQuery {
                name: Some("acm".into()),
                limit: Some(10),
                ..Default::default()
            })
            .unwrap();
        assert_eq!((listed.limit, listed.offset), (10, 0));
        assert_eq!(listed.customers.len(), 1);

        let updated = admin
            .update_customer(
                &created.id,
                &AdminUpdateCustomerRequest {
                    name: Some("Acme Corp".into()),
                    plan: None,
                    suspended: None,
                },
            )
            .unwrap();
        assert_eq!(updated.name, "Acme Corp");

        let key = admin
            .admin_create_key(&AdminCreateKeyRequest {
                customer_id: created.id.clone(),
                expires_at: None,
                key_type: Some("ci".into()),
                name: Some("CI".into()),
                scopes: Some(vec!["keys:read".into(), "releases:read".into()]),
            })
            .unwrap();
        assert_eq!(key.scopes, ["releases:read", "keys:read"]);

        let customer = admin.with_auth(Auth::ApiKey(key.api_key.clone()));
        let introspection = customer.auth_introspect().unwrap();
        assert!(introspection.active);
        assert_eq!(introspection.api_key_id, key.api_key_id);
        assert_eq!(introspection.key_type, "ci");

        let events = admin
            .list_audit_events(&AuditEventListQuery {
                customer_id: Some(created.id.clone()),
                event: Some("api_key.auth".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(events.events.len(), 1);
        assert_eq!(
            events.events[0].payload.as_ref().unwrap()["outcome"],
            "accept"
        );

        let revoked = admin
            .admin_revoke_key(&AdminRevokeKeyRequest {
                api_key_id: key.api_key_id.clone(),
            })
            .unwrap();
        assert_eq!(revoked.api_key_id, key.api_key_id);
        let err = customer.auth_introspect().unwrap_err();
        assert_eq!(err.status(), Some(401));
        assert_eq!(err.api_error().unwrap().error.code, "unauthorized");

        let missing = admin
            .get_customer(&uuid::Uuid::new_v4().to_string())
            .unwrap_err();
        assert_eq!(missing.status(), Some(404));
        assert_eq!(missing.api_error().unwrap().error.code, "not_found");
    })
    .await
    .unwrap();
}

on_both_backends!(releasy_client_drives_the_foundation_endpoints);
