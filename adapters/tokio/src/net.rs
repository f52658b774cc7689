//! Opening client connections from a URL: tokio TCP, and TLS through
//! rustls when the `rustls` feature is on.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use wscore::{ClientRequest, Response};

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
///
/// `wss://` URLs trust the webpki root certificates (with the `rustls`
/// feature; `connect_with_tls` takes a configuration of your own).
pub async fn connect_with(
    request: ClientRequest,
    config: impl Into<Config>,
) -> Result<(WebSocket<MaybeTlsStream>, Response), Error> {
    let tcp = tcp(&request).await?;
    let stream = if request.is_tls() {
        tls(tcp, request.host()).await?
    } else {
        MaybeTlsStream::Plain(tcp)
    };
    client(stream, request, config).await
}

/// Client: [`connect_with`], with `tls` as the TLS configuration of a
/// `wss://` URL instead of the default one: a root store of your own
/// (a private certificate authority; see [`tls::client_config`]), client
/// certificates, ALPN. A `ws://` URL connects without TLS, as with
/// [`connect_with`].
///
/// [`tls::client_config`]: crate::tls::client_config
///
/// ```no_run
/// use wscore_tokio::tls::{self, rustls};
/// use wscore_tokio::{ClientRequest, Config};
///
/// # async fn run(ca_der: rustls::pki_types::CertificateDer<'static>) -> Result<(), Box<dyn std::error::Error>> {
/// let mut roots = rustls::RootCertStore::empty();
/// roots.add(ca_der)?;
/// let request = ClientRequest::from_url("wss://internal.example:8443/feed")?;
/// let (ws, _response) =
///     wscore_tokio::connect_with_tls(request, Config::default(), tls::client_config(roots)?).await?;
/// # drop(ws);
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "rustls")]
pub async fn connect_with_tls(
    request: ClientRequest,
    config: impl Into<Config>,
    tls: std::sync::Arc<wscore_driver::tls::rustls::ClientConfig>,
) -> Result<(WebSocket<MaybeTlsStream>, Response), Error> {
    let tcp = tcp(&request).await?;
    let stream = if request.is_tls() {
        tls_with(tcp, request.host(), tls).await?
    } else {
        MaybeTlsStream::Plain(tcp)
    };
    client(stream, request, config).await
}

/// A TCP connection to the request's host and port.
async fn tcp(request: &ClientRequest) -> Result<TcpStream, Error> {
    let tcp = TcpStream::connect((request.host(), request.port())).await?;
    // Frames are written whole; Nagle would only delay them.
    tcp.set_nodelay(true)?;
    Ok(tcp)
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
    let config = wscore_driver::tls::default_client_config().map_err(io::Error::other)?;
    tls_with(tcp, host, config).await
}

#[cfg(feature = "rustls")]
async fn tls_with(
    tcp: TcpStream,
    host: &str,
    config: std::sync::Arc<wscore_driver::tls::rustls::ClientConfig>,
) -> Result<MaybeTlsStream, Error> {
    let name = wscore_driver::tls::server_name(host)?;
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
