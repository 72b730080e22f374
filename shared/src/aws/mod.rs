//! AWS adapters for the ports. Clients are built once at cold start and cloned (cheap) into the
//! adapters. `AWS_ENDPOINT_URL` (honoured by the SDK itself) points them at moto locally.

pub mod dynamo;
pub mod s3;
pub mod secrets;
pub mod sqs;
pub mod sync_store;
pub mod woo;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::config::ResourceNames;
use crate::error::StorageError;

/// Loads the SDK config with bounded per-attempt timeouts, so a stale pooled connection after a
/// freeze/thaw fails fast and is retried instead of hanging the invocation.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(5))
                .build(),
        )
        .load()
        .await
}

/// Every AWS client the project uses, built once.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

impl AwsClients {
    pub fn new(config: &SdkConfig, names: &ResourceNames) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(config).force_path_style(names.s3_force_path_style).build();
        AwsClients {
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            secrets: aws_sdk_secretsmanager::Client::new(config),
        }
    }
}

const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestThrottled",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "TooManyRequestsException",
    "SlowDown",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "TransactionConflictException",
];

/// Sorts an SDK error into transient (retry) or permanent, keeping it as the cause.
pub(crate) fn classify<E>(op: &'static str, err: SdkError<E, HttpResponse>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            status >= 500 || status == 429 || service.err().code().is_some_and(|c| TRANSIENT_CODES.contains(&c))
        }
        _ => false,
    };
    let source = aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string();
    if transient {
        StorageError::transient(op, source)
    } else {
        StorageError::permanent(op, source)
    }
}
