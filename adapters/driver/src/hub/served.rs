//! Every member of a hub driven from one task: one stream of
//! `(MemberId, HubEvent)` for all of them, with commands by id on the hub.
//!
//! Each member has its own waker, so a poll of the stream visits only the
//! members whose transport, timer or hub queue has news: an idle member
//! costs no poll and no task.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{ready, Context, Poll, Waker};

use crate::io::Transport;
use futures_core::Stream;
use futures_util::stream::SelectAll;
use wscore::{HibernateError, MemberId};

use super::hibernate::{HibernateRefusal, Shared, Sleeper};
use super::Member;
use crate::engine::Wake;
use crate::{Config, Error, Event, Timer};

/// What [`Served`] reports about one member.
#[derive(Debug)]
#[non_exhaustive]
pub enum HubEvent {
    /// An event of the member's socket (see [`Socket::next_event`](crate::Socket::next_event)).
    Event(Event),
    /// The member's connection ended and it left the hub: `None` after a
    /// clean close handshake, the error otherwise. Nothing more comes for
    /// this id.
    Ended(Option<Error>),
    /// The member waited for its next event, with nothing received, for
    /// longer than [`HubConfig::dormant_after`](super::HubConfig::dormant_after).
    /// Reported once per change; a frame received makes it parked again,
    /// and it may become dormant again later.
    Dormant,
    /// The member is dormant and [`HubConfig::hibernate`](super::HubConfig::hibernate)
    /// is on, but it stays awake, for this reason. Reported once, after
    /// [`HubEvent::Dormant`] or after a wake that did not concern the
    /// application.
    HibernateRefused(HibernateRefusal),
}

/// Members added from other tasks, waiting to be driven.
struct Incoming<S, T, R: Ord + Clone> {
    members: Vec<Member<S, T, R>>,
    waker: Option<Waker>,
}

type SharedIncoming<S, T, R> = Arc<Mutex<Incoming<S, T, R>>>;

/// Drives every [`Member`] added to it from the task that polls it: a
/// [`Stream`] of `(MemberId, HubEvent)`. Reply, join, leave and close with
/// the hub's commands by id ([`Hub::send`], [`Hub::join`], [`Hub::close`],
/// …); what they queue is written the next time the stream is polled.
///
/// [`Hub::send`]: super::Hub::send
/// [`Hub::join`]: super::Hub::join
/// [`Hub::close`]: super::Hub::close
///
/// Members come in through [`Served::add`], or through an [`Adder`] from
/// the task that accepts connections. The stream ends once it drives no
/// member and every [`Adder`] is gone.
///
/// ```no_run
/// # use wscore_driver::hub::{Hub, HubEvent, Served};
/// # use wscore_driver::Event;
/// # async fn run<S, T>(hub: Hub, mut served: Served<S, T>)
/// # where S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin, T: wscore_driver::Timer {
/// use futures::StreamExt;
/// while let Some((id, event)) = served.next().await {
///     if let HubEvent::Event(Event::Message(message)) = event {
///         for room in hub.rooms_of(id) {
///             hub.publish_except(&room, id, message.clone());
///         }
///     }
/// }
/// # }
/// ```
pub struct Served<S, T, R: Ord + Clone = String> {
    members: SelectAll<Driven<S, T, R>>,
    incoming: SharedIncoming<S, T, R>,
    /// What hibernated members are rebuilt with.
    config: Option<Shared>,
}

/// Adds members to a [`Served`] from another task; cheap to clone.
pub struct Adder<S, T, R: Ord + Clone = String> {
    incoming: Weak<Mutex<Incoming<S, T, R>>>,
}

impl<S, T, R: Ord + Clone> Clone for Adder<S, T, R> {
    fn clone(&self) -> Self {
        Adder {
            incoming: Weak::clone(&self.incoming),
        }
    }
}

impl<S, T, R: Ord + Clone> std::fmt::Debug for Adder<S, T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Adder").finish_non_exhaustive()
    }
}

impl<S, T, R> std::fmt::Debug for Served<S, T, R>
where
    S: Transport,
    T: Timer,
    R: Ord + Clone,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served")
            .field("members", &self.members.len())
            .finish_non_exhaustive()
    }
}

fn lock<S, T, R: Ord + Clone>(
    incoming: &Mutex<Incoming<S, T, R>>,
) -> std::sync::MutexGuard<'_, Incoming<S, T, R>> {
    incoming.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<S, T, R: Ord + Clone> Adder<S, T, R> {
    /// Hands `member` to the [`Served`] stream; gives it back if that
    /// stream is gone.
    pub fn add(&self, member: Member<S, T, R>) -> Result<(), Box<Member<S, T, R>>> {
        let Some(incoming) = self.incoming.upgrade() else {
            return Err(Box::new(member));
        };
        let mut incoming = lock(&incoming);
        incoming.members.push(member);
        if let Some(waker) = incoming.waker.take() {
            waker.wake();
        }
        Ok(())
    }
}

