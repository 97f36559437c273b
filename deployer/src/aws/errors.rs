//! AWS errors as one line a person can act on, instead of a nested dump.

use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// `operation: what went wrong (what to do)`.
pub fn explain<E, R>(operation: &str, error: SdkError<E, R>) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = error.code().unwrap_or_default().to_owned();
    let message = error.message().unwrap_or_default().to_owned();
    let context = DisplayErrorContext(&error).to_string();
    let line = if context.contains("credential") && code.is_empty() {
        "no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws sso login`)".to_owned()
    } else if matches!(
        code.as_str(),
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "UnauthorizedAccess"
    ) {
        format!(
            "permission denied: {message} (the caller needs this permission; see README \"AWS permissions\")"
        )
    } else if matches!(
        code.as_str(),
        "ExpiredToken"
            | "ExpiredTokenException"
            | "InvalidClientTokenId"
            | "UnrecognizedClientException"
            | "AuthFailure"
    ) {
        format!("AWS rejected the credentials ({code}): {message}")
    } else if !code.is_empty() {
        format!("{code}: {message}")
    } else if matches!(
        error,
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)
    ) {
        format!("could not reach AWS: {context}")
    } else {
        context
    };
    anyhow::anyhow!("{operation}: {line}")
}
