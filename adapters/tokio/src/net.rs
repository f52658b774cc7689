//! Opening client connections from a URL: tokio TCP, and TLS through
//! rustls when the `rustls` feature is on.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use wscore::handshake::{ClientRequest, Response};

use crate::{client, Config, Error, WebSocket};

/// The transport [`connect`] opens: plain TCP for `ws://`, TLS over TCP
/// for `wss://` (with the `rustls` feature).
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream {
    /// A `ws://` connection.
    Plain(TcpStream),
    /// A `wss://` connection.
    #[cfg(feature = "rustls")]
    Rustls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// Client: connects to a `ws://` (or, with the `rustls` feature, `wss://`)
/// URL and runs the opening handshake with the default [`Config`].
///
/// ```no_run
/// use futures::{SinkExt, StreamExt};
/// use wscore_tokio::{CloseCode, Message};
///
/// # async fn run() -> Result<(), wscore_tokio::Error> {
/// let (mut ws, _response) = wscore_tokio::connect("ws://127.0.0.1:9001/chat").await?;
/// ws.send(Message::text("hello")).await?;
/// if let Some(reply) = ws.next().await {
///     println!("{:?}", reply?);
/// }
/// ws.close(CloseCode::NORMAL, "bye").await?;
/// # Ok(())
/// # }
/// ```
pub async fn connect(url: &str) -> Result<(WebSocket<MaybeTlsStream>, Response), Error> {
    connect_with(ClientRequest::from_url(url)?, Config::default()).await
}

/// Client: connects to where `request` points (its subprotocol offers and
/// headers included) and runs the opening handshake with `config`.
pub async fn connect_with(
    request: ClientRequest,
    config: impl Into<Config>,
) -> Result<(WebSocket<MaybeTlsStream>, Response), Error> {
    let tcp = TcpStream::connect((request.host(), request.port())).await?;
    // Frames are written whole; Nagle would only delay them.
    tcp.set_nodelay(true)?;
    let stream = if request.is_tls() {
        tls(tcp, request.host()).await?
    } else {
        MaybeTlsStream::Plain(tcp)
    };
    client(stream, request, config).await
}

#[cfg(not(feature = "rustls"))]
async fn tls(_: TcpStream, _: &str) -> Result<MaybeTlsStream, Error> {
    Err(Error::Io(io::Error::new(
        io::ErrorKind::Unsupported,
        "wss:// URLs need the `rustls` feature of wscore-tokio",
    )))
}

#[cfg(feature = "rustls")]
async fn tls(tcp: TcpStream, host: &str) -> Result<MaybeTlsStream, Error> {
    use rustls::pki_types::ServerName;
    use std::sync::{Arc, OnceLock};

    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, rustls::Error>> = OnceLock::new();
    let config = CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            Ok(Arc::new(
                rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()?
                    .with_root_certificates(roots)
                    .with_no_client_auth(),
            ))
        })
        .clone()
        .map_err(io::Error::other)?;
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?;
    Ok(MaybeTlsStream::Rustls(Box::new(stream)))
}

impl AsyncRead for MaybeTlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTlsStream::Plain(s) => s.is_write_vectored(),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
