//! `ApiKeyRepository` on diesel.

macro_rules! api_key_repository {
    ($store:ty, $backend:ty) => {
        #[async_trait::async_trait]
        impl releasy_domain::ports::ApiKeyRepository for $store {
            async fn insert(
                &self,
                key: &releasy_domain::api_key::ApiKey,
            ) -> Result<(), releasy_domain::ports::RepoError> {
                use diesel_async::RunQueryDsl;
                let mut conn = self.conn().await?;
                diesel::insert_into(crate::schema::api_keys::table)
                    .values(crate::rows::ApiKeyRow::from(key))
                    .execute(&mut *conn)
                    .await
                    .map_err(crate::error::query_error)?;
                Ok(())
            }

            async fn get(
                &self,
                id: releasy_domain::ApiKeyId,
            ) -> Result<Option<releasy_domain::api_key::ApiKey>, releasy_domain::ports::RepoError> {
                use crate::schema::api_keys::dsl;
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                let mut conn = self.conn().await?;
                let row: Option<crate::rows::ApiKeyRow> = dsl::api_keys
                    .find(id.to_string())
                    .select(crate::rows::ApiKeyRow::as_select())
                    .first(&mut *conn)
                    .await
                    .optional()
                    .map_err(crate::error::query_error)?;
                row.map(TryInto::try_into).transpose()
            }

            async fn find_auth_candidates(
                &self,
                lookup: &releasy_domain::api_key::KeyLookup,
                legacy_digest: &str,
            ) -> Result<Vec<releasy_domain::api_key::AuthCandidate>, releasy_domain::ports::RepoError> {
                use crate::schema::{api_keys, customers};
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                let mut conn = self.conn().await?;
                let rows: Vec<crate::rows::CandidateRow> = api_keys::table
                    .inner_join(customers::table)
                    .filter(
                        api_keys::key_lookup
                            .eq(lookup.as_str())
                            .or(api_keys::key_hash.eq(legacy_digest)),
                    )
                    .select((
                        api_keys::id,
                        api_keys::customer_id,
                        api_keys::key_hash,
                        api_keys::scopes,
                        api_keys::key_type,
                        api_keys::expires_at,
                        api_keys::revoked_at,
                        api_keys::last_used_at,
                        customers::suspended_at,
                    ))
                    .load(&mut *conn)
                    .await
                    .map_err(crate::error::query_error)?;
                rows.into_iter().map(crate::rows::candidate).collect()
            }

            async fn upgrade_hash(
                &self,
                id: releasy_domain::ApiKeyId,
                hash: &releasy_domain::api_key::StoredKeyHash,
                lookup: &releasy_domain::api_key::KeyLookup,
            ) -> Result<(), releasy_domain::ports::RepoError> {
                use crate::schema::api_keys::dsl;
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                let mut conn = self.conn().await?;
                diesel::update(dsl::api_keys.find(id.to_string()))
                    .set((dsl::key_hash.eq(hash.as_str()), dsl::key_lookup.eq(lookup.as_str())))
                    .execute(&mut *conn)
                    .await
                    .map_err(crate::error::query_error)?;
                Ok(())
            }

            async fn touch_last_used(
                &self,
                id: releasy_domain::ApiKeyId,
                at: releasy_domain::Timestamp,
            ) -> Result<(), releasy_domain::ports::RepoError> {
                use crate::schema::api_keys::dsl;
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                let mut conn = self.conn().await?;
                diesel::update(dsl::api_keys.find(id.to_string()))
                    .set(dsl::last_used_at.eq(at.unix_seconds()))
                    .execute(&mut *conn)
                    .await
                    .map_err(crate::error::query_error)?;
                Ok(())
            }

            async fn revoke(
                &self,
                id: releasy_domain::ApiKeyId,
                at: releasy_domain::Timestamp,
            ) -> Result<bool, releasy_domain::ports::RepoError> {
                use crate::schema::api_keys::dsl;
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                let mut conn = self.conn().await?;
                // COALESCE keeps the first revocation time when revoked twice.
                let matched = diesel::update(dsl::api_keys.find(id.to_string()))
                    .set(dsl::revoked_at.eq(diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>>(
                        &format!("COALESCE(revoked_at, {})", at.unix_seconds()),
                    )))
                    .execute(&mut *conn)
                    .await
                    .map_err(crate::error::query_error)?;
                Ok(matched > 0)
            }
        }
    };
}
