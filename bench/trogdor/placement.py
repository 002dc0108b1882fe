"""Which Trogdor agent runs which role of a cell: the profile's `trogdor` section, or round-robin.

Pure logic (no network, no Kafka): the profile validates against it, the launcher asks it where each role goes.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.roles.protocol import REPLACEMENT_STRIDE



@dataclass(frozen=True)
class AgentPlacement:
    """`producers` round-robin over their list (producer i on producers[i % len]); the verifying
    consumer and the lag sampler on `consumer`; the processor on `processor`."""

    producers: tuple[str, ...]
    consumer: str
    processor: str

    def agent_for(self, role_name: str) -> str:
        if role_name.startswith("producer-"):
            index = int(role_name.split("-", 1)[1]) % REPLACEMENT_STRIDE  # a replacement runs where its victim ran
            return self.producers[index % len(self.producers)]
        if role_name == "processor":
            return self.processor
        return self.consumer  # the verifying consumer, and the lag sampler beside it

    def agents(self) -> list[str]:
        return sorted({*self.producers, self.consumer, self.processor})


def round_robin(agents: list[str], producers: int) -> AgentPlacement:
    """Producers first, one per agent in turn, then the consumer and the processor on the next agents:
    with 3 agents and 2 producers, the producers on the first two and the readers on the third."""
    n = len(agents)
    return AgentPlacement(tuple(agents[i % n] for i in range(producers)), agents[producers % n], agents[(producers + 1) % n])


def of_profile(section: dict, agents: list[str], producers: int) -> AgentPlacement:
    """The profile's `trogdor.placement` over the default: what it names, the rest round-robin."""
    default = round_robin(agents, producers)
    given = section.get("placement") or {}
    named = given.get("producers", default.producers)
    return AgentPlacement(tuple([named] if isinstance(named, str) else named), given.get("consumer", default.consumer),
                          given.get("processor", default.processor))
