//! A small TTL cache in front of the webhook-secret port. A warm function keeps a store's secret
//! for at most the TTL (5 minutes by default), so a rotated secret is picked up within it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use tokio::sync::RwLock;
use tokio::time::Instant;

use crate::error::StorageError;
use crate::ids::StoreId;
use crate::ports::WebhookSecrets;

pub const MAX_SECRET_CACHE_TTL: Duration = Duration::from_secs(300);

pub struct CachedWebhookSecrets {
    inner: Arc<dyn WebhookSecrets>,
    ttl: Duration,
    entries: RwLock<HashMap<StoreId, (Instant, Option<SecretString>)>>,
}

impl CachedWebhookSecrets {
    pub fn new(inner: Arc<dyn WebhookSecrets>, ttl: Duration) -> Self {
        CachedWebhookSecrets { inner, ttl: ttl.min(MAX_SECRET_CACHE_TTL), entries: RwLock::new(HashMap::new()) }
    }
}

#[async_trait]
impl WebhookSecrets for CachedWebhookSecrets {
    async fn webhook_secret(&self, id: &StoreId) -> Result<Option<SecretString>, StorageError> {
        if let Some((fetched, value)) = self.entries.read().await.get(id) {
            if fetched.elapsed() < self.ttl {
                return Ok(value.clone());
            }
        }
        let value = self.inner.webhook_secret(id).await?;
        self.entries.write().await.insert(id.clone(), (Instant::now(), value.clone()));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemorySecrets;
    use secrecy::ExposeSecret;

    #[tokio::test(start_paused = true)]
    async fn serves_from_cache_until_the_ttl_then_refetches() {
        let store = StoreId::parse("s1").unwrap();
        let backing = Arc::new(MemorySecrets::default());
        backing.put(&store, "old");
        let cache = CachedWebhookSecrets::new(backing.clone(), Duration::from_secs(300));
        let first = cache.webhook_secret(&store).await.unwrap().unwrap();
        assert_eq!(first.expose_secret(), "old");
        backing.put(&store, "new");
        tokio::time::advance(Duration::from_secs(299)).await;
        assert_eq!(cache.webhook_secret(&store).await.unwrap().unwrap().expose_secret(), "old");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(cache.webhook_secret(&store).await.unwrap().unwrap().expose_secret(), "new");
        assert_eq!(backing.reads(), 2);
    }

    #[test]
    fn ttl_is_capped_at_five_minutes() {
        let cache = CachedWebhookSecrets::new(Arc::new(MemorySecrets::default()), Duration::from_secs(3600));
        assert_eq!(cache.ttl, MAX_SECRET_CACHE_TTL);
    }
}
