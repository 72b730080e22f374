//! Bounded retry for storage calls made while a client waits (webhook-ingest answers
//! WooCommerce within a few seconds, so retries share one small time budget).

use std::future::Future;
use std::time::Duration;

use crate::error::StorageError;

#[derive(Debug, Clone, Copy)]
pub struct RetryBudget {
    /// Total time for all attempts and the pauses between them.
    pub total: Duration,
    pub first_backoff: Duration,
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget { total: Duration::from_secs(3), first_backoff: Duration::from_millis(50) }
    }
}

/// Runs `op` until it succeeds, fails permanently, or the budget is spent. Each attempt is cut
/// off at the remaining budget, so a hung call cannot hold the request past it.
pub async fn with_budget<T, F, Fut>(budget: RetryBudget, op_name: &'static str, mut op: F) -> Result<T, StorageError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StorageError>>,
{
    let start = tokio::time::Instant::now();
    let deadline = start + budget.total;
    let mut backoff = budget.first_backoff;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let result = match tokio::time::timeout(remaining, op()).await {
            Ok(result) => result,
            Err(_) => Err(StorageError::transient(op_name, format!("no answer within the {:?} budget", budget.total))),
        };
        match result {
            Ok(v) => return Ok(v),
            Err(e) if !e.is_retryable() => return Err(e),
            Err(e) => {
                let now = tokio::time::Instant::now();
                if now + backoff >= deadline {
                    tracing::warn!(op = op_name, attempt, "storage retry budget spent");
                    return Err(e);
                }
                tracing::warn!(op = op_name, attempt, error = %crate::error::chain(&e), "transient storage failure, retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(800));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn retries_transient_failures_until_success() {
        let calls = AtomicU32::new(0);
        let out = with_budget(RetryBudget::default(), "op", || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                Err(StorageError::transient("op", "throttled"))
            } else {
                Ok(42)
            }
        })
        .await;
        assert_eq!(out.unwrap(), 42);
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn stops_at_once_on_permanent_failure() {
        let calls = AtomicU32::new(0);
        let out: Result<(), _> = with_budget(RetryBudget::default(), "op", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(StorageError::permanent("op", "access denied"))
        })
        .await;
        assert!(out.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_within_the_budget() {
        let start = tokio::time::Instant::now();
        let out: Result<(), _> = with_budget(RetryBudget::default(), "op", || async {
            tokio::time::sleep(Duration::from_millis(700)).await;
            Err(StorageError::transient("op", "503"))
        })
        .await;
        assert!(out.unwrap_err().is_retryable());
        assert!(start.elapsed() <= Duration::from_secs(3), "took {:?}", start.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_call_is_cut_off_at_the_budget() {
        let start = tokio::time::Instant::now();
        let out: Result<(), _> = with_budget(RetryBudget::default(), "op", || async {
            std::future::pending::<()>().await;
            Ok(())
        })
        .await;
        assert!(out.is_err());
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }
}
