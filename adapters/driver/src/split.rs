//! Read and write halves sharing one engine.
//!
//! The engine sits behind a mutex that is held only for one non-blocking
//! poll. Both halves poll the transport and the timer, which each remember
//! a single waker; so every poll through a half passes one shared waker
//! that wakes whichever halves are waiting. Each half keeps its own slot in
//! it, refreshed on every poll.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use crate::io::Transport;
use bytes::Bytes;
use futures_core::{FusedStream, Stream};
use futures_io::AsyncRead;
use futures_sink::Sink;
use wscore::{CloseCode, Closed, Message, StreamId};

use crate::body::Body;
use crate::engine::Engine;
use crate::outgoing::{self, Drive};
use crate::side::Target;
use crate::socket::EventStream;
use crate::{Error, Event, Timer};

const READER: usize = 0;
const WRITER: usize = 1;

/// The most messages [`WriteHalf::feed_all`] queues under one lock.
const FEED_RUN: usize = 64;

/// How a run of [`WriteHalf::feed_all`] ended.
enum Run {
    /// Every message is queued.
    Done,
    /// The run was long enough; more may follow.
    More,
    /// The write buffer is full: wait for room.
    Full,
}

/// The wakers of the tasks waiting on each half.
#[derive(Default)]
struct Fanout {
    slots: Mutex<[Option<Waker>; 2]>,
}

impl Fanout {
    fn slots(&self) -> MutexGuard<'_, [Option<Waker>; 2]> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn register(&self, slot: usize, waker: &Waker) {
        if let Some(entry) = self.slots().get_mut(slot) {
            if !entry.as_ref().is_some_and(|w| w.will_wake(waker)) {
                *entry = Some(waker.clone());
            }
        }
    }

    fn clear(&self, slot: usize) {
        if let Some(entry) = self.slots().get_mut(slot) {
            *entry = None;
        }
    }

    fn wake_slot(&self, slot: usize) {
        let waker = self.slots().get_mut(slot).and_then(Option::take);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Wake for Fanout {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let [a, b] = {
            let mut slots = self.slots();
            [slots[READER].take(), slots[WRITER].take()]
        };
        a.into_iter().chain(b).for_each(Waker::wake);
    }
}

struct Shared<S, T> {
    engine: Mutex<Engine<S, T>>,
    fanout: Arc<Fanout>,
    waker: Waker,
    subprotocol: Option<String>,
}

impl<S, T> Shared<S, T>
where
    S: Transport,
    T: Timer,
{
    fn engine(&self) -> MutexGuard<'_, Engine<S, T>> {
        self.engine.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one poll of the engine on behalf of the half in `slot`.
    fn poll<R>(
        &self,
        slot: usize,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Engine<S, T>, &mut Context<'_>) -> Poll<R>,
    ) -> Poll<R> {
        self.fanout.register(slot, cx.waker());
        let mut shared_cx = Context::from_waker(&self.waker);
        let (result, news) = {
            let mut engine = self.engine();
            let result = f(&mut engine, &mut shared_cx);
            (result, engine.take_closure_news())
        };
        if result.is_ready() {
            self.fanout.clear(slot);
        }
        if news {
            // The other half may wait for the end (a close, back-pressure)
            // without any IO left to wake it.
            self.fanout.wake_slot(1 - slot);
        }
        result
    }

    /// Runs a command that does no IO.
    fn with<R>(&self, f: impl FnOnce(&mut Engine<S, T>) -> R) -> R {
        f(&mut self.engine())
    }
}

pub(crate) fn split<S, T>(mut engine: Engine<S, T>) -> (ReadHalf<S, T>, WriteHalf<S, T>)
where
    S: Transport,
    T: Timer,
{
    engine.reader_elsewhere = true;
    let fanout = Arc::new(Fanout::default());
    let subprotocol = engine.connection().subprotocol().map(String::from);
    let shared = Arc::new(Shared {
        engine: Mutex::new(engine),
        waker: Waker::from(fanout.clone()),
        fanout,
        subprotocol,
    });
    (
        ReadHalf {
            shared: shared.clone(),
        },
        WriteHalf { shared },
    )
}