impl<S, T, R> Served<S, T, R>
where
    S: Transport,
    T: Timer,
    R: Ord + Clone,
{
    /// A stream driving no member yet.
    pub fn new() -> Self {
        Served {
            members: SelectAll::new(),
            incoming: Arc::new(Mutex::new(Incoming {
                members: Vec::new(),
                waker: None,
            })),
            config: None,
        }
    }

    /// A stream driving no member yet, whose members were all accepted
    /// with `config`: a dormant member hibernates
    /// ([`HubConfig::hibernate`](super::HubConfig::hibernate)) and is
    /// rebuilt with it. One configuration shared by every member, never
    /// a copy per member.
    pub fn with_config(config: impl Into<Arc<Config>>) -> Self {
        Served {
            config: Some(config.into()),
            ..Served::new()
        }
    }

    /// Members hibernated now.
    pub fn dormant_count(&self) -> usize {
        self.members
            .iter()
            .filter(|driven| matches!(driven, Driven::Asleep { .. }))
            .count()
    }

    /// Bytes the hibernated members hold: the entry each keeps in the
    /// stream, its sleeper (transport, clock and timer, place in the hub,
    /// the core's record) and the heap of that record; not what the
    /// transport itself holds, nor the stream's per-entry bookkeeping.
    pub fn dormant_bytes(&self) -> usize {
        self.members
            .iter()
            .map(|driven| match driven {
                Driven::Asleep { sleeper, .. } => {
                    std::mem::size_of::<Driven<S, T, R>>()
                        + std::mem::size_of::<Sleeper<S, T, R>>()
                        + sleeper.heap_size()
                }
                _ => 0,
            })
            .sum()
    }

    /// A handle that adds members from another task.
    pub fn adder(&self) -> Adder<S, T, R> {
        Adder {
            incoming: Arc::downgrade(&self.incoming),
        }
    }

    /// Members being driven (those added and not yet ended).
    pub fn len(&self) -> usize {
        self.members.len() + lock(&self.incoming).members.len()
    }

    /// Whether no member is being driven.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drives `member` from this stream.
    pub fn add(&mut self, member: Member<S, T, R>) {
        self.members
            .push(Driven::awake(member, self.config.clone()));
    }
}

impl<S, T, R> Default for Served<S, T, R>
where
    S: Transport,
    T: Timer,
    R: Ord + Clone,
{
    fn default() -> Self {
        Served::new()
    }
}

impl<S, T, R> Stream for Served<S, T, R>
where
    S: Transport,
    T: Timer,
    R: Ord + Clone,
{
    type Item = (MemberId, HubEvent);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let adders_gone = {
            let mut incoming = lock(&this.incoming);
            for member in incoming.members.drain(..) {
                this.members
                    .push(Driven::awake(member, this.config.clone()));
            }
            incoming.waker = Some(cx.waker().clone());
            Arc::weak_count(&this.incoming) == 0
        };
        match Pin::new(&mut this.members).poll_next(cx) {
            Poll::Ready(Some(item)) => Poll::Ready(Some(item)),
            Poll::Ready(None) if adders_gone => Poll::Ready(None),
            // No member now; an adder may bring one.
            Poll::Ready(None) | Poll::Pending => Poll::Pending,
        }
    }
}

/// One member's events, tagged with its id, ending with
/// [`HubEvent::Ended`]: awake, hibernated, or ended. Both states are
/// boxed, so the entry the stream keeps is small whichever it is in, and
/// a hibernated member holds only its sleeper.
enum Driven<S, T, R: Ord + Clone> {
    Awake(Awake<S, T, R>),
    Asleep {
        id: MemberId,
        sleeper: Box<Sleeper<S, T, R>>,
        config: Shared,
    },
    /// The end was reported.
    Ended,
}

struct Awake<S, T, R: Ord + Clone> {
    id: MemberId,
    member: Box<Member<S, T, R>>,
    config: Option<Shared>,
    /// A refusal to report at the next poll.
    refused: Option<HibernateRefusal>,
    /// Woken from hibernation and nothing told to the application since:
    /// it goes back to sleep once what woke it is handled.
    woken: bool,
}

impl<S, T, R: Ord + Clone> Driven<S, T, R> {
    fn awake(member: Member<S, T, R>, config: Option<Shared>) -> Self {
        Driven::Awake(Awake {
            id: member.id(),
            member: Box::new(member),
            config,
            refused: None,
            woken: false,
        })
    }
}

