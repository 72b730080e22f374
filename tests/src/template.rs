//! Reads `template.yaml`, so the local stack is built from the same definitions as AWS's.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use serde_yaml::Value;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

pub struct Template {
    pub doc: Value,
}

impl Template {
    pub fn load() -> anyhow::Result<Self> {
        let path = repo_root().join("template.yaml");
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        Ok(Template { doc: serde_yaml::from_str(&text).context("parsing template.yaml")? })
    }

    pub fn resource(&self, logical_id: &str) -> anyhow::Result<&Value> {
        self.doc
            .get("Resources")
            .and_then(|r| r.get(logical_id))
            .ok_or_else(|| anyhow!("template.yaml has no resource {logical_id}"))
    }

    pub fn properties(&self, logical_id: &str) -> anyhow::Result<&Value> {
        self.resource(logical_id)?.get("Properties").ok_or_else(|| anyhow!("{logical_id} has no Properties"))
    }

    pub fn globals(&self) -> Option<&Value> {
        self.doc.get("Globals").and_then(|g| g.get("Function"))
    }

    /// A function's property, falling back to the Globals section.
    pub fn function_property(&self, logical_id: &str, key: &str) -> Option<&Value> {
        self.properties(logical_id).ok().and_then(|p| p.get(key)).or_else(|| self.globals().and_then(|g| g.get(key)))
    }

    pub fn sqs_event(&self) -> anyhow::Result<&Value> {
        self.properties("XeroSyncFunction")?
            .get("Events")
            .and_then(|e| e.get("SyncJobs"))
            .and_then(|e| e.get("Properties"))
            .ok_or_else(|| anyhow!("XeroSyncFunction has no SyncJobs SQS event"))
    }
}

pub fn as_u64(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

pub fn as_str(v: Option<&Value>) -> Option<&str> {
    v?.as_str()
}
