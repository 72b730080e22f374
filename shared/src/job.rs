//! The sync job that webhook-ingest queues and xero-sync consumes.

use serde::{Deserialize, Serialize};

use crate::ids::{OrderId, StoreId};

pub const JOB_VERSION: u32 = 1;

/// Where an oversized body was parked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BodyRef {
    pub bucket: String,
    pub key: String,
    pub size: usize,
    pub sha256: String,
}

/// One "order X changed" event. The body is kept raw (exactly as signed) so the consumer can
/// re-verify or re-parse it; it travels inline unless that would exceed the queue's message limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncJob {
    /// Format version, so the format can evolve while old messages are still queued.
    pub v: u32,
    pub store_id: StoreId,
    pub topic: String,
    pub order_id: OrderId,
    /// The order's `date_modified_gmt` (UTC, no offset) when the body has one; `order.deleted` has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_gmt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<String>,
    /// RFC 3339, when webhook-ingest received the delivery.
    pub received_at: String,
    pub body_sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_ref: Option<BodyRef>,
}

#[derive(Debug, thiserror::Error)]
pub enum JobParseError {
    #[error("job is not valid JSON of the expected shape")]
    Json(#[from] serde_json::Error),
    #[error("job format version {0} is newer than this consumer understands")]
    UnknownVersion(u32),
    #[error("job has neither an inline body nor a body reference")]
    NoBody,
}

impl SyncJob {
    pub fn to_json(&self) -> String {
        // Serialising plain strings, integers and options cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn parse(text: &str) -> Result<Self, JobParseError> {
        let job: SyncJob = serde_json::from_str(text)?;
        if job.v > JOB_VERSION {
            return Err(JobParseError::UnknownVersion(job.v));
        }
        if job.body.is_none() && job.body_ref.is_none() {
            return Err(JobParseError::NoBody);
        }
        Ok(job)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> SyncJob {
        SyncJob {
            v: JOB_VERSION,
            store_id: StoreId::parse("demo").unwrap(),
            topic: "order.updated".into(),
            order_id: OrderId::new(7).unwrap(),
            modified_gmt: Some("2026-11-27T10:00:00".into()),
            webhook_id: Some(3),
            delivery_id: None,
            received_at: "2026-11-27T10:00:01Z".into(),
            body_sha256: "ab".into(),
            body: Some("{\"id\":7}".into()),
            body_ref: None,
        }
    }

    #[test]
    fn round_trips_and_rejects_future_versions_and_bodiless_jobs() {
        let j = job();
        assert_eq!(SyncJob::parse(&j.to_json()).unwrap(), j);
        let future = SyncJob { v: JOB_VERSION + 1, ..job() };
        assert!(matches!(SyncJob::parse(&future.to_json()), Err(JobParseError::UnknownVersion(_))));
        let empty = SyncJob { body: None, ..job() };
        assert!(matches!(SyncJob::parse(&empty.to_json()), Err(JobParseError::NoBody)));
        assert!(matches!(SyncJob::parse("nope"), Err(JobParseError::Json(_))));
    }
}
