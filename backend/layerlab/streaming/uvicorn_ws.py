"""uvicorn's sans-io websocket protocol plus one ASGI extension: write a pre-encoded frame as is.

A server-to-client websocket frame is unmasked, so its bytes are the same for every subscriber: the hub
frames each event once and this lets a subscriber hand those bytes to its transport directly, instead of
every subscriber re-framing the same payload through the ASGI send path (several Python layers and a task
wake-up per subscriber per event). Flow control is uvicorn's own: `write` refuses while the transport has
paused writing, and `wait` waits for it to resume. Everything else — handshake, ping/pong, close — is
uvicorn's unchanged; servers without this protocol simply lack the extension and the ASGI path is used.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

RAW_FRAMES = "layerlab.raw_frames"


class RawFrames:
    """The extension object found at scope["extensions"]["layerlab.raw_frames"]."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol

    def writable(self) -> bool:
        p = self._protocol
        return (p.writable.is_set() and p.handshake_complete and not p.close_sent and not p.disconnected
                and not p.transport.is_closing())

    def write(self, frame: bytes) -> bool:
        """Queue one complete frame on the transport now; False (nothing written) if it cannot take it."""
        if not self.writable():
            return False
        self._protocol.transport.write(frame)
        return True

    async def wait(self) -> bool:
        """Until the transport takes data again; False if the connection is closing or gone."""
        await self._protocol.writable.wait()
        return self.writable()


class RawFramesWebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # only set when the upgrade goes ahead
        if scope is not None:
            scope["extensions"][RAW_FRAMES] = RawFrames(self)