/// The receiving half of a [`Socket`](crate::Socket), from
/// [`Socket::split`](crate::Socket::split).
///
/// While it exists, a [`WriteHalf::close`] leaves the incoming messages to
/// it; once it is dropped, the write half reads (and drops) them itself.
pub struct ReadHalf<S, T> {
    shared: Arc<Shared<S, T>>,
}

/// The sending half of a [`Socket`](crate::Socket), from
/// [`Socket::split`](crate::Socket::split).
pub struct WriteHalf<S, T> {
    shared: Arc<Shared<S, T>>,
}

impl<S, T> std::fmt::Debug for ReadHalf<S, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<S, T> std::fmt::Debug for WriteHalf<S, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}

impl<S, T> ReadHalf<S, T>
where
    S: Transport,
    T: Timer,
{
    /// The next message; see [`Socket::recv`](crate::Socket::recv).
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.shared.poll(READER, cx, Engine::poll_next)).await
    }

    /// The next event; see [`Socket::next_event`](crate::Socket::next_event).
    pub async fn next_event(&mut self) -> Option<Result<Event, Error>> {
        poll_fn(|cx| self.shared.poll(READER, cx, Engine::poll_next_event)).await
    }

    /// [`ReadHalf::next_event`] as a poll function.
    pub fn poll_next_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Event, Error>>> {
        self.shared.poll(READER, cx, Engine::poll_next_event)
    }

    /// The events of [`ReadHalf::next_event`] as a [`Stream`].
    pub fn events(&mut self) -> impl FusedStream<Item = Result<Event, Error>> + '_ {
        EventStream {
            poll: move |cx: &mut Context<'_>| self.shared.poll(READER, cx, Engine::poll_next_event),
            done: false,
        }
    }

    /// The body of inbound stream `id`, whose start `next_event` handed
    /// out; see [`Socket::stream_body`](crate::Socket::stream_body).
    pub fn stream_body(&mut self, id: StreamId) -> Body<'_, S, T> {
        Body::of_half(self, Target::Stream(id))
    }

    /// The body of the incremental message whose start `next_event` handed
    /// out; see [`Socket::message_body`](crate::Socket::message_body).
    pub fn message_body(&mut self) -> Body<'_, S, T> {
        Body::of_half(self, Target::Message)
    }

    /// Changes the automatic answers; see
    /// [`Socket::set_auto_response`](crate::Socket::set_auto_response).
    pub fn set_auto_response(&self, request: impl Into<Message>, response: impl Into<Message>) {
        let (request, response) = (request.into(), response.into());
        self.shared.with(|e| e.set_auto_response(request, response));
    }

    /// The subprotocol agreed in the handshake.
    pub fn subprotocol(&self) -> Option<&str> {
        self.shared.subprotocol.as_deref()
    }

    /// How the connection ended, once it has.
    pub fn closed(&self) -> Option<Closed> {
        self.shared.with(|e| e.closed().cloned())
    }

    /// Streams that the message API ([`Stream`] of
    /// [`Message`]s, `recv`) passed over without a message: inbound streams
    /// that failed (refused for a limit, aborted by the peer, cut short) or
    /// were larger than [`StreamConfig::max_buffered`](wscore::StreamConfig::max_buffered)
    /// when gathered from incremental pieces, and outbound streams the peer
    /// refused or that were cut short. The message API yields only
    /// messages, so it counts these here rather than losing them unseen;
    /// [`next_event`](ReadHalf::next_event) reports each one, with its id and
    /// error, as it happens (and does not count it).
    ///
    /// Also counted, once: streams dropped because their pieces would
    /// have held more than `max_buffered` while a [`Body`] was read
    /// (their end is then reported as
    /// [`StreamError::BufferLimit`](wscore::StreamError::BufferLimit)).
    pub fn undelivered_streams(&self) -> u64 {
        self.shared.with(|e| e.undelivered_streams())
    }
}

impl<S, T> ReadHalf<S, T> {
    /// Gives back the unread rest of a body's piece (no IO).
    pub(crate) fn unread_piece(&mut self, target: Target, data: Bytes) {
        let mut engine = self
            .shared
            .engine
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        engine.unread(target, data);
    }
}

