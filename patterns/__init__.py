"""Serverless architecture patterns as AWS CDK v2 constructs.

The public API is every pattern construct, importable from here (``from patterns import PubSub``).
Constructs are loaded on first use, so importing one pattern does not import all of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_CONSTRUCTS: dict[str, str] = {
    "SimpleWebService": "simple_web_service",
    "DecoupledMessaging": "decoupled_messaging",
    "QueueLoadLeveling": "queue_load_leveling",
    "StorageFirst": "storage_first",
    "PubSub": "pub_sub",
    "FanOutFanIn": "fan_out_fan_in",
    "MapReduce": "map_reduce",
    "Command": "command",
    "PipesAndFilters": "pipes_and_filters",
    "ScheduledService": "scheduled_service",
    "EventDrivenProcessor": "event_driven_processor",
    "ThumbnailerWithDb": "thumbnailer_with_db",
    "InternalEndpoint": "internal_endpoint",
    "ReadHeavyReporting": "read_heavy_reporting",
    "Deduplication": "deduplication",
    "StateMachine": "state_machine",
    "Saga": "saga",
    "CircuitBreaker": "circuit_breaker",
    "Authorization": "authorization",
    "Aggregator": "aggregator",
    "GatewayRouter": "gateway_router",
    "Strangler": "strangler",
    "Microservice": "microservices",
    "GraphQlEndpoint": "graphql_endpoint",
    "StreamPipeline": "stream_pipeline",
    "RealtimeAnalytics": "realtime_analytics",
    "WebAppWithApi": "web_app_with_api",
}

__all__ = sorted(_CONSTRUCTS)


def __getattr__(name: str) -> Any:
    module = _CONSTRUCTS.get(name)
    if module is None:
        raise AttributeError(f"module 'patterns' has no attribute {name!r}")
    return getattr(importlib.import_module(f"patterns.{module}"), name)


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # static analysers see the real classes
    from patterns.aggregator import Aggregator
    from patterns.authorization import Authorization
    from patterns.circuit_breaker import CircuitBreaker
    from patterns.command import Command
    from patterns.decoupled_messaging import DecoupledMessaging
    from patterns.deduplication import Deduplication
    from patterns.event_driven_processor import EventDrivenProcessor
    from patterns.fan_out_fan_in import FanOutFanIn
    from patterns.gateway_router import GatewayRouter
    from patterns.graphql_endpoint import GraphQlEndpoint
    from patterns.internal_endpoint import InternalEndpoint
    from patterns.map_reduce import MapReduce
    from patterns.microservices import Microservice
    from patterns.pipes_and_filters import PipesAndFilters
    from patterns.pub_sub import PubSub
    from patterns.queue_load_leveling import QueueLoadLeveling
    from patterns.read_heavy_reporting import ReadHeavyReporting
    from patterns.realtime_analytics import RealtimeAnalytics
    from patterns.saga import Saga
    from patterns.scheduled_service import ScheduledService
    from patterns.simple_web_service import SimpleWebService
    from patterns.state_machine import StateMachine
    from patterns.storage_first import StorageFirst
    from patterns.strangler import Strangler
    from patterns.stream_pipeline import StreamPipeline
    from patterns.thumbnailer_with_db import ThumbnailerWithDb
    from patterns.web_app_with_api import WebAppWithApi
