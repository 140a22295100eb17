//! The diesel schema, shared by both backends (see `migrations/`).
#![allow(missing_docs, reason = "the table! macro generates the column modules")]

diesel::table! {
    customers (id) {
        id -> Text,
        name -> Text,
        plan -> Nullable<Text>,
        created_at -> BigInt,
        suspended_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        customer_id -> Text,
        name -> Nullable<Text>,
        key_type -> Text,
        scopes -> Text,
        key_hash -> Text,
        key_lookup -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        last_used_at -> Nullable<BigInt>,
        last_used_address -> Nullable<Text>,
        allowed_cidrs -> Nullable<Text>,
    }
}

diesel::table! {
    releases (id) {
        id -> Text,
        product -> Text,
        version -> Text,
        status -> Text,
        created_at -> BigInt,
        published_at -> Nullable<BigInt>,
        channel -> Text,
        version_order -> Text,
        notes -> Nullable<Text>,
        metadata -> Nullable<Text>,
        yanked_at -> Nullable<BigInt>,
        yank_reason -> Nullable<Text>,
        yank_blocks_downloads -> Integer,
        sealed_at -> Nullable<BigInt>,
        first_published_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    product_policies (product) {
        product -> Text,
        immutable_releases -> Integer,
        updated_at -> BigInt,
    }
}

diesel::table! {
    artifacts (id) {
        id -> Text,
        release_id -> Text,
        object_key -> Text,
        checksum -> Text,
        size -> BigInt,
        platform -> Text,
        created_at -> BigInt,
        verification -> Text,
        verification_claimed_until -> Nullable<BigInt>,
        object_etag -> Nullable<Text>,
        object_version -> Nullable<Text>,
        os -> Nullable<Text>,
        arch -> Nullable<Text>,
        filetype -> Nullable<Text>,
    }
}

diesel::table! {
    artifact_uploads (artifact_id) {
        artifact_id -> Text,
        release_id -> Text,
        object_key -> Text,
        size -> Nullable<BigInt>,
        checksum -> Nullable<Text>,
        upload_id -> Nullable<Text>,
        part_size -> Nullable<BigInt>,
        part_count -> Nullable<Integer>,
        created_at -> BigInt,
        ended_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    entitlements (id) {
        id -> Text,
        customer_id -> Text,
        product -> Text,
        starts_at -> BigInt,
        ends_at -> Nullable<BigInt>,
        metadata -> Nullable<Text>,
        created_at -> BigInt,
        revision -> BigInt,
        channels -> Nullable<Text>,
        versions -> Nullable<Text>,
        perpetual_fallback -> Integer,
        quota_downloads -> Nullable<BigInt>,
        quota_bytes -> Nullable<BigInt>,
        quota_period -> Nullable<Text>,
    }
}

diesel::table! {
    download_quota_counts (entitlement_id, period, period_start) {
        entitlement_id -> Text,
        period -> Text,
        period_start -> BigInt,
        resets_at -> BigInt,
        downloads -> BigInt,
        bytes -> BigInt,
    }
}

diesel::table! {
    download_tokens (id) {
        id -> Text,
        token_hash -> Text,
        artifact_id -> Text,
        customer_id -> Text,
        purpose -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        allowed_cidrs -> Nullable<Text>,
        max_uses -> Nullable<Integer>,
        uses -> Integer,
        api_key_id -> Nullable<Text>,
    }
}

diesel::table! {
    download_ledger (id) {
        id -> Text,
        at -> BigInt,
        customer_id -> Text,
        api_key_id -> Nullable<Text>,
        artifact_id -> Text,
        release_id -> Text,
        product -> Text,
        version -> Text,
        platform -> Text,
        bytes -> BigInt,
        token_id -> Text,
        purpose -> Nullable<Text>,
        client_address -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        outcome -> Text,
    }
}

diesel::table! {
    download_product_customers (product, day, customer_id) {
        product -> Text,
        day -> BigInt,
        customer_id -> Text,
    }
}

diesel::table! {
    download_product_daily (product, day) {
        product -> Text,
        day -> BigInt,
        downloads -> BigInt,
        bytes -> BigInt,
        customers -> BigInt,
    }
}

diesel::table! {
    download_daily (product, day, artifact_id, customer_id) {
        product -> Text,
        day -> BigInt,
        artifact_id -> Text,
        customer_id -> Text,
        version -> Text,
        platform -> Text,
        downloads -> BigInt,
        bytes -> BigInt,
    }
}

diesel::table! {
    idempotency_keys (scope, idem_key) {
        scope -> Text,
        idem_key -> Text,
        fingerprint -> Text,
        state -> Text,
        response_status -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        customer_id -> Nullable<Text>,
        actor -> Text,
        event -> Text,
        payload -> Text,
        created_at -> BigInt,
        chain_position -> Nullable<BigInt>,
        chain_hash -> Nullable<Text>,
    }
}

diesel::table! {
    audit_chain (id) {
        id -> Integer,
        start_position -> BigInt,
        start_hash -> Text,
        head_position -> BigInt,
        head_hash -> Text,
    }
}

diesel::joinable!(api_keys -> customers (customer_id));
diesel::joinable!(artifacts -> releases (release_id));
diesel::joinable!(entitlements -> customers (customer_id));
diesel::joinable!(download_tokens -> artifacts (artifact_id));

diesel::table! {
    external_writes (id) {
        id -> Integer,
        epoch -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    artifact_uploads,
    download_product_customers,
    download_product_daily,
    download_quota_counts,
    product_policies,
    customers,
    api_keys,
    releases,
    artifacts,
    entitlements,
    download_tokens,
    idempotency_keys,
    audit_events,
    audit_chain,
);
