//! Opening client connections from a URL: TCP through `async-net`, and TLS
//! through rustls when the `rustls` feature is on.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use async_net::TcpStream;
use futures_io::{AsyncRead, AsyncWrite};
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
    Rustls(Box<futures_rustls::client::TlsStream<TcpStream>>),
}

/// Client: connects to a `ws://` (or, with the `rustls` feature, `wss://`)
/// URL and runs the opening handshake with the default [`Config`].
///
/// ```no_run
/// use futures::{SinkExt, StreamExt};
/// use wscore_async_std::{CloseCode, Message};
///
/// # async_std::task::block_on(async {
/// let (mut ws, _response) = wscore_async_std::connect("ws://127.0.0.1:9001/chat").await?;
/// ws.send(Message::text("hello")).await?;
/// if let Some(reply) = ws.next().await {
///     println!("{:?}", reply?);
/// }
/// ws.close(CloseCode::NORMAL, "bye").await?;
/// # Ok::<(), wscore_async_std::Error>(())
/// # });
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
        "wss:// URLs need the `rustls` feature of wscore-async-std",
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
    let stream = futures_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?;
    Ok(MaybeTlsStream::Rustls(Box::new(stream)))
}

impl AsyncRead for MaybeTlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
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
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(s) => {
                // The TLS stream writes one slice per call: gather small
                // slices so that a frame header and its payload share a
                // record.
                let mut scratch = [0; 8 << 10];
                let stream = Pin::new(s.as_mut());
                match wscore_driver::io::coalesce(bufs, &mut scratch) {
                    Some(gathered) => stream.poll_write(cx, gathered),
                    None => stream.poll_write_vectored(cx, bufs),
                }
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_close(cx),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(s) => Pin::new(s.as_mut()).poll_close(cx),
        }
    }
}
