//! Reading an answer from a server that may be hostile: never more than a limit, counted
//! as the bytes arrive (after any decompression), whatever `Content-Length` claims.

/// Why an answer could not be read whole.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// More than the limit was announced or sent.
    TooLarge,
    /// The connection broke or timed out mid-answer.
    CutOff(reqwest::Error),
}

/// The whole body of `res`, at most `limit` bytes.
pub(crate) async fn read_bounded(
    mut res: reqwest::Response,
    limit: u64,
) -> Result<Vec<u8>, BodyError> {
    if res.content_length().is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge);
    }
    let mut out = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(BodyError::CutOff)? {
        out.extend_from_slice(&chunk);
        if out.len() as u64 > limit {
            return Err(BodyError::TooLarge);
        }
    }
    Ok(out)
}
