use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;

use super::classify;
use crate::error::StorageError;
use crate::job::BodyRef;
use crate::ports::PayloadStore;
use crate::woo::webhook::sha256_hex;

pub struct S3PayloadStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3PayloadStore {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        S3PayloadStore { client, bucket: bucket.into() }
    }
}

#[async_trait]
impl PayloadStore for S3PayloadStore {
    async fn put(&self, key: &str, body: &[u8]) -> Result<BodyRef, StorageError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body.to_vec()))
            .send()
            .await
            .map_err(|e| classify("s3.put_object", e))?;
        Ok(BodyRef { bucket: self.bucket.clone(), key: key.to_owned(), size: body.len(), sha256: sha256_hex(body) })
    }

    async fn get(&self, body_ref: &BodyRef) -> Result<Vec<u8>, StorageError> {
        let out = self
            .client
            .get_object()
            .bucket(&body_ref.bucket)
            .key(&body_ref.key)
            .send()
            .await
            .map_err(|e| classify("s3.get_object", e))?;
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| StorageError::transient("s3.get_object.body", e))?
            .into_bytes()
            .to_vec();
        if sha256_hex(&bytes) != body_ref.sha256 {
            return Err(StorageError::permanent(
                "s3.get_object",
                format!("object {} does not match its hash", body_ref.key),
            ));
        }
        Ok(bytes)
    }
}
