"""A single-node Apache Kafka (KRaft) for the tests, from the jars install.sh cached."""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from pathlib import Path

from tests.servers.processes import INSTALL, START_TIMEOUT_S, Server, ServerUnavailable, free_port, port_open


class KafkaServer(Server):
    """One KRaft node, broker and controller in one JVM, listeners on loopback only.

    Topics are not auto-created: the bus creates its own, as it must in production.
    """

    name = "kafka"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        super().__init__(workdir)
        self.port = port or free_port()
        self.controller_port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.home = _kafka_home()
        self.log = workdir / "server.log"
        self._properties = workdir / "server.properties"

    def start(self) -> None:
        java = shutil.which("java")
        if java is None:
            raise ServerUnavailable("kafka: java not found after install")
        classpath = f"{self.home / 'libs'}/*"
        jvm = [java, "-Xms128m", "-Xmx512m", "-XX:+UseSerialGC", "-Djava.awt.headless=true",
               f"-Dlog4j.configuration=file:{self._log4j()}", "-cp", classpath]  # fmt: skip
        if not (self.workdir / "data" / "meta.properties").exists():
            self._write_properties()
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            done = subprocess.run(
                [*jvm, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(self._properties)],
                capture_output=True, text=True, check=False, timeout=START_TIMEOUT_S,
            )  # fmt: skip
            if done.returncode != 0:
                raise ServerUnavailable(
                    f"kafka: storage format failed: {(done.stdout + done.stderr)[-2000:]}"
                )
        seen = self.log.stat().st_size if self.log.exists() else 0
        self._spawn([*jvm, "kafka.Kafka", str(self._properties)])
        self._wait_ready(lambda: self._started_since(seen) and port_open(self.port))

    def _started_since(self, offset: int) -> bool:
        try:
            with open(self.log, "rb") as log:
                log.seek(offset)
                return b"Kafka Server started" in log.read()
        except OSError:
            return False

    def _write_properties(self) -> None:
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.workdir / "data"),
            "auto.create.topics.enable": "false",
            "num.partitions": "1",
            "num.network.threads": "2",
            "num.io.threads": "2",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "group.initial.rebalance.delay.ms": "0",
            "group.min.session.timeout.ms": "1000",
        }
        self._properties.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))

    def _log4j(self) -> Path:
        path = self.workdir / "log4j.properties"
        path.write_text(
            "log4j.rootLogger=INFO, file\n"
            "log4j.appender.file=org.apache.log4j.FileAppender\n"
            f"log4j.appender.file.File={self.log}\n"
            "log4j.appender.file.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
            "log4j.logger.kafka.request.logger=WARN\n"
        )
        return path


def _kafka_home() -> Path:
    done = subprocess.run([str(INSTALL), "--kafka-home"], capture_output=True, text=True, check=False)
    home = Path(done.stdout.strip())
    if done.returncode != 0 or not (home / ".complete").exists():
        raise ServerUnavailable(f"kafka: jars not found in {home or '(unknown)'} after install")
    return home
