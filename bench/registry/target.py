"""The registry a run's Avro cells talk to, embedded or the user's, and what a cell asks of it.

Credentials reach the registry client as client properties named `schema.registry.<property>`
(`schema.registry.basic.auth.user.info`, `schema.registry.ssl.ca.location`, ...): the prefix is
taken off and the rest is confluent-kafka's SchemaRegistryClient configuration. They are secrets
like any other (bench.client_properties), and a URL's user:password part is redacted too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from bench.broker.distribution import find_jdk
from bench.client_properties import REDACTED, REGISTRY_PREFIX as PREFIX, redact
from bench.errors import BadInput, EnvironmentProblem
from bench.registry import embedded as embedded_registry
from bench.registry.embedded import Registry

COMPATIBILITY = "FULL"  # what a pipeline that must never break a consumer sets before its first write
# What a URL shown may not hold: user information (up to the last '@' before the query, with or
# without a scheme, as a password may hold '@' or '/') and the value of every query parameter (?token=).
_USERINFO = re.compile(r"^((?:[A-Za-z][\w+.-]*://)?)[^?#]*@")
_QUERY_VALUE = re.compile(r"([?&][^=&#]*=)[^&#]*")


@dataclass(frozen=True)
class RegistryTarget:
    """Where the cells' schemas live: the registry client's configuration (url and credentials,
    handed to the roles, never written) and the embedded registry when eosbench runs it."""

    config: dict
    embedded: Registry | None = None

    @property
    def url(self) -> str:
        return self.config["url"]

    def describe(self) -> dict:
        """What the manifest and the cells record: no credential."""
        if self.embedded:
            return self.embedded.describe()
        return {"embedded": False, "url": redact_url(self.url),
                "properties": redact({f"{PREFIX}{k}": v for k, v in self.config.items() if k != "url"})}

    def client(self):
        from confluent_kafka.schema_registry import SchemaRegistryClient

        return SchemaRegistryClient(self.config)

    def prepare(self, subjects: list[str]) -> None:
        """Subject compatibility FULL before the first write, as the pipelines this prices would."""
        client = self.client()
        for subject in subjects:
            client.set_compatibility(subject, COMPATIBILITY)

    def forget(self, subjects: list[str]) -> None:
        """Delete a cell's subjects (soft, then for good), as its topics are deleted. Tidying only:
        a subject never written, or a registry gone, is no error (the cell's figures stand)."""
        client = self.client()
        for subject in subjects:
            for permanent in (False, True):
                try:
                    client.delete_subject(subject, permanent=permanent)
                except Exception:  # SchemaRegistryError (no such subject), or the registry unreachable
                    pass


def split_properties(client: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(librdkafka's properties, the registry client's properties without their prefix)."""
    kafka = {k: v for k, v in client.items() if not k.startswith(PREFIX)}
    registry = {k[len(PREFIX):]: v for k, v in client.items() if k.startswith(PREFIX)}
    return kafka, registry


def check_properties(registry: Mapping[str, str]) -> None:
    """Refuse a registry property the client does not know, before anything runs."""
    if not registry:
        return  # the registry client's import alone is a third of validate's time
    from confluent_kafka.schema_registry import SchemaRegistryClient

    if "url" in registry:
        raise BadInput(f"client property '{PREFIX}url' is set by eosbench: give --schema-registry URL instead")
    try:
        SchemaRegistryClient({"url": "http://127.0.0.1:1", **registry})
    except (ValueError, TypeError) as exc:
        raise BadInput(f"client: the schema registry client refuses its properties ({PREFIX}...): {exc}") from None


def connect(url: str, properties: Mapping[str, str]) -> RegistryTarget:
    """A registry the user runs: refused unless it answers (exit 3) and speaks the Confluent API."""
    if not re.match(r"^https?://[^/\s]+", url or ""):
        raise BadInput(f"--schema-registry must be an http(s) URL of a Confluent-compatible registry, not {redact_url(url)!r}")
    target = RegistryTarget({"url": url.rstrip("/"), **properties})
    try:
        target.client().get_subjects()
    except Exception as exc:  # httpx's connection errors, the registry's own (401, 404 on a wrong path)
        raise EnvironmentProblem(f"cannot reach a schema registry at {redact_url(url)}: {_first_line(exc)}") from None
    return target


@dataclass
class RegistryService:
    """The run's schema registry as a service of its site (bench.site): the user's (`url`, reached
    at check) or an embedded Apicurio Registry (its Java looked for at check, started at start)."""

    properties: dict            # the registry client's (credentials among them): handed to the roles, never described
    url: str | None = None      # --schema-registry
    name = "schema_registry"
    target: RegistryTarget | None = None

    def check(self) -> None:
        if self.url:
            self.target = connect(self.url, self.properties)
        else:
            find_jdk(embedded_registry.JAVA_MINIMUM, f"the embedded schema registry (Apicurio Registry {embedded_registry.VERSION})")

    def start(self, home: Path, note: Callable[[str], None]) -> None:
        if self.url:
            return
        embedded = embedded_registry.start(home)  # stops what it started before it raises
        self.target = RegistryTarget({**self.properties, "url": embedded.url}, embedded)
        note(f"schema registry: Apicurio Registry {embedded.version} at {embedded.url}, ready in {embedded.start_s:.1f}s"
             + (f" (fetched in {embedded.fetched_s:.1f}s)" if embedded.fetched_s >= 1 else ""))

    def describe(self) -> dict:
        return self.target.describe()

    def stop(self) -> None:
        if self.target is not None and self.target.embedded is not None:
            embedded_registry.stop(self.target.embedded)


def redact_url(url: str) -> str:
    """`url` as it may be printed or recorded: no credential in it survives."""
    return _QUERY_VALUE.sub(rf"\1{REDACTED}", _USERINFO.sub(rf"\1{REDACTED}@", url or ""))


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
