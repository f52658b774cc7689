//! The opening handshake as the connection runs it: reading the client's
//! request or the server's response out of the input, the application's
//! accept or reject, and the extensions a client may offer.

use alloc::string::String;
use bytes::Buf;

#[cfg(feature = "deflate")]
use super::codec::Codec;
use super::{AwaitingResponse, CloseCause, Connection, Event, Lifecycle};
use crate::close::CloseCode;
use crate::config::Config;
use crate::error::SendError;
#[cfg(feature = "deflate")]
use crate::frame::Rsv;
use crate::handshake::server::Offer;
use crate::handshake::{self, Accept, ClientRequest, Reject, Request};
use crate::Instant;
use alloc::boxed::Box;

/// A server's request waiting for the application's decision. The
/// [`Request`] itself went to the application in [`Event::Request`]; the
/// answer needs only this.
#[derive(Debug)]
pub(super) struct Pending {
    offer: Offer,
    /// The permessage-deflate agreement, if the request offers one the
    /// configuration accepts.
    #[cfg(feature = "deflate")]
    deflate: Option<crate::extension::deflate::DeflateParams>,
}

impl Pending {
    fn new(config: &Config, request: &Request) -> Pending {
        #[cfg(not(feature = "deflate"))]
        let _ = config;
        Pending {
            offer: Offer::of(request),
            #[cfg(feature = "deflate")]
            deflate: config.deflate.as_ref().and_then(|deflate| {
                crate::extension::deflate::negotiate_server(request.extensions(), deflate)
            }),
        }
    }
}

/// Progress of the search for the end of a handshake header block.
#[derive(Debug, Default)]
pub(super) struct HeaderScan {
    scanned: usize,
    terminator_seen: bool,
}

impl Connection {
    /// Server: accepts the pending upgrade request.
    pub fn accept(&mut self, now: Instant, accept: Accept) -> Result<(), SendError> {
        let Lifecycle::AwaitingDecision(pending) = &self.lifecycle else {
            return Err(SendError::NoPendingRequest);
        };
        let mut accept = accept;
        if accept.chosen_subprotocol().is_none() {
            if let Some(p) = self
                .config
                .subprotocols
                .iter()
                .find(|p| pending.offer.offers_subprotocol(&p.name))
            {
                accept = accept.subprotocol(p.name.clone());
            }
        }
        #[cfg(feature = "deflate")]
        let deflate = pending.deflate;
        #[cfg(feature = "deflate")]
        if let Some(params) = &deflate {
            accept.set_extensions(params.to_header_value());
        }
        let response = handshake::server::accept_response(&pending.offer, &accept)
            .map_err(SendError::Handshake)?;
        self.outbound.push_raw(response);
        #[cfg(feature = "deflate")]
        self.enable_deflate(deflate);
        self.subprotocol = accept.subprotocol.take();
        self.open(now, None);
        self.process_input(now);
        Ok(())
    }

    /// Server: rejects the pending upgrade request with an HTTP response.
    pub fn reject(&mut self, reject: Reject) -> Result<(), SendError> {
        if !matches!(self.lifecycle, Lifecycle::AwaitingDecision(_)) {
            return Err(SendError::NoPendingRequest);
        }
        let response = handshake::server::reject_response(&reject).map_err(SendError::Handshake)?;
        self.outbound.push_raw(response);
        self.finish(
            CloseCode::ABNORMAL,
            String::new(),
            CloseCause::Rejected(reject.status()),
        );
        Ok(())
    }

    #[cfg(feature = "deflate")]
    pub(super) fn enable_deflate(
        &mut self,
        params: Option<crate::extension::deflate::DeflateParams>,
    ) {
        let (Some(params), Some(config)) = (params, self.config.deflate.as_ref()) else {
            return;
        };
        self.codec = Some(Box::new(Codec::new(&params, self.role, config)));
        self.inbound.allow_rsv(Rsv::RSV1);
        self.deflate = Some(params);
    }

