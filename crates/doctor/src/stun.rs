//! The few STUN bytes `turn.allocate` needs (RFC 8489 messages, RFC 8656 TURN): an Allocate
//! request asking for a UDP relay, and what its answer says. Written here rather than taken
//! from a STUN crate: one request and three attributes of the answer.

/// STUN's magic cookie, the second word of every message.
const MAGIC_COOKIE: u32 = 0x2112_A442;
/// Length of the message header: type, length, cookie, transaction id.
pub(crate) const HEADER_LEN: usize = 20;
/// Allocate request, success response and error response (method 0x003).
const ALLOCATE_REQUEST: u16 = 0x0003;
const ALLOCATE_SUCCESS: u16 = 0x0103;
const ALLOCATE_ERROR: u16 = 0x0113;
/// Attribute types.
const REQUESTED_TRANSPORT: u16 = 0x0019;
const ERROR_CODE: u16 = 0x0009;
const REALM: u16 = 0x0014;
const NONCE: u16 = 0x0015;
/// The IANA protocol number of UDP, the only transport a TURN relay offers clients.
const UDP: u8 = 17;

/// An Allocate request for a UDP relay, without credentials: a TURN server answers it with
/// 401 and the REALM and NONCE to authenticate with.
pub(crate) fn allocate_request(transaction_id: [u8; 12]) -> Vec<u8> {
    let mut message = Vec::with_capacity(HEADER_LEN + 8);
    message.extend_from_slice(&ALLOCATE_REQUEST.to_be_bytes());
    // One attribute: 4 bytes of header, 4 of value.
    message.extend_from_slice(&8u16.to_be_bytes());
    message.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
    message.extend_from_slice(&transaction_id);
    message.extend_from_slice(&REQUESTED_TRANSPORT.to_be_bytes());
    message.extend_from_slice(&4u16.to_be_bytes());
    // The protocol, then three bytes reserved for future use.
    message.extend_from_slice(&[UDP, 0, 0, 0]);
    message
}

/// The length of the body that follows a STUN header, or `None` if `header` is not one.
pub(crate) fn body_len(header: &[u8; HEADER_LEN]) -> Option<usize> {
    let cookie = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    // The two top bits of every STUN message type are zero.
    (cookie == MAGIC_COOKIE && header[0] & 0xC0 == 0)
        .then(|| usize::from(u16::from_be_bytes([header[2], header[3]])))
}

/// What the answer to an Allocate request says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AllocateAnswer {
    /// An error response with its code, and whether it carried a REALM and a NONCE.
    Error {
        /// The ERROR-CODE (401 for "authenticate first").
        code: u16,
        /// The REALM attribute, if present.
        realm: Option<String>,
        /// Whether a NONCE attribute was present.
        nonce: bool,
    },
    /// A success response: a relay was allocated without credentials.
    Success,
    /// A STUN message, but not an answer to this request.
    Other(String),
}

/// Reads the answer to the request with `transaction_id` from a whole message.
pub(crate) fn parse_answer(message: &[u8], transaction_id: [u8; 12]) -> AllocateAnswer {
    let Some(header) = message.get(..HEADER_LEN) else {
        return AllocateAnswer::Other(format!("a {}-byte message", message.len()));
    };
    if header[8..HEADER_LEN] != transaction_id {
        return AllocateAnswer::Other("a message for another transaction".to_owned());
    }
    let message_type = u16::from_be_bytes([header[0], header[1]]);
    let attributes = attributes(&message[HEADER_LEN..]);
    match message_type {
        ALLOCATE_SUCCESS => AllocateAnswer::Success,
        ALLOCATE_ERROR => {
            let code = attributes
                .iter()
                .find(|(kind, _)| *kind == ERROR_CODE)
                .and_then(|(_, value)| {
                    // Two reserved bytes, the class (hundreds) and the number.
                    let class = u16::from(*value.get(2)? & 0x07);
                    let number = u16::from(*value.get(3)?);
                    Some(class * 100 + number)
                })
                .unwrap_or(0);
            let realm = attributes
                .iter()
                .find(|(kind, _)| *kind == REALM)
                .map(|(_, value)| String::from_utf8_lossy(value).into_owned());
            let nonce = attributes.iter().any(|(kind, _)| *kind == NONCE);
            AllocateAnswer::Error { code, realm, nonce }
        }
        other => AllocateAnswer::Other(format!("a STUN message of type {other:#06x}")),
    }
}

/// The attributes of a message body, each type with its value (padding dropped). A truncated
/// attribute ends the list.
fn attributes(mut body: &[u8]) -> Vec<(u16, &[u8])> {
    let mut found = Vec::new();
    while body.len() >= 4 {
        let kind = u16::from_be_bytes([body[0], body[1]]);
        let len = usize::from(u16::from_be_bytes([body[2], body[3]]));
        let Some(value) = body.get(4..4 + len) else {
            break;
        };
        found.push((kind, value));
        let padded = (4 + len).next_multiple_of(4);
        body = body.get(padded..).unwrap_or_default();
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: [u8; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

    #[test]
    fn the_allocate_request_asks_for_a_udp_relay() {
        assert_eq!(
            allocate_request(ID),
            [
                0x00, 0x03, 0x00, 0x08, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                12, 0x00, 0x19, 0x00, 0x04, 17, 0, 0, 0,
            ]
        );
    }

    #[test]
    fn a_401_with_realm_and_nonce_is_read() {
        let mut message = vec![0x01, 0x13, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
        message.extend_from_slice(&ID);
        // ERROR-CODE 401 "Unauthorized" (12 bytes of reason, no padding needed).
        message.extend_from_slice(&[0x00, 0x09, 0x00, 0x10, 0, 0, 4, 1]);
        message.extend_from_slice(b"Unauthorized");
        // REALM "test" and a 5-byte NONCE padded to 8.
        message.extend_from_slice(&[0x00, 0x14, 0x00, 0x04]);
        message.extend_from_slice(b"test");
        message.extend_from_slice(&[0x00, 0x15, 0x00, 0x05]);
        message.extend_from_slice(b"abcde\0\0\0");
        let body = u16::try_from(message.len() - HEADER_LEN).unwrap();
        message[2..4].copy_from_slice(&body.to_be_bytes());

        let header: [u8; HEADER_LEN] = message[..HEADER_LEN].try_into().unwrap();
        assert_eq!(body_len(&header), Some(usize::from(body)));
        assert_eq!(
            parse_answer(&message, ID),
            AllocateAnswer::Error {
                code: 401,
                realm: Some("test".to_owned()),
                nonce: true,
            }
        );
    }

    #[test]
    fn an_http_answer_is_not_a_stun_header() {
        let header: [u8; HEADER_LEN] = *b"HTTP/1.1 400 Bad Req";
        assert_eq!(body_len(&header), None);
    }
}
