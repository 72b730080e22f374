//! Operator actions on queued work: re-queue what was parked (resume, reconnect) or failed (retry).

use crate::error::StorageError;
use crate::ids::{OrderId, StoreId};
use crate::ports::{OrderState, OrderStateRepo, QueueControl, SyncStatus};

/// Sends the kept job of each listed order back to the queue and forgets it. Returns how many.
async fn requeue(
    states: &dyn OrderStateRepo,
    queue: &dyn QueueControl,
    list: Vec<OrderState>,
) -> Result<usize, StorageError> {
    let mut n = 0;
    for mut state in list {
        let Some(job) = state.pending_job.take() else { continue };
        queue.requeue(&job).await?;
        state.events.push(format!(
            "{} re-queued by an operator action",
            crate::clock::rfc3339(time::OffsetDateTime::now_utc())
        ));
        // A conflicting write means a worker is on it already; the re-sent job converges anyway.
        let _ = states.put(&state).await?;
        n += 1;
    }
    Ok(n)
}

/// After `wooxero resume` or a reconnect: the store's parked jobs go back on the queue.
pub async fn requeue_parked(
    states: &dyn OrderStateRepo,
    queue: &dyn QueueControl,
    store: &StoreId,
) -> Result<usize, StorageError> {
    let parked = states.list_by_status(store, SyncStatus::Parked).await?;
    requeue(states, queue, parked).await
}

/// `wooxero retry`: one order, or every failed order of the store.
pub async fn retry(
    states: &dyn OrderStateRepo,
    queue: &dyn QueueControl,
    store: &StoreId,
    order: Option<OrderId>,
) -> Result<usize, StorageError> {
    let list = match order {
        Some(id) => states.get(store, id).await?.into_iter().collect(),
        None => states.list_by_status(store, SyncStatus::Failed).await?,
    };
    requeue(states, queue, list).await
}
