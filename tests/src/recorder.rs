//! Records the fakes' Xero exchanges as JSON Lines in the format `../shared/tools/xero-contract-check`
//! reads: method, path, query, headers, body, status, response.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

pub struct Recorder {
    file: Option<Mutex<std::fs::File>>,
}

impl Recorder {
    /// Appends to `$XERO_TRAFFIC_DIR/<name>-<pid>.jsonl` when that variable is set (scripts/test.sh
    /// sets it). One file per process, so parallel test binaries never interleave their lines.
    pub fn from_env(name: &str) -> Self {
        let file = std::env::var("XERO_TRAFFIC_DIR").ok().and_then(|dir| {
            let path = PathBuf::from(dir).join(format!("{name}-{}.jsonl", std::process::id()));
            std::fs::OpenOptions::new().create(true).append(true).open(path).ok().map(Mutex::new)
        });
        Recorder { file }
    }

    pub fn disabled() -> Self {
        Recorder { file: None }
    }

    pub fn record(
        &self,
        method: &str,
        path: &str,
        query: &str,
        body: Option<&serde_json::Value>,
        status: u16,
        response: Option<&serde_json::Value>,
    ) {
        let Some(file) = &self.file else { return };
        let line = serde_json::json!({
            "method": method, "path": path, "query": query, "body": body, "status": status, "response": response,
        });
        if let Ok(mut f) = file.lock() {
            // One write per record.
            let _ = f.write_all(format!("{line}\n").as_bytes());
        }
    }
}
