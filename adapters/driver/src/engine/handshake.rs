//! The opening handshake: driving the connection until it is open and
//! applying a server application's decision about the request.

use std::task::{ready, Context, Poll};

use crate::io::Transport;
use wscore::{Accept, Event as CoreEvent, Reject, Request, Response};

use super::end::Phase;
use super::Engine;
use crate::{Error, Timer};

impl<S, T> Engine<S, T>
where
    S: Transport,
    T: Timer,
{
    /// Drives the handshake until the connection is open; a server asks
    /// `decide` about the request. Returns the response (clients).
    pub(crate) fn poll_handshake(
        &mut self,
        cx: &mut Context<'_>,
        decide: &mut impl FnMut(&Request) -> Result<Accept, Reject>,
    ) -> Poll<Result<Option<Response>, Error>> {
        loop {
            if self.is_running() {
                match self.conn.poll_event() {
                    Some(CoreEvent::Request(request)) => {
                        self.decide(&request, decide);
                        continue;
                    }
                    Some(CoreEvent::Connected(connected)) => {
                        return Poll::Ready(Ok(connected.response));
                    }
                    Some(CoreEvent::Closed(closed)) => {
                        self.on_closed(*closed);
                        continue;
                    }
                    Some(_) => continue,
                    None => {}
                }
            } else {
                ready!(self.poll_shutdown(cx));
                let error = match &mut self.phase {
                    Phase::Done { error } => error.take(),
                    _ => None,
                };
                self.finished = true;
                return Poll::Ready(Err(error.unwrap_or(Error::Closed)));
            }
            if self.poll_timers(cx) {
                continue;
            }
            if let Poll::Ready(Err(e)) = self.poll_write(cx) {
                self.fail_io(e);
                continue;
            }
            match ready!(self.poll_read(cx)) {
                Ok(0) => self.on_eof(),
                Ok(_) => {}
                Err(e) => self.fail_io(e),
            }
        }
    }

    /// Applies the application's decision; an answer the core cannot write
    /// (an unoffered subprotocol, a bad status) becomes a `500`.
    fn decide(
        &mut self,
        request: &Request,
        decide: &mut impl FnMut(&Request) -> Result<Accept, Reject>,
    ) {
        let now = self.clock.now();
        let answered = match decide(request) {
            Ok(accept) => self.conn.accept(now, accept),
            Err(reject) => self.conn.reject(reject),
        };
        if let Err(e) = answered {
            let _ = self.conn.reject(Reject::new(500));
            // Report what was wrong with the answer, not the 500.
            self.end(Some(Error::Send(e)), true);
        }
    }
}
