"""Errors raised while checking a spec; the API turns them into 422 answers."""

from __future__ import annotations


class ShapeMismatch(Exception):
    """Raised by a layer's shape rule: what it expected versus what it got."""

    def __init__(self, expected: str, got: str) -> None:
        super().__init__(f"expects {expected}, got {got}")
        self.expected = expected
        self.got = got


class SpecError(Exception):
    """A spec problem located at a node (or a top-level field) with a readable message.

    `loc` is a JSON-pointer-like path (e.g. ["model", "nodes", 3, "params", "units"]) so the
    UI can put the message on the right control; `node_id` lets the editor mark the node.
    """

    def __init__(
        self,
        message: str,
        *,
        node_id: str | None = None,
        loc: list[str | int] | None = None,
        cap: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.node_id = node_id
        self.loc = loc or []
        self.cap = cap

    def to_json(self) -> dict:
        out: dict = {"message": self.message, "loc": self.loc}
        if self.node_id is not None:
            out["node_id"] = self.node_id
        if self.cap is not None:
            out["cap"] = self.cap
        return out
