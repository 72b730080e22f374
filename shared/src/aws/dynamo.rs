//! The single DynamoDB table. Keys (see docs/architecture.md):
//! - store:  PK `STORE#{id}`, SK `META`; GSI1PK `STORES`, GSI1SK `{id}` lists stores without a scan.
//! - dedupe: PK `DEDUPE#{store}#{body_sha256}`, SK `-`, TTL attribute `expires_at`.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use super::classify;
use crate::clock::rfc3339;
use crate::error::StorageError;
use crate::ids::StoreId;
use crate::ports::{Claim, ConnectionUpdate, CreateError, Dedupe, LeaseLock, OneTimeTokens, StoreRepo};
use crate::store::{ConnectionStatus, Store, StoreStatus};

pub const TTL_ATTRIBUTE: &str = "expires_at";
pub const STORES_GSI: &str = "GSI1";

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn get_s<'a>(item: &'a Item, key: &str) -> Option<&'a str> {
    item.get(key).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn store_pk(id: &StoreId) -> String {
    format!("STORE#{id}")
}

fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

#[derive(Clone)]
pub struct DynamoTable {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoTable {
    pub(crate) fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.client
    }

    pub(crate) fn table_name(&self) -> &str {
        &self.table
    }

    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoTable { client, table: table.into() }
    }

    fn store_to_item(store: &Store) -> Item {
        let mut item = Item::new();
        item.insert("PK".into(), s(store_pk(&store.id)));
        item.insert("SK".into(), s("META"));
        item.insert("GSI1PK".into(), s("STORES"));
        item.insert("GSI1SK".into(), s(store.id.as_str()));
        item.insert("store_id".into(), s(store.id.as_str()));
        item.insert("site_url".into(), s(store.site_url.as_str()));
        item.insert("status".into(), s(store.status.as_str()));
        item.insert("connection".into(), s(store.connection.as_str()));
        item.insert("created_at".into(), s(rfc3339(store.created_at)));
        if let Some(t) = &store.tenant_id {
            item.insert("tenant_id".into(), s(t));
        }
        if let Some(t) = &store.tenant_name {
            item.insert("tenant_name".into(), s(t));
        }
        if let Some(t) = &store.connection_id {
            item.insert("connection_id".into(), s(t));
        }
        if let Some(t) = store.connected_at {
            item.insert("connected_at".into(), s(rfc3339(t)));
        }
        item
    }

    fn store_from_item(item: &Item) -> Result<Store, StorageError> {
        let bad = |field: &str| {
            StorageError::permanent("dynamodb.store_record", format!("store record has a missing or invalid {field}"))
        };
        let id = get_s(item, "store_id").and_then(|v| StoreId::parse(v).ok()).ok_or_else(|| bad("store_id"))?;
        Ok(Store {
            site_url: get_s(item, "site_url").and_then(|v| url::Url::parse(v).ok()).ok_or_else(|| bad("site_url"))?,
            status: get_s(item, "status").and_then(StoreStatus::parse).ok_or_else(|| bad("status"))?,
            connection: get_s(item, "connection")
                .and_then(ConnectionStatus::parse)
                .unwrap_or(ConnectionStatus::NotConnected),
            created_at: get_s(item, "created_at").and_then(parse_time).ok_or_else(|| bad("created_at"))?,
            tenant_id: get_s(item, "tenant_id").map(str::to_owned),
            tenant_name: get_s(item, "tenant_name").map(str::to_owned),
            connection_id: get_s(item, "connection_id").map(str::to_owned),
            connected_at: get_s(item, "connected_at").and_then(parse_time),
            id,
        })
    }
}

