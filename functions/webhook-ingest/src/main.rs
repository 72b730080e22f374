//! webhook-ingest: verifies WooCommerce order webhooks and queues sync jobs. Wiring only; the
//! logic is `wooxero_shared::ingest`.

use lambda_http::{run, service_fn, Error};
use wooxero_shared::{aws, config, http::webhook, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = config::IngestConfig::from_env(&config::process_env())?;
    let sdk = aws::load_sdk_config().await;
    let clients = aws::AwsClients::new(&sdk, &config.resources);
    let deps = webhook::ingest_deps(&clients, &config);
    run(service_fn(|req| webhook::handle_webhook(&deps, req))).await
}
