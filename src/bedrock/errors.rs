//! What went wrong with a `ConverseStream`, as the error a Lambda response ends with:
//! `Function.Bedrock<ExceptionName>` (Lambda's error types are `Function.*`) and the message.

use aws_sdk_bedrockruntime::config::http::HttpResponse;
use aws_sdk_bedrockruntime::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::operation::converse_stream::ConverseStreamError;
use aws_sdk_bedrockruntime::types::error::ConverseStreamOutputError;
use aws_smithy_types::event_stream::RawMessage;

use crate::wire::{ErrorType, FunctionError};

/// `Function.Bedrock<name>` with `message`.
fn bedrock_error(name: &str, message: &str) -> FunctionError {
    let error_type = ErrorType::new(format!("Function.Bedrock{name}"));
    FunctionError::new(error_type.unwrap_or(ErrorType::STREAM_ERROR), message)
}

/// A failed `recv`: the exception Bedrock sent inside the stream, or `StreamError` when the
/// stream itself broke.
pub(super) fn stream_error(
    error: SdkError<ConverseStreamOutputError, RawMessage>,
) -> FunctionError {
    match error {
        SdkError::ServiceError(failure) => {
            let exception = failure.into_err();
            let message = exception.message().unwrap_or_default().to_owned();
            bedrock_error(&exception_name(&exception), &message)
        }
        other => bedrock_error("StreamError", &DisplayErrorContext(&other).to_string()),
    }
}

/// A failed request: the error Bedrock answered with (`AccessDeniedException`...), or
/// `RequestError` when it could not be made.
pub(super) fn request_error(error: SdkError<ConverseStreamError, HttpResponse>) -> FunctionError {
    match error {
        SdkError::ServiceError(failure) => {
            let error = failure.into_err();
            let name = capitalised(error.code().unwrap_or("UnknownException"));
            bedrock_error(&name, error.message().unwrap_or_default())
        }
        other => bedrock_error("RequestError", &DisplayErrorContext(&other).to_string()),
    }
}

/// The exception's name as AWS documents it, capitalised (`ThrottlingException`).
fn exception_name(exception: &ConverseStreamOutputError) -> String {
    let known = match exception {
        ConverseStreamOutputError::ThrottlingException(_) => "ThrottlingException",
        ConverseStreamOutputError::ModelStreamErrorException(_) => "ModelStreamErrorException",
        ConverseStreamOutputError::ValidationException(_) => "ValidationException",
        ConverseStreamOutputError::InternalServerException(_) => "InternalServerException",
        ConverseStreamOutputError::ServiceUnavailableException(_) => "ServiceUnavailableException",
        // One this SDK does not model: its code.
        _ => return capitalised(exception.code().unwrap_or("UnknownException")),
    };
    known.to_owned()
}

/// `code` with its first letter upper-case (`throttlingException` -> `ThrottlingException`).
fn capitalised(code: &str) -> String {
    let mut chars = code.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_lambda_error_types() {
        assert_eq!(capitalised("throttlingException"), "ThrottlingException");
        let error = bedrock_error("AccessDeniedException", "no");
        assert_eq!(
            error.error_type().as_str(),
            "Function.BedrockAccessDeniedException"
        );
        let odd = bedrock_error("Not-a-name", "x");
        assert_eq!(
            odd.error_type(),
            &ErrorType::STREAM_ERROR,
            "an invalid name falls back"
        );
    }
}