impl<S, T, R> Driven<S, T, R>
where
    S: Transport,
    T: Timer,
    R: Ord + Clone,
{
    /// Hibernates an awake dormant member if it can; the refusal
    /// otherwise.
    fn try_hibernate(&mut self) -> Result<(), HibernateRefusal> {
        let Driven::Awake(awake) = self else {
            return Ok(());
        };
        let Some(config) = awake.config.clone() else {
            return Err(HibernateRefusal::NoConfig);
        };
        awake
            .member
            .can_hibernate()
            .map_err(HibernateRefusal::Connection)?;
        let Driven::Awake(awake) = std::mem::replace(self, Driven::Ended) else {
            return Ok(());
        };
        match (*awake.member).hibernate(&config) {
            Ok(sleeper) => {
                *self = Driven::Asleep {
                    id: awake.id,
                    sleeper: Box::new(sleeper),
                    config,
                };
                Ok(())
            }
            Err((member, error)) => {
                *self = Driven::Awake(Awake { member, ..awake });
                Err(HibernateRefusal::Connection(error))
            }
        }
    }
}

impl<S, T, R> Stream for Driven<S, T, R>
where
    S: Transport,
    T: Timer,
    R: Ord + Clone,
{
    type Item = (MemberId, HubEvent);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let awake = match this {
                Driven::Ended => return Poll::Ready(None),
                Driven::Asleep { id, sleeper, .. } => {
                    let wake = ready!(sleeper.poll_wake(cx));
                    if let Wake::Alarm = wake {
                        if sleeper.note_alarm() {
                            return Poll::Ready(Some((*id, HubEvent::Dormant)));
                        }
                        // Not yet by the clock: wait for the timer again.
                        continue;
                    }
                    let Driven::Asleep {
                        id,
                        sleeper,
                        config,
                    } = std::mem::replace(this, Driven::Ended)
                    else {
                        return Poll::Ready(None);
                    };
                    match Member::wake(*sleeper, &config, wake) {
                        Ok(member) => {
                            *this = Driven::Awake(Awake {
                                id,
                                member: Box::new(member),
                                config: Some(config),
                                refused: None,
                                woken: true,
                            });
                            continue;
                        }
                        // The sleeper was dropped: it left the hub.
                        Err(error) => return Poll::Ready(Some((id, HubEvent::Ended(Some(error))))),
                    }
                }
                Driven::Awake(awake) => awake,
            };
            let id = awake.id;
            if let Some(refusal) = awake.refused.take() {
                return Poll::Ready(Some((id, HubEvent::HibernateRefused(refusal))));
            }
            let hibernate = awake.member.hub().config().hibernate;
            let event = match awake.member.poll_next_in_hub(cx) {
                Poll::Pending if awake.member.poll_dormant(cx) => {
                    if hibernate {
                        if let Err(refusal) = this.try_hibernate() {
                            if let Driven::Awake(awake) = this {
                                awake.refused = Some(refusal);
                            }
                            cx.waker().wake_by_ref();
                        }
                    }
                    HubEvent::Dormant
                }
                Poll::Pending => {
                    if awake.woken {
                        // What woke it is handled: back to sleep, or say
                        // once why not (a write the transport has not
                        // taken yet passes).
                        match this.try_hibernate() {
                            Ok(())
                            | Err(HibernateRefusal::Connection(HibernateError::OutputQueued)) => {}
                            // Closing: its end is what comes next.
                            Err(HibernateRefusal::Connection(HibernateError::NotOpen)) => {
                                if let Driven::Awake(awake) = this {
                                    awake.woken = false;
                                }
                            }
                            Err(refusal) => {
                                if let Driven::Awake(awake) = this {
                                    awake.woken = false;
                                }
                                return Poll::Ready(Some((
                                    id,
                                    HubEvent::HibernateRefused(refusal),
                                )));
                            }
                        }
                        if matches!(this, Driven::Asleep { .. }) {
                            continue;
                        }
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Some(Ok(Event::Ping(_) | Event::Pong(_)))) if awake.woken => {
                    // Answered by the connection itself: the application
                    // is not woken for it.
                    awake.member.not_handed_out();
                    continue;
                }
                Poll::Ready(Some(Ok(event))) => {
                    awake.woken = false;
                    HubEvent::Event(event)
                }
                Poll::Ready(Some(Err(error))) => HubEvent::Ended(Some(error)),
                Poll::Ready(None) => HubEvent::Ended(None),
            };
            if matches!(event, HubEvent::Ended(_)) {
                // Dropping the member leaves the hub and frees its socket.
                *this = Driven::Ended;
            }
            return Poll::Ready(Some((id, event)));
        }
    }
}
