//! The local AWS endpoint and test credentials.

use aws_config::{BehaviorVersion, Region, SdkConfig};

pub const REGION: &str = "us-east-1";

/// moto's URL from `AWS_ENDPOINT_URL`, which `scripts/test.sh` and `scripts/local-stack.sh` set
/// after starting moto.
pub fn endpoint() -> anyhow::Result<String> {
    std::env::var("AWS_ENDPOINT_URL").map_err(|_| {
        anyhow::anyhow!(
            "AWS_ENDPOINT_URL is not set: run the tests with scripts/test.sh, which starts moto_server and sets it"
        )
    })
}

/// SDK config for moto. The SDK reads `AWS_ENDPOINT_URL` itself; credentials are moto's test ones.
pub async fn sdk_config() -> anyhow::Result<SdkConfig> {
    let endpoint = endpoint()?;
    Ok(aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .test_credentials()
        .load()
        .await)
}
