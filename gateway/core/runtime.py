"""The live parts one process works with, built once from the settings.

The web app and the workers each build one ``Runtime``; nothing is built at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from argon2 import PasswordHasher
from redis import Redis
from rq import Queue
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from flows import Flow, RunState, load_flows
from flows.versions import flow_of_run, load_flow_versions
from gateway.core.clock import new_id, utc_now
from gateway.core.crypto import NumberCipher, password_hasher, pseudonymise, reference_code
from gateway.core.db import make_engine, make_sessionmaker
from gateway.core.errors import ConfigError
from gateway.core.flow_generation import FlowGeneration
from gateway.core.queue import RqJobQueue, make_queue
from gateway.core.redis_client import connect
from gateway.core.settings import ENUMERATOR_FLOW, Settings
from gateway.surveys.live_facts import SqlFacts
from gateway.surveys.session_store import RedisSessionStore
from handlers.ports import Services


@dataclass(frozen=True, slots=True)
class Runtime:
    """Settings plus the connections and services built from them."""

    settings: Settings
    redis: Redis
    queue: Queue
    jobs: RqJobQueue
    store: RedisSessionStore
    engine: Engine
    sessions: sessionmaker[Session]
    flows: dict[str, Flow]
    cipher: NumberCipher
    services: Services
    password_hasher: PasswordHasher
    # Every version of every flow, for runs started on one since replaced.
    flow_versions: Mapping[tuple[str, int], Flow] = field(default_factory=dict)
    # Watches for flows published while the process runs (None: the flows never change).
    generation: FlowGeneration | None = None

    @classmethod
    def build(cls, settings: Settings, *, client: Redis | None = None) -> Runtime:
        """Connect to Redis and the database and load the flows."""

        def load() -> tuple[dict[str, Flow], dict[tuple[str, int], Flow]]:
            latest = load_flows(settings.flows_folder)
            return latest, load_flow_versions(settings.flows_folder, latest)

        flows, versions = load()
        if settings.ussd_flow not in flows:
            raise ConfigError(
                f"GATEWAY_USSD_FLOW names '{settings.ussd_flow}', which is not a known flow "
                f"(known: {', '.join(sorted(flows))})"
            )
        client = client if client is not None else connect(settings)
        generation = FlowGeneration(client, load, flows, versions)
        generation.start()
        queue = make_queue(client)
        engine = make_engine(settings.database_url)
        sessions = make_sessionmaker(engine)
        store = RedisSessionStore(
            client, session_ttl=settings.ussd_session_ttl, facts=SqlFacts(sessions)
        )
        jobs = RqJobQueue(queue, store, drain_delay=timedelta(milliseconds=settings.store_delay_ms))
        cipher = NumberCipher.from_settings(settings)
        services = Services(
            store=store,
            jobs=jobs,
            pseudonymise=partial(pseudonymise, secret_key=settings.secret_key),
            encrypt_phone=cipher.encrypt,
            now=utc_now,
            new_id=new_id,
            phone_region=settings.phone_region,
            enumerator_flow=flows.get(ENUMERATOR_FLOW),
            flow_versions=versions,
            report_flows=tuple(flows[key] for key in sorted(flows) if flows[key].is_report),
            report_reference=reference_code,
        )
        return cls(
            settings=settings,
            redis=client,
            queue=queue,
            jobs=jobs,
            store=store,
            engine=engine,
            sessions=sessions,
            flows=flows,
            cipher=cipher,
            services=services,
            password_hasher=password_hasher(settings.password_hash_profile),
            flow_versions=versions,
            generation=generation,
        )

    def refresh_flows(self, *, now: bool = False) -> None:
        """Take up flows published since they were loaded (a cheap check, once a second,
        unless ``now``)."""
        if self.generation is not None:
            self.generation.refresh(now=now)

    def flow_of(self, state: RunState) -> Flow:
        """The version of its flow a run started on (the current one when it is not kept)."""
        return flow_of_run(self.flows[state.flow_id], state, self.flow_versions)

    @property
    def ussd_flow(self) -> Flow:
        """The flow a household reaches by dialling the USSD code."""
        return self.flows[self.settings.ussd_flow]