    /// Whether the header block may be complete: worth running the parser.
    /// Only bytes not scanned before are searched. Once a terminator has
    /// been seen the parser runs on every input, because it may still want
    /// more (blank lines before a request line are allowed), and the outcome
    /// must not depend on how the bytes were split.
    fn header_block_complete(&mut self) -> bool {
        let buf = self.inbound.buffer();
        if !self.header_scan.terminator_seen {
            let start = self.header_scan.scanned.saturating_sub(3);
            self.header_scan.terminator_seen = buf
                .get(start..)
                .unwrap_or_default()
                .windows(4)
                .any(|w| w == b"\r\n\r\n");
            self.header_scan.scanned = buf.len();
        }
        self.header_scan.terminator_seen || buf.len() > self.config.max_handshake_bytes
    }

    /// Returns whether the lifecycle moved on.
    pub(super) fn read_request(&mut self) -> bool {
        if !self.header_block_complete() {
            return false;
        }
        let parsed = handshake::server::parse_request(
            self.inbound.buffer(),
            self.config.max_handshake_bytes,
            self.config.max_headers,
        );
        match parsed {
            Ok(None) => false,
            Ok(Some((request, consumed))) => {
                self.inbound.buffer().advance(consumed);
                let pending = Pending::new(&self.config, &request);
                self.events.push_back(Event::Request(Box::new(request)));
                self.lifecycle = Lifecycle::AwaitingDecision(Box::new(pending));
                true
            }
            Err(error) => {
                self.outbound
                    .push_raw(handshake::server::error_response(&error));
                self.finish(
                    CloseCode::ABNORMAL,
                    String::new(),
                    CloseCause::Handshake(error),
                );
                true
            }
        }
    }

    pub(super) fn read_response(&mut self, now: Instant) -> bool {
        if !self.header_block_complete() {
            return false;
        }
        let Lifecycle::AwaitingResponse(awaiting) = &self.lifecycle else {
            return false;
        };
        let AwaitingResponse {
            request,
            expected_accept,
        } = &**awaiting;
        let parsed = handshake::client::parse_response(
            self.inbound.buffer(),
            expected_accept,
            request,
            self.config.max_handshake_bytes,
            self.config.max_headers,
        );
        match parsed {
            Ok(None) => false,
            Ok(Some((response, consumed))) => {
                self.inbound.buffer().advance(consumed);
                #[cfg(feature = "deflate")]
                if let Some(config) = &self.config.deflate {
                    match crate::extension::deflate::negotiate_client(response.extensions(), config)
                    {
                        Ok(params) => self.enable_deflate(params),
                        Err(error) => {
                            let cause =
                                CloseCause::Handshake(handshake::HandshakeError::Extension(error));
                            self.finish(CloseCode::ABNORMAL, String::new(), cause);
                            return true;
                        }
                    }
                }
                self.subprotocol = response.subprotocol().map(String::from);
                self.open(now, Some(response));
                true
            }
            Err(error) => {
                self.finish(
                    CloseCode::ABNORMAL,
                    String::new(),
                    CloseCause::Handshake(error),
                );
                true
            }
        }
    }
}

/// The name of the first extension `request` offers that `config` does not
/// run. The engine runs permessage-deflate, when it is configured, and
/// nothing else.
pub(super) fn unconfigured_extension<'r>(
    config: &Config,
    request: &'r ClientRequest,
) -> Option<&'r str> {
    request
        .extensions()
        .iter()
        .flat_map(|offers| offers.split(','))
        .map(handshake::extension_name)
        .filter(|name| !name.is_empty())
        .find(|name| !runs_extension(config, name))
}

#[cfg(feature = "deflate")]
fn runs_extension(config: &Config, name: &str) -> bool {
    config.deflate.is_some() && name.eq_ignore_ascii_case(crate::extension::deflate::EXTENSION_NAME)
}

#[cfg(not(feature = "deflate"))]
fn runs_extension(_config: &Config, _name: &str) -> bool {
    false
}
