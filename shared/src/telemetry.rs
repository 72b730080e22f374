//! Logging set-up shared by the functions: Lambda's JSON format when `AWS_LAMBDA_LOG_FORMAT=JSON`
//! (set by the template's LoggingConfig), level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`.

pub fn init() {
    lambda_http::tracing::init_default_subscriber();
}
