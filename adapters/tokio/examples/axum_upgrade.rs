//! An axum server whose WebSocket route runs on wscore.
//!
//! ```text
//! cargo run -p wscore-tokio --example axum_upgrade -- --addr 127.0.0.1:9001
//! ```
//!
//! The route answers the upgrade request itself (the checks and headers
//! RFC 6455 asks of a server), hyper hands over the connection once the
//! `101 Switching Protocols` response is written, and
//! [`wscore_tokio::from_upgraded`] turns it into a socket. [`WsUpgrade`]
//! has the shape of axum's own `WebSocketUpgrade` (the `ws` feature), so a
//! handler moves over by swapping the extractor and the message type:
//!
//! ```text
//! async fn handler(ws: WsUpgrade) -> Response {
//!     ws.on_upgrade(|socket| async move { /* socket: Stream + Sink of wscore Messages */ })
//! }
//! ```

use std::future::Future;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::StreamExt;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use wscore_tokio::wscore::{accept_key, Config as ProtocolConfig};
use wscore_tokio::{Config, Role, WebSocket};

/// A WebSocket over a connection hyper upgraded.
pub(crate) type Socket = WebSocket<TokioIo<Upgraded>>;

/// Extracts a WebSocket upgrade request; [`WsUpgrade::on_upgrade`] answers
/// it and runs a callback on the socket.
pub(crate) struct WsUpgrade {
    accept: String,
    on_upgrade: OnUpgrade,
    config: Config,
}

impl<S: Send + Sync> FromRequestParts<S> for WsUpgrade {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Response> {
        if parts.method != Method::GET {
            return Err(StatusCode::METHOD_NOT_ALLOWED.into_response());
        }
        if !lists_token(&parts.headers, header::CONNECTION, "upgrade")
            || !lists_token(&parts.headers, header::UPGRADE, "websocket")
        {
            let upgrade = [(header::UPGRADE, "websocket")];
            return Err((StatusCode::UPGRADE_REQUIRED, upgrade, "WebSocket only").into_response());
        }
        if parts
            .headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .is_none_or(|version| version != "13")
        {
            // RFC 6455 §4.4: name the version this server speaks.
            let version = [(header::SEC_WEBSOCKET_VERSION, "13")];
            return Err((StatusCode::UPGRADE_REQUIRED, version).into_response());
        }
        let Some(key) = parts.headers.get(header::SEC_WEBSOCKET_KEY) else {
            return Err((StatusCode::BAD_REQUEST, "no Sec-WebSocket-Key").into_response());
        };
        // hyper leaves this in the extensions of requests on connections
        // that may be upgraded (HTTP/1.1, served with upgrades on).
        let Some(on_upgrade) = parts.extensions.remove::<OnUpgrade>() else {
            return Err((
                StatusCode::UPGRADE_REQUIRED,
                "this connection cannot be upgraded",
            )
                .into_response());
        };
        Ok(WsUpgrade {
            accept: accept_key(key.as_bytes()),
            on_upgrade,
            config: Config::default(),
        })
    }
}

impl WsUpgrade {
    /// The socket's settings (limits, keepalive, write buffer).
    pub(crate) fn config(mut self, config: impl Into<Config>) -> Self {
        self.config = config.into();
        self
    }

    /// Answers `101 Switching Protocols` and, once hyper has written it,
    /// runs `callback` on the socket in a task of its own.
    pub(crate) fn on_upgrade<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let WsUpgrade {
            accept,
            on_upgrade,
            config,
        } = self;
        tokio::spawn(async move {
            // An error here is a client gone before the upgrade finished.
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            if let Ok(socket) =
                wscore_tokio::from_upgraded(TokioIo::new(upgraded), Role::Server, config)
            {
                callback(socket).await;
            }
        });
        let headers = [
            (header::CONNECTION, "upgrade".to_owned()),
            (header::UPGRADE, "websocket".to_owned()),
            (header::SEC_WEBSOCKET_ACCEPT, accept),
        ];
        (StatusCode::SWITCHING_PROTOCOLS, headers).into_response()
    }
}

/// Whether the comma-separated header `name` lists `token` (in any case).
fn lists_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}

/// The application: `/echo` echoes every message back.
pub(crate) fn app() -> Router {
    Router::new().route("/echo", get(echo))
}

async fn echo(ws: WsUpgrade) -> Response {
    let limits = ProtocolConfig::default().max_message_size(16 << 20);
    ws.config(limits).on_upgrade(|mut socket| async move {
        // The stream ends after the close handshake; an error item is the
        // last one too.
        while let Some(Ok(message)) = socket.next().await {
            if socket.send(message).await.is_err() {
                break;
            }
        }
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = String::from("127.0.0.1:9001");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or("--addr needs a value")?,
            other => return Err(format!("unknown argument {other:?} (expected --addr)").into()),
        }
    }
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on ws://{}/echo", listener.local_addr()?);
    axum::serve(listener, app()).await?;
    Ok(())
}
