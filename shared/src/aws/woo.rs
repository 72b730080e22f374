//! WooCommerce's REST API over HTTPS with the store's consumer key and secret (Basic auth).

use std::time::Duration;

use async_trait::async_trait;
use secrecy::ExposeSecret;

use crate::ports::{WooApi, WooFetchError, WooKeys};

pub struct HttpWooApi {
    http: reqwest::Client,
}

impl HttpWooApi {
    pub fn new() -> Result<Self, reqwest::Error> {
        Ok(HttpWooApi {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .connect_timeout(Duration::from_secs(3))
                .build()?,
        })
    }
}

#[async_trait]
impl WooApi for HttpWooApi {
    async fn order(
        &self,
        site_url: &url::Url,
        keys: &WooKeys,
        order_id: u64,
    ) -> Result<Option<Vec<u8>>, WooFetchError> {
        let url = format!("{}/wp-json/wc/v3/orders/{order_id}", site_url.as_str().trim_end_matches('/'));
        let resp = self
            .http
            .get(url)
            .basic_auth(&keys.consumer_key, Some(keys.consumer_secret.expose_secret()))
            .send()
            .await
            .map_err(|e| WooFetchError::Transient(Box::new(e)))?;
        match resp.status().as_u16() {
            200 => Ok(Some(resp.bytes().await.map_err(|e| WooFetchError::Transient(Box::new(e)))?.to_vec())),
            404 => Ok(None),
            s @ (401 | 403) => Err(WooFetchError::Unauthorized(s)),
            s => Err(WooFetchError::Transient(format!("HTTP {s}").into())),
        }
    }

    async fn refunds(&self, site_url: &url::Url, keys: &WooKeys, order_id: u64) -> Result<Vec<u8>, WooFetchError> {
        let url = format!("{}/wp-json/wc/v3/orders/{order_id}/refunds", site_url.as_str().trim_end_matches('/'));
        let resp = self
            .http
            .get(url)
            .query(&[("per_page", "100")])
            .basic_auth(&keys.consumer_key, Some(keys.consumer_secret.expose_secret()))
            .send()
            .await
            .map_err(|e| WooFetchError::Transient(Box::new(e)))?;
        match resp.status().as_u16() {
            200 => Ok(resp.bytes().await.map_err(|e| WooFetchError::Transient(Box::new(e)))?.to_vec()),
            404 => Ok(b"[]".to_vec()),
            s @ (401 | 403) => Err(WooFetchError::Unauthorized(s)),
            s => Err(WooFetchError::Transient(format!("HTTP {s}").into())),
        }
    }
}
