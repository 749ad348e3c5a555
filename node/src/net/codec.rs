//! The wire format of both request-response protocols: one length-prefixed frame of opaque bytes per direction.
//!
//! A frame is a 4-byte big-endian length followed by that many bytes.
//! The length is checked against the limit *before* anything is allocated or read,
//! so a peer cannot make us buffer more than [`BytesCodec::message_bytes_max`] bytes.
//! The same check runs on the sending side, so an oversize message fails locally instead of on the peer.

use std::fmt;
use std::io;
use std::sync::Arc;

use libp2p::StreamProtocol;
use libp2p::futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::request_response;

/// Length of the frame header, in bytes.
const FRAME_HEADER_BYTES: usize = 4;

/// Called with the announced length whenever an inbound frame is refused for its size.
///
/// libp2p's request-response behaviour reports a failed `read_request` only at debug level,
/// so the codec reports refusals itself.
pub type OversizeObserver = Arc<dyn Fn(u64) + Send + Sync>;

/// A request-response codec for opaque byte messages with a size limit.
#[derive(Clone)]
pub struct BytesCodec {
    /// The largest message, in bytes, accepted in either direction.
    pub message_bytes_max: u32,
    oversize_observer: Option<OversizeObserver>,
}

impl fmt::Debug for BytesCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BytesCodec")
            .field("message_bytes_max", &self.message_bytes_max)
            .finish_non_exhaustive()
    }
}

impl BytesCodec {
    /// Creates a codec that refuses messages larger than `message_bytes_max`.
    pub fn new(message_bytes_max: u32) -> BytesCodec {
        BytesCodec {
            message_bytes_max,
            oversize_observer: None,
        }
    }

    /// Returns the codec with `observer` called for every inbound frame refused for its size.
    pub fn with_oversize_observer(mut self, observer: OversizeObserver) -> BytesCodec {
        self.oversize_observer = Some(observer);
        self
    }

    /// Reads one frame, refusing it before reading the body if its length exceeds the limit.
    async fn read_frame<T>(&self, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut header = [0_u8; FRAME_HEADER_BYTES];
        io.read_exact(&mut header).await?;
        let length = u32::from_be_bytes(header);
        if length > self.message_bytes_max {
            tracing::warn!(
                length,
                limit = self.message_bytes_max,
                "inbound message refused: too large"
            );
            if let Some(observer) = &self.oversize_observer {
                observer(u64::from(length));
            }
            return Err(oversize(u64::from(length), self.message_bytes_max));
        }
        let mut bytes = vec![0_u8; length as usize];
        io.read_exact(&mut bytes).await?;
        assert_eq!(bytes.len(), length as usize);
        Ok(bytes)
    }

    /// Writes one frame and closes the stream's write side, which marks the end of the message.
    async fn write_frame<T>(&self, io: &mut T, bytes: &[u8]) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let length = u32::try_from(bytes.len())
            .ok()
            .filter(|length| *length <= self.message_bytes_max)
            .ok_or_else(|| oversize(bytes.len() as u64, self.message_bytes_max))?;
        io.write_all(&length.to_be_bytes()).await?;
        io.write_all(bytes).await?;
        io.close().await
    }
}

fn oversize(length: u64, limit: u32) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("message of {length} bytes exceeds the limit of {limit} bytes"),
    )
}

impl request_response::Codec for BytesCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        self.read_frame(io).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        self.read_frame(io).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        self.write_frame(io, &request).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        self.write_frame(io, &response).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::futures::executor::block_on;
    use libp2p::futures::io::Cursor;
    use libp2p::request_response::Codec as _;

    const PROTOCOL: StreamProtocol = StreamProtocol::new("/test/1");

    fn encode(codec: &mut BytesCodec, bytes: Vec<u8>) -> io::Result<Vec<u8>> {
        let mut buffer = Cursor::new(Vec::new());
        block_on(codec.write_request(&PROTOCOL, &mut buffer, bytes))?;
        Ok(buffer.into_inner())
    }

    #[test]
    fn round_trip_including_empty() {
        let mut codec = BytesCodec::new(16);
        for message in [vec![], vec![7], vec![1; 16]] {
            let frame = encode(&mut codec, message.clone()).unwrap();
            assert_eq!(frame.len(), FRAME_HEADER_BYTES + message.len());
            let decoded =
                block_on(codec.read_response(&PROTOCOL, &mut Cursor::new(frame))).unwrap();
            assert_eq!(decoded, message);
        }
    }

    #[test]
    fn sender_refuses_oversize() {
        let mut codec = BytesCodec::new(16);
        let error = encode(&mut codec, vec![0; 17]).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            error.to_string(),
            "message of 17 bytes exceeds the limit of 16 bytes"
        );
    }

    #[test]
    fn receiver_refuses_oversize_header_without_reading_body() {
        // A header that claims 4 GiB followed by nothing: the codec must fail on the header alone.
        let frame = u32::MAX.to_be_bytes().to_vec();
        let refused = Arc::new(std::sync::Mutex::new(Vec::new()));
        let observed = Arc::clone(&refused);
        let mut codec = BytesCodec::new(16).with_oversize_observer(Arc::new(move |length| {
            observed.lock().unwrap().push(length);
        }));
        let error = block_on(codec.read_request(&PROTOCOL, &mut Cursor::new(frame))).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert_eq!(*refused.lock().unwrap(), vec![u64::from(u32::MAX)]);
    }

    #[test]
    fn truncated_frame_is_an_error() {
        let mut frame = 10_u32.to_be_bytes().to_vec();
        frame.extend_from_slice(&[1, 2, 3]);
        let mut codec = BytesCodec::new(16);
        let error = block_on(codec.read_request(&PROTOCOL, &mut Cursor::new(frame))).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }
}
