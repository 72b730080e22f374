//! xero-sync: consumes sync jobs from SQS. Wiring only; the logic is `wooxero_shared::sync`.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use wooxero_shared::{sync, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    run(service_fn(|event: LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| async move {
        Ok::<_, Error>(sync::acknowledge_batch(event.payload).await)
    }))
    .await
}
