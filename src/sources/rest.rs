//! The little REST plumbing the venue modules share: one GET that returns the body text, and
//! the error type every instrument fetcher returns.
//!
//! Parsing stays in the venue modules as pure functions of the body; only [`get_text`] does I/O.

use super::FrameError;

/// Why a REST fetch failed. The variant tells the caller what to do: retry later on
/// [`FetchError::Http`] and 5xx [`FetchError::Status`], fix the configuration on 4xx, and treat
/// [`FetchError::Body`] as the venue having changed its format (or refused the request).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The request failed before a complete response arrived (DNS, connect, TLS, timeout,
    /// a body cut short).
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The venue answered with a status other than success.
    #[error("{url} answered {status}")]
    Status {
        /// The URL that was requested.
        url: String,
        /// The status the venue answered with.
        status: reqwest::StatusCode,
    },
    /// The body is not the documented shape, or it carries the venue's own error code.
    #[error("unusable response body: {0}")]
    Body(#[from] FrameError),
}

/// GETs `url` and returns the body as text, or [`FetchError::Status`] when the status is not
/// a success.
pub async fn get_text(client: &reqwest::Client, url: &str) -> Result<String, FetchError> {
    let response = client.get(url).send().await?;
    let status = response.status();
    if !status.is_success() {
        return Err(FetchError::Status {
            url: url.to_owned(),
            status,
        });
    }
    Ok(response.text().await?)
}
