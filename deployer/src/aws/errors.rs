//! AWS errors as one line a person can act on, instead of a nested dump. The error code stays
//! readable (`code_of`) so waits and retries can decide on it.

use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// A failed AWS call: the operation, AWS's error code (empty when the call never got an answer)
/// and message, and the one line shown to people.
#[derive(Debug, thiserror::Error)]
#[error("{operation}: {line}")]
pub struct AwsError {
    pub operation: String,
    pub code: String,
    pub message: String,
    line: String,
}

#[cfg(test)]
impl AwsError {
    pub fn new(operation: &str, code: &str, message: &str) -> Self {
        Self {
            operation: operation.to_owned(),
            code: code.to_owned(),
            message: message.to_owned(),
            line: format!("{code}: {message}"),
        }
    }
}

/// The AWS error code anywhere in `error`'s chain.
pub fn code_of(error: &anyhow::Error) -> Option<&AwsError> {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<AwsError>())
}

/// The call's answer, or None when AWS refused it with one of `codes` (a refusal the caller
/// expects, such as "not found"); any other error explained.
pub fn none_on<T, E, R>(
    codes: &[&str],
    operation: &str,
    answer: Result<T, SdkError<E, R>>,
) -> anyhow::Result<Option<T>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match answer {
        Ok(answer) => Ok(Some(answer)),
        Err(error) if error.code().is_some_and(|code| codes.contains(&code)) => Ok(None),
        Err(error) => Err(explain(operation, error)),
    }
}

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
    anyhow::Error::new(AwsError {
        operation: operation.to_owned(),
        code,
        message,
        line,
    })
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::error::ErrorMetadata;
    use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsError;

    use super::*;

    type Answer = Result<i32, SdkError<DescribeVpcsError, ()>>;

    fn refused(code: &str) -> Answer {
        let metadata = ErrorMetadata::builder().code(code).message("no").build();
        Err(SdkError::service_error(
            DescribeVpcsError::generic(metadata),
            (),
        ))
    }

    #[test]
    fn an_expected_refusal_is_none_and_any_other_is_explained() {
        let expected = ["InvalidVpcID.NotFound", "Gone"];
        assert_eq!(
            none_on(&expected, "DescribeVpcs", Answer::Ok(7)).expect("answer"),
            Some(7)
        );
        assert!(
            none_on(&expected, "DescribeVpcs", refused("Gone"))
                .expect("expected")
                .is_none()
        );
        let error =
            none_on(&expected, "DescribeVpcs", refused("AccessDenied")).expect_err("not expected");
        let explained = code_of(&error).expect("an AWS error");
        assert_eq!(explained.operation, "DescribeVpcs");
        assert_eq!(explained.code, "AccessDenied");
    }
}
