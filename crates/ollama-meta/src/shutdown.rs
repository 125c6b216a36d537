//! Process signals: the first Ctrl-C or SIGTERM cancels the token.

use tokio_util::sync::CancellationToken;

/// Waits for Ctrl-C or SIGTERM, then cancels `token`.
///
/// # Cancel safety
///
/// Dropping the future stops listening; nothing is cancelled.
pub(crate) async fn cancel_on_signal(token: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutdown requested");
    token.cancel();
}
