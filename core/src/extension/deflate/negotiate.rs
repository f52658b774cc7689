//! The negotiation of permessage-deflate in the opening handshake: the
//! client's offer, the server's choice among a client's offers, and the
//! client's check of the server's answer (RFC 7692 §5 and §7.1).

use alloc::string::String;
use core::fmt;

use super::{
    push_bits, DeflateConfig, DeflateParams, CLIENT_MAX_WINDOW_BITS, CLIENT_NO_CONTEXT_TAKEOVER,
    EXTENSION_NAME, MAX_BITS, MIN_BITS, SERVER_MAX_WINDOW_BITS, SERVER_NO_CONTEXT_TAKEOVER,
};

/// Why a permessage-deflate element is not acceptable.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NegotiationError {
    /// A parameter RFC 7692 does not define.
    UnknownParameter(String),
    /// A parameter that appears more than once.
    DuplicateParameter(&'static str),
    /// A parameter whose value is missing, present where none is allowed,
    /// or not a window size in 8..=15 without leading zeros.
    InvalidValue(&'static str),
    /// The server accepted permessage-deflate more than once.
    MultipleAccepts,
    /// The server's answer leaves out a parameter the client required.
    MissingParameter(&'static str),
    /// The server chose a window larger than the client allowed.
    WindowTooLarge {
        /// What the client asked for.
        offered: u8,
        /// What the server answered.
        answered: u8,
    },
}

impl fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownParameter(name) => write!(f, "unknown parameter `{name}`"),
            Self::DuplicateParameter(name) => write!(f, "parameter `{name}` appears twice"),
            Self::InvalidValue(name) => write!(f, "invalid value for `{name}`"),
            Self::MultipleAccepts => f.write_str("accepted more than once"),
            Self::MissingParameter(name) => write!(f, "required parameter `{name}` missing"),
            Self::WindowTooLarge { offered, answered } => {
                write!(f, "window of {answered} bits exceeds the offered {offered}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for NegotiationError {}

/// One parsed permessage-deflate element, offer or answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Element {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (allowed in offers only).
    client_max_window_bits: Option<Option<u8>>,
}

/// Parses one `Sec-WebSocket-Extensions` element. `Ok(None)` when it names
/// another extension.
fn parse_element(item: &str) -> Result<Option<Element>, NegotiationError> {
    let mut parts = item.split(';').map(trim);
    if parts.next() != Some(EXTENSION_NAME) {
        return Ok(None);
    }
    let mut element = Element::default();
    for part in parts {
        let (name, value) = match part.split_once('=') {
            Some((name, value)) => (trim(name), Some(unquote(trim(value)))),
            None => (part, None),
        };
        match name {
            SERVER_NO_CONTEXT_TAKEOVER => set_flag(
                &mut element.server_no_context_takeover,
                value,
                SERVER_NO_CONTEXT_TAKEOVER,
            )?,
            CLIENT_NO_CONTEXT_TAKEOVER => set_flag(
                &mut element.client_no_context_takeover,
                value,
                CLIENT_NO_CONTEXT_TAKEOVER,
            )?,
            SERVER_MAX_WINDOW_BITS => {
                if element.server_max_window_bits.is_some() {
                    return Err(NegotiationError::DuplicateParameter(SERVER_MAX_WINDOW_BITS));
                }
                let bits = value.and_then(parse_bits);
                let bits = bits.ok_or(NegotiationError::InvalidValue(SERVER_MAX_WINDOW_BITS))?;
                element.server_max_window_bits = Some(bits);
            }
            CLIENT_MAX_WINDOW_BITS => {
                if element.client_max_window_bits.is_some() {
                    return Err(NegotiationError::DuplicateParameter(CLIENT_MAX_WINDOW_BITS));
                }
                let bits = match value {
                    None => None,
                    Some(value) => Some(
                        parse_bits(value)
                            .ok_or(NegotiationError::InvalidValue(CLIENT_MAX_WINDOW_BITS))?,
                    ),
                };
                element.client_max_window_bits = Some(bits);
            }
            other => return Err(NegotiationError::UnknownParameter(other.into())),
        }
    }
    Ok(Some(element))
}

fn set_flag(
    flag: &mut bool,
    value: Option<&str>,
    name: &'static str,
) -> Result<(), NegotiationError> {
    if value.is_some() {
        return Err(NegotiationError::InvalidValue(name));
    }
    if core::mem::replace(flag, true) {
        return Err(NegotiationError::DuplicateParameter(name));
    }
    Ok(())
}

fn trim(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

/// A value may be a token or a quoted-string with the same content
/// (RFC 7692 §7.1); window sizes never need escapes.
fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// A decimal window size in 8..=15 without leading zeros.
fn parse_bits(value: &str) -> Option<u8> {
    if value.starts_with('0') || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bits: u8 = value.parse().ok()?;
    (MIN_BITS..=MAX_BITS).contains(&bits).then_some(bits)
}

/// The `Sec-WebSocket-Extensions` element a client offers for `config`.
///
/// ```
/// use wscore::DeflateConfig;
/// use wscore::wire::client_offer;
///
/// assert_eq!(
///     client_offer(&DeflateConfig::default()),
///     "permessage-deflate; client_max_window_bits"
/// );
/// let small = DeflateConfig::default().server_max_window_bits(10).client_max_window_bits(12);
/// assert_eq!(
///     client_offer(&small),
///     "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12"
/// );
/// ```
pub fn client_offer(config: &DeflateConfig) -> String {
    let mut out = String::from(EXTENSION_NAME);
    if config.server_no_context_takeover {
        out.push_str("; ");
        out.push_str(SERVER_NO_CONTEXT_TAKEOVER);
    }
    if config.client_no_context_takeover {
        out.push_str("; ");
        out.push_str(CLIENT_NO_CONTEXT_TAKEOVER);
    }
    if config.server_max_window_bits < MAX_BITS {
        out.push_str("; ");
        out.push_str(SERVER_MAX_WINDOW_BITS);
        out.push('=');
        push_bits(&mut out, config.server_max_window_bits);
    }
    // Always present: it tells the server we can honour a limit.
    out.push_str("; ");
    out.push_str(CLIENT_MAX_WINDOW_BITS);
    if config.client_max_window_bits < MAX_BITS {
        out.push('=');
        push_bits(&mut out, config.client_max_window_bits);
    }
    out
}

/// The server's side of the negotiation: the parameters for the first of the
/// client's `offers` that is well formed, or `None` to proceed uncompressed.
///
/// ```
/// use wscore::DeflateConfig;
/// use wscore::wire::negotiate_server;
///
/// let offers = [
///     "permessage-deflate; server_max_window_bits=99".to_string(), // malformed: declined
///     "permessage-deflate; client_max_window_bits".to_string(),
/// ];
/// let params = negotiate_server(&offers, &DeflateConfig::default()).unwrap();
/// assert_eq!(params.to_header_value(), "permessage-deflate");
/// ```
pub fn negotiate_server(offers: &[String], config: &DeflateConfig) -> Option<DeflateParams> {
    offers.iter().find_map(|offer| {
        let offer = parse_element(offer).ok()??;
        let server_max_window_bits = match offer.server_max_window_bits {
            Some(bits) => Some(bits.min(config.server_max_window_bits)),
            None => {
                (config.server_max_window_bits < MAX_BITS).then_some(config.server_max_window_bits)
            }
        };
        // A limit on the client's window may only be set when the client
        // said it supports one.
        let client_max_window_bits = match offer.client_max_window_bits {
            None => None,
            Some(offered) => {
                let bits = offered
                    .unwrap_or(MAX_BITS)
                    .min(config.client_max_window_bits);
                (bits < MAX_BITS).then_some(bits)
            }
        };
        Some(DeflateParams {
            server_no_context_takeover: offer.server_no_context_takeover
                || config.server_no_context_takeover,
            client_no_context_takeover: offer.client_no_context_takeover
                || config.client_no_context_takeover,
            server_max_window_bits,
            client_max_window_bits,
        })
    })
}

/// The client's side of the negotiation: checks the server's `accepted`
/// extensions against what [`client_offer`] asked for. `Ok(None)` when the
/// server declined permessage-deflate; an error fails the handshake.
///
/// ```
/// use wscore::{DeflateConfig, NegotiationError};
/// use wscore::wire::negotiate_client;
///
/// let config = DeflateConfig::default().server_max_window_bits(10);
/// let ok = ["permessage-deflate; server_max_window_bits=9".to_string()];
/// assert_eq!(negotiate_client(&ok, &config).unwrap().unwrap().server_max_window_bits, Some(9));
/// let too_big = ["permessage-deflate; server_max_window_bits=12".to_string()];
/// assert_eq!(
///     negotiate_client(&too_big, &config),
///     Err(NegotiationError::WindowTooLarge { offered: 10, answered: 12 })
/// );
/// ```
pub fn negotiate_client(
    accepted: &[String],
    config: &DeflateConfig,
) -> Result<Option<DeflateParams>, NegotiationError> {
    let mut found = None;
    for item in accepted {
        let Some(element) = parse_element(item)? else {
            continue;
        };
        if found.replace(element).is_some() {
            return Err(NegotiationError::MultipleAccepts);
        }
    }
    let Some(answer) = found else {
        return Ok(None);
    };
    if config.server_no_context_takeover && !answer.server_no_context_takeover {
        return Err(NegotiationError::MissingParameter(
            SERVER_NO_CONTEXT_TAKEOVER,
        ));
    }
    if config.server_max_window_bits < MAX_BITS {
        let offered = config.server_max_window_bits;
        match answer.server_max_window_bits {
            None => return Err(NegotiationError::MissingParameter(SERVER_MAX_WINDOW_BITS)),
            Some(answered) if answered > offered => {
                return Err(NegotiationError::WindowTooLarge { offered, answered })
            }
            Some(_) => {}
        }
    }
    let client_max_window_bits = match answer.client_max_window_bits {
        None => None,
        Some(None) => return Err(NegotiationError::InvalidValue(CLIENT_MAX_WINDOW_BITS)),
        Some(Some(bits)) => Some(bits),
    };
    Ok(Some(DeflateParams {
        server_no_context_takeover: answer.server_no_context_takeover,
        client_no_context_takeover: answer.client_no_context_takeover,
        server_max_window_bits: answer.server_max_window_bits,
        client_max_window_bits,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use quickcheck::quickcheck;

    fn offer(s: &str) -> Vec<String> {
        vec![s.into()]
    }

    #[test]
    fn parses_every_parameter_and_rejects_malformed_ones() {
        let e = parse_element(
            "permessage-deflate; server_no_context_takeover;client_no_context_takeover; \
             server_max_window_bits=\"10\"; client_max_window_bits",
        );
        assert_eq!(
            e,
            Ok(Some(Element {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                server_max_window_bits: Some(10),
                client_max_window_bits: Some(None),
            }))
        );
        assert_eq!(parse_element("x-other; a=1"), Ok(None));
        let cases: [(&str, NegotiationError); 8] = [
            (
                "permessage-deflate; x",
                NegotiationError::UnknownParameter("x".into()),
            ),
            (
                "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                NegotiationError::DuplicateParameter(SERVER_NO_CONTEXT_TAKEOVER),
            ),
            (
                "permessage-deflate; client_no_context_takeover=1",
                NegotiationError::InvalidValue(CLIENT_NO_CONTEXT_TAKEOVER),
            ),
            (
                "permessage-deflate; server_max_window_bits",
                NegotiationError::InvalidValue(SERVER_MAX_WINDOW_BITS),
            ),
            (
                "permessage-deflate; server_max_window_bits=7",
                NegotiationError::InvalidValue(SERVER_MAX_WINDOW_BITS),
            ),
            (
                "permessage-deflate; server_max_window_bits=016",
                NegotiationError::InvalidValue(SERVER_MAX_WINDOW_BITS),
            ),
            (
                "permessage-deflate; client_max_window_bits=16",
                NegotiationError::InvalidValue(CLIENT_MAX_WINDOW_BITS),
            ),
            (
                "permessage-deflate; client_max_window_bits=9; client_max_window_bits",
                NegotiationError::DuplicateParameter(CLIENT_MAX_WINDOW_BITS),
            ),
        ];
        for (text, error) in cases {
            assert_eq!(parse_element(text), Err(error), "{text}");
        }
    }

    #[test]
    fn server_takes_the_first_acceptable_offer() {
        let config = DeflateConfig::default();
        let offers = vec![
            "x-webkit-deflate-frame".into(),
            "permessage-deflate; bogus".into(),
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12".into(),
            "permessage-deflate".into(),
        ];
        let params = negotiate_server(&offers, &config).unwrap();
        assert_eq!(
            params,
            DeflateParams {
                server_max_window_bits: Some(10),
                client_max_window_bits: Some(12),
                ..DeflateParams::default()
            }
        );
        assert_eq!(
            params.to_header_value(),
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12"
        );
        assert_eq!(
            negotiate_server(&offer("permessage-deflate; x=1"), &config),
            None
        );
        assert_eq!(negotiate_server(&[], &config), None);
    }

    #[test]
    fn server_applies_its_own_limits() {
        let config = DeflateConfig::default()
            .server_no_context_takeover(true)
            .client_no_context_takeover(true)
            .server_max_window_bits(11)
            .client_max_window_bits(9);
        // A client that cannot limit its window is not sent a limit.
        let params = negotiate_server(&offer("permessage-deflate"), &config).unwrap();
        assert_eq!(
            params.to_header_value(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=11"
        );
        let params = negotiate_server(
            &offer("permessage-deflate; client_max_window_bits; server_max_window_bits=13"),
            &config,
        )
        .unwrap();
        assert_eq!(params.server_max_window_bits, Some(11));
        assert_eq!(params.client_max_window_bits, Some(9));
    }

    #[test]
    fn client_checks_the_answer() {
        let config = DeflateConfig::default()
            .server_no_context_takeover(true)
            .server_max_window_bits(10);
        let good =
            offer("permessage-deflate; server_no_context_takeover; server_max_window_bits=8");
        assert_eq!(
            negotiate_client(&good, &config),
            Ok(Some(DeflateParams {
                server_no_context_takeover: true,
                server_max_window_bits: Some(8),
                ..DeflateParams::default()
            }))
        );
        assert_eq!(
            negotiate_client(
                &offer("permessage-deflate; server_max_window_bits=10"),
                &config
            ),
            Err(NegotiationError::MissingParameter(
                SERVER_NO_CONTEXT_TAKEOVER
            ))
        );
        assert_eq!(
            negotiate_client(
                &offer("permessage-deflate; server_no_context_takeover"),
                &config
            ),
            Err(NegotiationError::MissingParameter(SERVER_MAX_WINDOW_BITS))
        );
        let plain = DeflateConfig::default();
        assert_eq!(
            negotiate_client(&offer("permessage-deflate; client_max_window_bits"), &plain),
            Err(NegotiationError::InvalidValue(CLIENT_MAX_WINDOW_BITS))
        );
        let twice = vec!["permessage-deflate".into(), "permessage-deflate".into()];
        assert_eq!(
            negotiate_client(&twice, &plain),
            Err(NegotiationError::MultipleAccepts)
        );
        assert_eq!(negotiate_client(&offer("x-other"), &plain), Ok(None));
        assert_eq!(negotiate_client(&[], &plain), Ok(None));
    }

    #[test]
    fn offers_round_trip_through_the_server() {
        for server_bits in MIN_BITS..=MAX_BITS {
            for client_bits in MIN_BITS..=MAX_BITS {
                let config = DeflateConfig::default()
                    .server_max_window_bits(server_bits)
                    .client_max_window_bits(client_bits);
                let offered = offer(&client_offer(&config));
                let params = negotiate_server(&offered, &DeflateConfig::default()).unwrap();
                let answer = offer(&params.to_header_value());
                assert_eq!(negotiate_client(&answer, &config), Ok(Some(params)));
            }
        }
    }

    quickcheck! {
        fn parse_never_panics(s: String) -> bool {
            let _ = parse_element(&s);
            let _ = negotiate_server(core::slice::from_ref(&s), &DeflateConfig::default());
            let _ = negotiate_client(&[s], &DeflateConfig::default());
            true
        }
    }
}
