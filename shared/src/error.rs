//! Errors shared by the ports. Every error answers one question: retry it, or not.

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failure of a storage port (DynamoDB, SQS, S3, Secrets Manager or their fakes).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Throttling, 5xx, timeouts, dropped connections: the same call may work a moment later.
    #[error("{op} failed transiently")]
    Transient {
        op: &'static str,
        #[source]
        source: BoxError,
    },
    /// Access denied, missing table, malformed record: retrying will not help.
    #[error("{op} failed")]
    Permanent {
        op: &'static str,
        #[source]
        source: BoxError,
    },
}

impl StorageError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, StorageError::Transient { .. })
    }

    pub fn permanent(op: &'static str, source: impl Into<BoxError>) -> Self {
        StorageError::Permanent { op, source: source.into() }
    }

    pub fn transient(op: &'static str, source: impl Into<BoxError>) -> Self {
        StorageError::Transient { op, source: source.into() }
    }
}

/// Formats an error with its whole cause chain on one line, for logs.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(cause) = cur {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        cur = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_prints_every_cause() {
        let io = std::io::Error::other("connection reset");
        let err = StorageError::transient("sqs.send_message", io);
        assert_eq!(chain(&err), "sqs.send_message failed transiently: connection reset");
        assert!(err.is_retryable());
        assert!(!StorageError::permanent("x", "denied").is_retryable());
    }
}
