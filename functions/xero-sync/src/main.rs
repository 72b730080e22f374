//! xero-sync: consumes sync jobs from SQS and converges each order's Xero documents. Wiring
//! only; the logic is `wooxero_shared::sync`.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use wooxero_shared::{aws, config, sync, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = config::SyncConfig::from_env(&config::process_env())?;
    let sdk = aws::load_sdk_config().await;
    let clients = aws::AwsClients::new(&sdk, &config.resources);
    let (deps, queue) = sync::wiring::sync_deps(&clients, &config)?;
    run(service_fn(|event: LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| {
        let (deps, queue) = (&deps, &queue);
        async move { Ok::<_, Error>(sync::handle_batch(deps, queue, event.payload).await) }
    }))
    .await
}
