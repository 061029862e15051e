"""What the config file holds besides the receiver's and sender's settings: the
app's preferences and the address book."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum

from dicomtui.core.config.validation import (
    check_ae_title,
    check_port,
)
from dicomtui.core.scu.settings import SenderSettings


class LogLevel(StrEnum):
    """How much the app's log shows."""

    QUIET = "quiet"
    VERBOSE = "verbose"
    DEBUG = "debug"


LOG_LEVELS = tuple(level.value for level in LogLevel)


class RetrieveMethod(StrEnum):
    """How the PACS browser brings objects from a node (``retrieve`` in [[nodes]])."""

    #: C-MOVE: the node sends them to our receiver (it must know our AE title, host and port).
    MOVE = "move"
    #: C-GET: they come back on our own association (nothing to configure on the node).
    GET = "get"


@dataclass(frozen=True)
class Node:
    """A peer in the address book."""

    name: str
    host: str
    port: int
    called_ae_title: str = "ANY-SCP"
    #: Empty: the sender's own calling AE title.
    calling_ae_title: str = ""
    tls: bool = False
    #: How the PACS browser retrieves from it; files without it mean C-MOVE.
    retrieve: RetrieveMethod = RetrieveMethod.MOVE

    def sender_settings(self, base: SenderSettings) -> SenderSettings:
        return dataclasses.replace(
            base,
            host=self.host,
            port=self.port,
            called_ae_title=self.called_ae_title,
            calling_ae_title=self.calling_ae_title or base.calling_ae_title,
            tls=self.tls,
        )


@dataclass
class AppPreferences:
    log_level: LogLevel = LogLevel.VERBOSE
    theme: str = "textual-dark"
    start_receiver: bool = True
    #: The node picked as destination at start (by name); empty: the app's own receiver.
    destination: str = ""
    #: The folder the browser showed last: where it opens when no PATH is given.
    last_folder: str = ""


def check_node(node: Node, others: list[Node]) -> Node:
    """The node if it can be used; raises ValueError saying what to fix."""
    if not node.name.strip():
        raise ValueError("a node needs a name")
    if not node.host.strip():
        raise ValueError("a node needs a host")
    check_port(node.port)
    check_ae_title(node.called_ae_title, "called AE title")
    if node.calling_ae_title:
        check_ae_title(node.calling_ae_title, "calling AE title")
    if any(other.name == node.name for other in others):
        raise ValueError(f"there is already a node named {node.name!r}")
    return node
