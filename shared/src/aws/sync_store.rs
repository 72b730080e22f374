//! DynamoDB items of the sync: order state (`STORE#{id}` / `ORDER#{order_id}`, listed per status
//! through GSI1 `STORE#{id}#STATE#{status}`), lookups (`STORE#{id}` / `CACHE#{key}`) and the
//! mapping (`STORE#{id}` / `MAPPING`).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use super::classify;
use super::dynamo::{DynamoTable, TTL_ATTRIBUTE};
use crate::error::StorageError;
use crate::ids::{OrderId, StoreId};
use crate::mapping::Mapping;
use crate::ports::{LookupCache, MappingRepo, OrderState, OrderStateRepo, SyncStatus};

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn order_sk(order: OrderId) -> String {
    format!("ORDER#{:020}", order.get())
}

#[async_trait]
impl OrderStateRepo for DynamoTable {
    async fn get(&self, store: &StoreId, order: OrderId) -> Result<Option<OrderState>, StorageError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table_name())
            .key("PK", s(format!("STORE#{store}")))
            .key("SK", s(order_sk(order)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("dynamodb.get_item(order state)", e))?;
        let Some(item) = out.item else { return Ok(None) };
        let doc = item.get("doc").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        let mut state: OrderState = serde_json::from_str(&doc)
            .map_err(|e| StorageError::permanent("dynamodb.order_state", format!("unreadable order state: {e}")))?;
        state.rev = item.get("rev").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0);
        Ok(Some(state))
    }

    async fn put(&self, state: &OrderState) -> Result<bool, StorageError> {
        let doc = serde_json::to_string(state).map_err(|e| StorageError::permanent("dynamodb.order_state", e))?;
        let mut req = self
            .client()
            .put_item()
            .table_name(self.table_name())
            .item("PK", s(format!("STORE#{}", state.store_id)))
            .item("SK", s(order_sk(state.order_id)))
            .item("GSI1PK", s(format!("STORE#{}#STATE#{}", state.store_id, state.status.as_str())))
            .item("GSI1SK", s(order_sk(state.order_id)))
            .item("doc", s(doc))
            .item("rev", AttributeValue::N((state.rev + 1).to_string()));
        req = if state.rev == 0 {
            req.condition_expression("attribute_not_exists(PK)")
        } else {
            req.condition_expression("rev = :rev")
                .expression_attribute_values(":rev", AttributeValue::N(state.rev.to_string()))
        };
        match req.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(classify("dynamodb.put_item(order state)", e)),
        }
    }

    async fn list_by_status(&self, store: &StoreId, status: SyncStatus) -> Result<Vec<OrderState>, StorageError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client()
                .query()
                .table_name(self.table_name())
                .index_name(super::dynamo::STORES_GSI)
                .key_condition_expression("GSI1PK = :p")
                .expression_attribute_values(":p", s(format!("STORE#{store}#STATE#{}", status.as_str())))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("dynamodb.query(order states)", e))?;
            for item in page.items() {
                if let Some(doc) = item.get("doc").and_then(|v| v.as_s().ok()) {
                    if let Ok(mut st) = serde_json::from_str::<OrderState>(doc) {
                        st.rev = item.get("rev").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0);
                        out.push(st);
                    }
                }
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }
}

#[async_trait]
impl LookupCache for DynamoTable {
    async fn get(&self, store: &StoreId, key: &str) -> Result<Option<String>, StorageError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table_name())
            .key("PK", s(format!("STORE#{store}")))
            .key("SK", s(format!("CACHE#{key}")))
            .send()
            .await
            .map_err(|e| classify("dynamodb.get_item(cache)", e))?;
        let Some(item) = out.item else { return Ok(None) };
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let expired = item
            .get(TTL_ATTRIBUTE)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<i64>().ok())
            .is_some_and(|t| t < now);
        Ok((!expired).then(|| item.get("value").and_then(|v| v.as_s().ok()).cloned()).flatten())
    }

    async fn put(&self, store: &StoreId, key: &str, value: &str, ttl: Option<Duration>) -> Result<(), StorageError> {
        let mut req = self
            .client()
            .put_item()
            .table_name(self.table_name())
            .item("PK", s(format!("STORE#{store}")))
            .item("SK", s(format!("CACHE#{key}")))
            .item("value", s(value));
        if let Some(ttl) = ttl {
            let at = OffsetDateTime::now_utc().unix_timestamp() + ttl.as_secs() as i64;
            req = req.item(TTL_ATTRIBUTE, AttributeValue::N(at.to_string()));
        }
        req.send().await.map_err(|e| classify("dynamodb.put_item(cache)", e))?;
        Ok(())
    }
}

#[async_trait]
impl MappingRepo for DynamoTable {
    async fn get(&self, store: &StoreId) -> Result<Option<Mapping>, StorageError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table_name())
            .key("PK", s(format!("STORE#{store}")))
            .key("SK", s("MAPPING"))
            .send()
            .await
            .map_err(|e| classify("dynamodb.get_item(mapping)", e))?;
        let Some(doc) = out.item.as_ref().and_then(|i| i.get("doc")).and_then(|v| v.as_s().ok()) else {
            return Ok(None);
        };
        Mapping::parse(doc).map(Some).map_err(|e| StorageError::permanent("dynamodb.mapping", e.to_string()))
    }

    async fn put(&self, store: &StoreId, mapping: &Mapping) -> Result<(), StorageError> {
        let doc = serde_json::to_string(mapping).map_err(|e| StorageError::permanent("dynamodb.mapping", e))?;
        self.client()
            .put_item()
            .table_name(self.table_name())
            .item("PK", s(format!("STORE#{store}")))
            .item("SK", s("MAPPING"))
            .item("doc", s(doc))
            .item("updated_at", s(crate::clock::rfc3339(OffsetDateTime::now_utc())))
            .send()
            .await
            .map_err(|e| classify("dynamodb.put_item(mapping)", e))?;
        Ok(())
    }
}
