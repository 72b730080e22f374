//! oauth-callback: connects a store to its Xero organisation. Wiring only.

use lambda_http::{run, service_fn, Error};
use wooxero_shared::{http::connect, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    run(service_fn(connect::not_yet_available)).await
}
