//! `wss://` with both runtime crates: clients that trust a root store of
//! their own (`connect_with_tls`) reach servers whose certificate was made
//! at test time, exchange messages and close; the default webpki roots
//! refuse that certificate.

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use rustls::CertificateError;
use wscore::Message;
use wscore_tokio::{ClientRequest, CloseCause, CloseCode, Config, Error};

#[path = "support/tls.rs"]
#[allow(dead_code)] // each test file uses part of it
mod tls;

use tls::TestPki;

fn sample_messages() -> Vec<Message> {
    vec![
        Message::text("hello"),
        Message::binary(vec![0u8, 1, 2, 255]),
        // Many TLS records.
        Message::binary(vec![7u8; 300_000]),
        Message::text("é".repeat(70_000)),
    ]
}

/// Fails a test that hangs instead of letting it block CI. The timer is
/// `async-io`'s, which runs under any executor.
async fn within<T>(run: impl Future<Output = T>) -> T {
    let timer = async {
        smol::Timer::after(Duration::from_secs(10)).await;
        panic!("still running after 10 s");
    };
    smol::future::or(run, timer).await
}

#[tokio::test]
async fn tokio_client_and_server_over_tls() {
    let pki = TestPki::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let tls = acceptor.accept(tcp).await.unwrap();
        let mut ws = wscore_tokio::accept(tls).await.unwrap();
        while let Some(message) = ws.next().await {
            ws.send(message.unwrap()).await.unwrap();
        }
        ws.closed().cloned().unwrap()
    });
    within(async {
        let request = ClientRequest::from_url(&format!("wss://127.0.0.1:{port}/tls")).unwrap();
        let (mut ws, response) =
            wscore_tokio::connect_with_tls(request, Config::default(), pki.client_config())
                .await
                .unwrap();
        assert_eq!(response.status(), 101);
        assert!(matches!(
            ws.get_ref().get_ref(),
            wscore_tokio::MaybeTlsStream::Rustls(_)
        ));
        for message in sample_messages() {
            ws.send(message.clone()).await.unwrap();
            assert_eq!(ws.next().await.unwrap().unwrap(), message);
        }
        ws.close(CloseCode::NORMAL, "bye").await.unwrap();
        assert_eq!(ws.closed().unwrap().cause, CloseCause::Local);
        assert!(ws.next().await.is_none());
        let closed = server.await.unwrap();
        assert_eq!(closed.cause, CloseCause::Remote);
        assert_eq!(
            (closed.code, closed.reason.as_str()),
            (CloseCode::NORMAL, "bye")
        );
    })
    .await;
}

#[test]
fn async_std_client_and_server_over_tls() {
    let pki = TestPki::new();
    smol::block_on(within(async {
        let listener = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let acceptor = futures_rustls::TlsAcceptor::from(pki.server_config());
        let server = smol::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let tls = acceptor.accept(tcp).await.unwrap();
            let mut ws = wscore_async_std::accept(tls).await.unwrap();
            while let Some(message) = ws.next().await {
                ws.send(message.unwrap()).await.unwrap();
            }
            ws.closed().cloned().unwrap()
        });
        let request = ClientRequest::from_url(&format!("wss://127.0.0.1:{port}/tls")).unwrap();
        let (mut ws, response) =
            wscore_async_std::connect_with_tls(request, Config::default(), pki.client_config())
                .await
                .unwrap();
        assert_eq!(response.status(), 101);
        assert!(matches!(
            ws.get_ref(),
            wscore_async_std::MaybeTlsStream::Rustls(_)
        ));
        for message in sample_messages() {
            ws.send(message.clone()).await.unwrap();
            assert_eq!(ws.next().await.unwrap().unwrap(), message);
        }
        ws.close(CloseCode::NORMAL, "bye").await.unwrap();
        assert_eq!(ws.closed().unwrap().cause, CloseCause::Local);
        assert!(ws.next().await.is_none());
        let closed = server.await;
        assert_eq!(closed.cause, CloseCause::Remote);
        assert_eq!(
            (closed.code, closed.reason.as_str()),
            (CloseCode::NORMAL, "bye")
        );
    }));
}

/// The TLS error inside a failed connection attempt.
fn tls_error(result: Result<impl Sized, Error>) -> rustls::Error {
    match result {
        Err(Error::Io(e)) => match e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
            Some(tls) => tls.clone(),
            None => panic!("expected a TLS error, got {e:?}"),
        },
        Err(e) => panic!("expected a TLS error, got {e:?}"),
        Ok(_) => panic!("connected to a server no default root vouches for"),
    }
}

#[test]
fn default_roots_refuse_a_certificate_they_do_not_know() {
    let pki = TestPki::new();
    smol::block_on(within(async {
        let listener = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let acceptor = futures_rustls::TlsAcceptor::from(pki.server_config());
        // Each client's handshake fails on the client's side; the server
        // sees the alert.
        let server = smol::spawn(async move {
            for _ in 0..2 {
                let (tcp, _) = listener.accept().await.unwrap();
                assert!(acceptor.accept(tcp).await.is_err());
            }
        });
        let url = format!("wss://127.0.0.1:{port}/");
        let unknown = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        assert_eq!(tls_error(wscore_async_std::connect(&url).await), unknown);
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let from_tokio = tokio.block_on(wscore_tokio::connect(&url));
        assert_eq!(tls_error(from_tokio), unknown);
        server.await;
    }));
}
