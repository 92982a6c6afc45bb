"""Prometheus metrics. One registry per app so tests can run several hubs."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.agents_connected = Gauge(
            "salaklang_agents_connected", "Agents holding a control WebSocket", registry=self.registry
        )
        self.messages_in = Counter(
            "salaklang_agent_messages_in", "Messages received from agents", ["type"],
            registry=self.registry,
        )
        self.messages_out = Counter(
            "salaklang_agent_messages_out", "Messages sent to agents", ["type"], registry=self.registry
        )
        self.errors = Counter(
            "salaklang_agent_errors", "Protocol errors and refusals, by code", ["code"],
            registry=self.registry,
        )
        self.ui_clients = Gauge(
            "salaklang_ui_clients", "Control-room live-update WebSockets", registry=self.registry
        )
