//! How a connection ends: the close handshake from either side, protocol
//! failures held behind the events decoded before them, timeouts, the end
//! of the transport, and the terminal state with its last events.

use alloc::boxed::Box;
use alloc::string::String;

use super::{CloseCause, Closed, Connection, Event, Lifecycle, TimeoutKind};
use crate::close::{CloseCode, CloseFrame, MAX_REASON_LEN};
use crate::envelope::stream::{Direction, StreamError, StreamEvent};
use crate::error::{ProtocolError, SendError};
use crate::timer::Timer;
use crate::Instant;

/// A protocol error waiting for the events queued before it.
///
/// Failing at once would put the close frame ahead of the application's
/// answers to messages that arrived before the violation; waiting until
/// those messages are taken lets the answers out first, and nothing that
/// follows the violation is read.
#[derive(Debug)]
pub(super) struct PendingFailure {
    pub(super) error: ProtocolError,
    /// Events still ahead of the failure in the queue.
    pub(super) events_ahead: usize,
}

impl Connection {
    /// Tells the connection that the transport ended: a read returned no
    /// bytes (a TCP FIN, a TLS `close_notify`, a closed pipe). Nothing is
    /// read after it; later calls, and calls once the connection is closed,
    /// are no-ops.
    ///
    /// - During the opening handshake the connection ends at once with
    ///   [`Event::Closed`], code [`CloseCode::ABNORMAL`] and
    ///   [`CloseCause::Eof`]. A server's [`Event::Request`] already queued
    ///   stays ahead of it, and a later [`Connection::accept`] or
    ///   [`Connection::reject`] returns [`SendError::NoPendingRequest`].
    /// - While open, or after our close frame was queued, the peer's close
    ///   can no longer arrive: every event decoded before the end is
    ///   delivered first (the rest of a compressed message received whole
    ///   included), then every stream cut short is reported with
    ///   [`StreamError::ConnectionClosed`], then [`Event::Closed`] with
    ///   [`CloseCode::ABNORMAL`] (RFC 6455 §7.1.5) and [`CloseCause::Eof`].
    ///   A partial frame or message is dropped: in incremental mode its
    ///   [`Event::MessageStart`] is not followed by [`Event::MessageEnd`].
    ///   A protocol error already found behind queued events still ends the
    ///   connection with its own cause.
    /// - After the peer's close frame arrived, the end of the transport is
    ///   expected (RFC 6455 §7.1.1: the server closes the TCP connection
    ///   first) and changes nothing: the connection finishes as usual when
    ///   [`Event::CloseReceived`] is taken, and our answer is still queued.
    ///
    /// No frame is queued by the end of input. A peer that ends its
    /// transport before the close handshake has abandoned the connection:
    /// a close frame could reach at most a half-closed socket whose reader
    /// has stopped, so the end of input drops what was queued and not yet
    /// taken by [`Connection::poll_transmit`] (as a timeout does) and
    /// reports the outbound streams it cuts short. A close frame that was
    /// already queued stays queued; writing it may fail, which the caller
    /// can ignore once [`Event::Closed`] has been seen.
    pub fn handle_eof(&mut self, now: Instant) {
        self.now = self.now.max(now);
        if self.eof {
            return;
        }
        self.eof = true;
        match self.lifecycle {
            Lifecycle::AwaitingRequest
            | Lifecycle::AwaitingDecision(_)
            | Lifecycle::AwaitingResponse(_) => {
                self.outbound.abandon();
                self.finish(CloseCode::ABNORMAL, String::new(), CloseCause::Eof);
            }
            Lifecycle::Open | Lifecycle::ClosingLocal => self.end_of_input(),
            Lifecycle::ClosingRemote(_) | Lifecycle::Closed => {}
        }
    }

    /// Ends an open connection whose transport ended, once the input
    /// buffered before the end has been decoded: a compressed message
    /// received in incremental mode is inflated one piece per taken event,
    /// and the frames behind it wait for it.
    pub(super) fn end_of_input(&mut self) {
        let decoding = self.inbound.inflating() && !self.events.is_empty();
        if !self.eof
            || decoding
            || self.failure.is_some()
            || !matches!(self.lifecycle, Lifecycle::Open | Lifecycle::ClosingLocal)
        {
            return;
        }
        self.outbound.abandon();
        self.finish(CloseCode::ABNORMAL, String::new(), CloseCause::Eof);
    }