impl<S, T> Drive<S, T> for ReadHalf<S, T>
where
    S: Transport,
    T: Timer,
{
    fn poll_engine<R>(
        &mut self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Engine<S, T>, &mut Context<'_>) -> Poll<R>,
    ) -> Poll<R> {
        self.shared.poll(READER, cx, f)
    }

    fn command<R>(&mut self, f: impl FnOnce(&mut Engine<S, T>) -> R) -> R {
        self.shared.with(f)
    }
}

impl<S, T> Drop for ReadHalf<S, T> {
    fn drop(&mut self) {
        if let Ok(mut engine) = self.shared.engine.lock() {
            engine.reader_elsewhere = false;
        }
        // A writer waiting for the reader to take the peer's close must now
        // read for itself.
        self.shared.fanout.wake_slot(WRITER);
    }
}

impl<S, T> Stream for ReadHalf<S, T>
where
    S: Transport,
    T: Timer,
{
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.shared.poll(READER, cx, Engine::poll_next)
    }
}

impl<S, T> FusedStream for ReadHalf<S, T>
where
    S: Transport,
    T: Timer,
{
    fn is_terminated(&self) -> bool {
        self.shared.with(|e| e.is_finished())
    }
}

impl<S, T> WriteHalf<S, T>
where
    S: Transport,
    T: Timer,
{
    /// Sends a message; see [`Socket::send`](crate::Socket::send).
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        poll_fn(|cx| self.shared.poll(WRITER, cx, Engine::poll_ready)).await?;
        self.shared.with(|e| e.start_send(message.into()))?;
        self.flush().await
    }

    /// Queues messages without writing them; see
    /// [`Socket::feed_all`](crate::Socket::feed_all).
    pub async fn feed_all<I>(&mut self, messages: I) -> Result<(), Error>
    where
        I: IntoIterator,
        I::Item: Into<Message>,
    {
        let mut messages = messages.into_iter();
        // After waiting for room, the next message is taken as `feed`
        // takes one: whatever the wait ended with.
        let mut waited = false;
        loop {
            // One lock for a run of messages, not two per message; the run
            // is bounded so that the read half is never kept waiting long.
            let queued = self.shared.with(|engine| {
                for _ in 0..FEED_RUN {
                    if !std::mem::take(&mut waited) && !engine.has_room() {
                        return Ok(Run::Full);
                    }
                    match messages.next() {
                        Some(message) => engine.start_send(message.into())?,
                        None => return Ok(Run::Done),
                    }
                }
                Ok::<_, Error>(Run::More)
            })?;
            match queued {
                Run::Done => return Ok(()),
                Run::More => {}
                Run::Full => {
                    poll_fn(|cx| self.shared.poll(WRITER, cx, Engine::poll_ready)).await?;
                    waited = true;
                }
            }
        }
    }

    /// Writes everything queued and flushes the transport.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.shared.poll(WRITER, cx, Engine::poll_flush)).await
    }

    /// Sends a stream; see [`Socket::send_stream`](crate::Socket::send_stream).
    pub async fn send_stream(
        &mut self,
        payload: impl Into<Bytes>,
        metadata: impl Into<Bytes>,
    ) -> Result<StreamId, Error> {
        poll_fn(|cx| self.shared.poll(WRITER, cx, Engine::poll_ready)).await?;
        let (payload, metadata) = (payload.into(), metadata.into());
        let id = self.shared.with(|e| e.start_stream(payload, metadata))?;
        self.flush().await?;
        Ok(id)
    }

    /// Opens a stream whose bytes are pushed; see
    /// [`Socket::open_stream`](crate::Socket::open_stream).
    pub fn open_stream(
        &mut self,
        total_len: u64,
        metadata: impl Into<Bytes>,
    ) -> Result<StreamId, Error> {
        let metadata = metadata.into();
        self.shared.with(|e| e.open_stream(total_len, metadata))
    }

    /// Queues the next bytes of a pushed stream; see
    /// [`Socket::push_stream`](crate::Socket::push_stream).
    pub async fn push_stream(&mut self, id: StreamId, data: impl Into<Bytes>) -> Result<(), Error> {
        poll_fn(|cx| self.shared.poll(WRITER, cx, Engine::poll_ready)).await?;
        let data = data.into();
        self.shared.with(|e| e.push_stream(id, data))
    }

    /// Sends a stream read from `reader`; see
    /// [`Socket::send_stream_from_reader`](crate::Socket::send_stream_from_reader).
    pub async fn send_stream_from_reader<R>(
        &mut self,
        reader: R,
        len: u64,
        metadata: impl Into<Bytes>,
    ) -> Result<StreamId, Error>
    where
        R: AsyncRead + Unpin,
    {
        outgoing::from_reader(self, reader, len, metadata.into()).await
    }

    /// Sends a stream of pieces; see
    /// [`Socket::send_stream_from_pieces`](crate::Socket::send_stream_from_pieces).
    pub async fn send_stream_from_pieces<P>(
        &mut self,
        pieces: P,
        len: u64,
        metadata: impl Into<Bytes>,
    ) -> Result<StreamId, Error>
    where
        P: Stream<Item = std::io::Result<Bytes>> + Unpin,
    {
        outgoing::from_pieces(self, pieces, len, metadata.into()).await
    }

    /// Stops sending a stream; see
    /// [`Socket::abort_stream`](crate::Socket::abort_stream).
    pub async fn abort_stream(&mut self, id: StreamId, reason: &str) -> Result<(), Error> {
        self.shared.with(|e| e.abort_stream(id, reason))?;
        self.flush().await
    }

    /// Changes the automatic answers; see
    /// [`Socket::set_auto_response`](crate::Socket::set_auto_response).
    pub fn set_auto_response(&self, request: impl Into<Message>, response: impl Into<Message>) {
        let (request, response) = (request.into(), response.into());
        self.shared.with(|e| e.set_auto_response(request, response));
    }

    /// Sends a ping; see [`Socket::ping`](crate::Socket::ping).
    pub async fn ping(&mut self, payload: impl Into<Bytes>) -> Result<(), Error> {
        self.shared.with(|e| e.ping(payload.into()))?;
        self.flush().await
    }

    /// Sends an unsolicited pong; see [`Socket::pong`](crate::Socket::pong).
    pub async fn pong(&mut self, payload: impl Into<Bytes>) -> Result<(), Error> {
        self.shared.with(|e| e.pong(payload.into()))?;
        self.flush().await
    }

    /// Closes the connection; see [`Socket::close`](crate::Socket::close).
    /// Messages that arrive before the peer's close frame go to the read
    /// half if it still exists.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.shared.with(|e| e.start_close(code, reason))?;
        poll_fn(|cx| self.shared.poll(WRITER, cx, Engine::poll_close)).await
    }

    /// The subprotocol agreed in the handshake.
    pub fn subprotocol(&self) -> Option<&str> {
        self.shared.subprotocol.as_deref()
    }

    /// Outbound bytes accepted but not yet written to the transport.
    pub fn buffered_amount(&self) -> usize {
        self.shared.with(|e| e.buffered())
    }
}

impl<S, T> Drive<S, T> for WriteHalf<S, T>
where
    S: Transport,
    T: Timer,
{
    fn poll_engine<R>(
        &mut self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Engine<S, T>, &mut Context<'_>) -> Poll<R>,
    ) -> Poll<R> {
        self.shared.poll(WRITER, cx, f)
    }

    fn command<R>(&mut self, f: impl FnOnce(&mut Engine<S, T>) -> R) -> R {
        self.shared.with(f)
    }
}

/// The same contract as the socket's `Sink`: back-pressure in
/// `poll_ready`, everything written by `poll_flush`, the close handshake
/// (code 1000) in `poll_close`.
impl<S, T> Sink<Message> for WriteHalf<S, T>
where
    S: Transport,
    T: Timer,
{
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.poll(WRITER, cx, Engine::poll_ready)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.shared.with(|e| e.start_send(item))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.poll(WRITER, cx, Engine::poll_flush)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.with(|e| e.start_close(CloseCode::NORMAL, ""))?;
        self.shared.poll(WRITER, cx, Engine::poll_close)
    }
}
