"""COM1 of a running VM as a TCP server on 127.0.0.1 (Settings > Serial > TCP server).

Owns: :class:`SerialTcpBridge`: listens on the loopback interface only, sends what the
guest writes to COM1 to every connected client (a client that connects late first gets
what was written so far, up to a limit), and passes what clients send to the guest as
SerialInput.  Polled from the manager's timer; no thread of its own.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject
from PySide6.QtNetwork import QHostAddress, QTcpServer, QTcpSocket

from vmgui.core import events as ev

log = logging.getLogger(__name__)

BACKLOG_LIMIT = 64 * 1024


class SerialTcpError(OSError):
    pass


class SerialTcpBridge(QObject):
    def __init__(self, host, port: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.server = QTcpServer(self)
        if not self.server.listen(QHostAddress(QHostAddress.SpecialAddress.LocalHost), port):
            raise SerialTcpError(f"cannot listen on 127.0.0.1:{port} for COM1: "
                                 f"{self.server.errorString()}")
        self.server.newConnection.connect(self._accept)
        self.clients: list[QTcpSocket] = []
        self._sent = 0
        log.info("COM1 on tcp 127.0.0.1:%d", port)

    @property
    def port(self) -> int:
        return self.server.serverPort()

    def _accept(self) -> None:
        while self.server.hasPendingConnections():
            client = self.server.nextPendingConnection()
            client.readyRead.connect(lambda c=client: self._receive(c))
            client.disconnected.connect(lambda c=client: self._drop(c))
            backlog = bytes(self.host.serial[:self._sent][-BACKLOG_LIMIT:])
            if backlog:
                client.write(backlog)
            self.clients.append(client)

    def _receive(self, client: QTcpSocket) -> None:
        data = bytes(client.readAll().data())
        if data:
            self.host.send(ev.SerialInput(data))

    def _drop(self, client: QTcpSocket) -> None:
        if client in self.clients:
            self.clients.remove(client)
        client.deleteLater()

    def pump(self) -> None:
        """Send COM1 output produced since the last call to every client."""
        serial = self.host.serial
        if len(serial) > self._sent:
            data = bytes(serial[self._sent:])
            self._sent = len(serial)
            for client in list(self.clients):
                client.write(data)

    def close(self) -> None:
        for client in list(self.clients):
            client.disconnectFromHost()
        self.server.close()