    pub(super) fn close_received(&mut self, frame: CloseFrame) {
        self.inbound.clear();
        self.events.push_back(Event::CloseReceived(frame.clone()));
        match self.lifecycle {
            Lifecycle::ClosingLocal => {
                self.finish(frame.code, frame.reason, CloseCause::Local);
            }
            _ => {
                self.timers.clear_all();
                self.lifecycle = Lifecycle::ClosingRemote(frame);
            }
        }
    }

    /// Called when the application takes [`Event::CloseReceived`].
    pub(super) fn answer_remote_close(&mut self) {
        let Lifecycle::ClosingRemote(frame) = &self.lifecycle else {
            return;
        };
        let frame = frame.clone();
        // Echo the code alone; an empty close is answered with an empty one.
        self.outbound.queue_close(CloseFrame::new(frame.code, ""));
        self.finish(frame.code, frame.reason, CloseCause::Remote);
    }

    pub(super) fn start_close(&mut self, now: Instant, frame: CloseFrame) -> Result<(), SendError> {
        match &self.lifecycle {
            Lifecycle::Open => {
                self.outbound.queue_close(frame);
                self.timers.clear_all();
                self.timers
                    .set(Timer::Close, now + self.config.close_timeout);
                self.lifecycle = Lifecycle::ClosingLocal;
                Ok(())
            }
            Lifecycle::ClosingRemote(received) => {
                let received = received.clone();
                self.outbound.queue_close(frame);
                self.finish(received.code, received.reason, CloseCause::Remote);
                Ok(())
            }
            Lifecycle::AwaitingRequest
            | Lifecycle::AwaitingDecision(_)
            | Lifecycle::AwaitingResponse(_) => Err(SendError::NotOpen),
            Lifecycle::ClosingLocal => Err(SendError::Closing),
            Lifecycle::Closed => Err(SendError::Closed),
        }
    }

    /// The peer broke the protocol: send the matching close and stop, once
    /// the events queued before the violation are taken.
    pub(super) fn fail(&mut self, error: ProtocolError) {
        let open = matches!(self.lifecycle, Lifecycle::Open | Lifecycle::ClosingLocal);
        if open && !self.events.is_empty() && self.failure.is_none() {
            self.inbound.clear();
            self.failure = Some(PendingFailure {
                error,
                events_ahead: self.events.len(),
            });
            return;
        }
        self.fail_now(error);
    }

    /// Sends the close for a protocol error and stops.
    pub(super) fn fail_now(&mut self, error: ProtocolError) {
        let code = error.close_code();
        if matches!(self.lifecycle, Lifecycle::Open | Lifecycle::ClosingLocal) {
            // The reason tells the peer what was wrong, where it can (a
            // batch error names its byte offset).
            let mut reason = alloc::format!("{error}");
            let mut end = reason.len().min(MAX_REASON_LEN);
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
            self.outbound.queue_close(CloseFrame::new(code, reason));
        }
        self.finish(code, String::new(), CloseCause::Protocol(error));
    }

    pub(super) fn time_out(&mut self, kind: TimeoutKind) {
        self.outbound.abandon();
        self.finish(
            CloseCode::ABNORMAL,
            String::new(),
            CloseCause::Timeout(kind),
        );
    }

    /// Enters the terminal state and queues the last event.
    pub(super) fn finish(&mut self, code: CloseCode, reason: String, cause: CloseCause) {
        if matches!(self.lifecycle, Lifecycle::Closed) {
            return;
        }
        self.lifecycle = Lifecycle::Closed;
        self.timers.clear_all();
        self.inbound.clear();
        // Streams cut short are reported, so no partial payload goes unnoticed.
        self.outbound.abandon_pushed_streams();
        let inbound = self
            .envelope
            .end()
            .into_iter()
            .map(|id| (id, Direction::Inbound));
        let outbound = self
            .outbound
            .take_abandoned_streams()
            .into_iter()
            .map(|id| (id, Direction::Outbound));
        for (id, direction) in inbound.chain(outbound) {
            self.events.push_back(Event::Stream(StreamEvent::Failed {
                id,
                direction,
                error: StreamError::ConnectionClosed,
            }));
        }
        self.events.push_back(Event::Closed(Box::new(Closed {
            code,
            reason,
            cause,
        })));
    }
}