#[async_trait]
impl StoreRepo for DynamoTable {
    async fn get(&self, id: &StoreId) -> Result<Option<Store>, StorageError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", s(store_pk(id)))
            .key("SK", s("META"))
            .send()
            .await
            .map_err(|e| classify("dynamodb.get_item(store)", e))?;
        out.item.as_ref().map(Self::store_from_item).transpose()
    }

    async fn create(&self, store: &Store) -> Result<(), CreateError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::store_to_item(store)))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                Err(CreateError::AlreadyExists)
            }
            Err(e) => Err(classify("dynamodb.put_item(store)", e).into()),
        }
    }

    async fn list(&self) -> Result<Vec<Store>, StorageError> {
        let mut stores = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(STORES_GSI)
                .key_condition_expression("GSI1PK = :p")
                .expression_attribute_values(":p", s("STORES"))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("dynamodb.query(stores)", e))?;
            for item in out.items() {
                stores.push(Self::store_from_item(item)?);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        Ok(stores)
    }

    async fn set_status(&self, id: &StoreId, status: StoreStatus) -> Result<bool, StorageError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(store_pk(id)))
            .key("SK", s("META"))
            .update_expression("SET #status = :s")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":s", s(status.as_str()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(classify("dynamodb.update_item(store status)", e)),
        }
    }

    async fn set_connection(&self, id: &StoreId, update: &ConnectionUpdate) -> Result<bool, StorageError> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(store_pk(id)))
            .key("SK", s("META"))
            .condition_expression("attribute_exists(PK)")
            // CONNECTION is a DynamoDB reserved word.
            .expression_attribute_names("#conn", "connection")
            .expression_attribute_values(":c", s(update.status.as_str()));
        let expression = match &update.tenant {
            Some(t) => {
                let mut e = "SET #conn = :c, tenant_id = :t, connection_id = :cid, connected_at = :at".to_owned();
                req = req
                    .expression_attribute_values(":t", s(&t.tenant_id))
                    .expression_attribute_values(":cid", s(&t.connection_id))
                    .expression_attribute_values(":at", s(rfc3339(t.connected_at)));
                match &t.tenant_name {
                    Some(name) => {
                        e.push_str(", tenant_name = :n");
                        req = req.expression_attribute_values(":n", s(name));
                    }
                    None => e.push_str(" REMOVE tenant_name"),
                }
                e
            }
            None if update.status == ConnectionStatus::Disconnected => {
                "SET #conn = :c REMOVE tenant_id, tenant_name, connection_id".to_owned()
            }
            None => "SET #conn = :c".to_owned(),
        };
        match req.update_expression(expression).send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(classify("dynamodb.update_item(store connection)", e)),
        }
    }
}

fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Leases: PK `LEASE#{name}`, SK `-`, `holder`, `lease_until_ms`; TTL cleans up long-dead ones.
#[async_trait]
impl LeaseLock for DynamoTable {
    async fn try_acquire(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, StorageError> {
        let now = now_ms();
        let until = now + ttl.as_millis() as i64;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("PK", s(format!("LEASE#{name}")))
            .item("SK", s("-"))
            .item("holder", s(holder))
            .item("lease_until_ms", AttributeValue::N(until.to_string()))
            .item(TTL_ATTRIBUTE, AttributeValue::N((until / 1000 + 3600).to_string()))
            .condition_expression("attribute_not_exists(PK) OR lease_until_ms < :now")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(classify("dynamodb.put_item(lease)", e)),
        }
    }

    async fn release(&self, name: &str, holder: &str) -> Result<(), StorageError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(format!("LEASE#{name}")))
            .key("SK", s("-"))
            .condition_expression("holder = :h")
            .expression_attribute_values(":h", s(holder))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Expired and taken by someone else: theirs now.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(classify("dynamodb.delete_item(lease)", e)),
        }
    }
}

/// One-time records: PK `ONCE#{key}`, SK `-`, `data` (JSON), `expires_at`.
#[async_trait]
impl OneTimeTokens for DynamoTable {
    async fn put(&self, key: &str, value: &serde_json::Value, ttl: Duration) -> Result<(), StorageError> {
        let expires = OffsetDateTime::now_utc().unix_timestamp() + ttl.as_secs() as i64;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("PK", s(format!("ONCE#{key}")))
            .item("SK", s("-"))
            .item("data", s(value.to_string()))
            .item(TTL_ATTRIBUTE, AttributeValue::N(expires.to_string()))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(|e| classify("dynamodb.put_item(one-time)", e))?;
        Ok(())
    }

    async fn consume(&self, key: &str) -> Result<Option<serde_json::Value>, StorageError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        // A conditional delete: of two concurrent consumers exactly one gets the record.
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(format!("ONCE#{key}")))
            .key("SK", s("-"))
            .condition_expression("attribute_exists(PK) AND #exp > :now")
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                let data = out.attributes.as_ref().and_then(|a| get_s(a, "data")).unwrap_or("null");
                Ok(serde_json::from_str(data).ok())
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(None),
            Err(e) => Err(classify("dynamodb.delete_item(one-time)", e)),
        }
    }
}

#[async_trait]
impl Dedupe for DynamoTable {
    async fn claim(&self, key: &str, ttl: Duration) -> Result<Claim, StorageError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let expires = now + ttl.as_secs() as i64;
        // TTL deletion lags by up to days, so an expired record still present counts as absent.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("PK", s(format!("DEDUPE#{key}")))
            .item("SK", s("-"))
            .item(TTL_ATTRIBUTE, AttributeValue::N(expires.to_string()))
            .condition_expression("attribute_not_exists(PK) OR #exp < :now")
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::New),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                Ok(Claim::Duplicate)
            }
            Err(e) => Err(classify("dynamodb.put_item(dedupe)", e)),
        }
    }

    async fn release(&self, key: &str) -> Result<(), StorageError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(format!("DEDUPE#{key}")))
            .key("SK", s("-"))
            .send()
            .await
            .map_err(|e| classify("dynamodb.delete_item(dedupe)", e))?;
        Ok(())
    }
}
