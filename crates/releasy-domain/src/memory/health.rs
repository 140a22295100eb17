use async_trait::async_trait;

use crate::ports::{HealthProbe, RepoError};

/// A probe that always answers.
#[derive(Debug, Default, Clone, Copy)]
pub struct AlwaysHealthy;

#[async_trait]
impl HealthProbe for AlwaysHealthy {
    async fn ping(&self) -> Result<(), RepoError> {
        Ok(())
    }
}
