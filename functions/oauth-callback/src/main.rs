//! oauth-callback: connects a store to its Xero organisation (authorization code + PKCE).
//! Wiring only; the logic is `wooxero_shared::connect`.

use lambda_http::{run, service_fn, Error};
use wooxero_shared::{aws, config, http::connect, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = config::ConnectConfig::from_env(&config::process_env())?;
    let sdk = aws::load_sdk_config().await;
    let clients = aws::AwsClients::new(&sdk, &config.resources);
    let handler = connect::connect_http(&clients, &config)?;
    run(service_fn(|req| connect::handle_connect(&handler, req))).await
}
