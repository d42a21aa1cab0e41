"""What a run's steps cost, read from its events: the asset steps, the suites, the rule checks and publication."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg


@dataclass(frozen=True)
class RunCosts:
    seconds_by_step: dict[str, float]
    suite_steps: frozenset[str]
    rule_check_steps: frozenset[str]

    @classmethod
    def of(cls, result: dg.ExecuteInProcessResult, checks: list[dg.AssetChecksDefinition]) -> RunCosts:
        names = {definition.node_def.name for definition in checks}
        return cls(
            seconds_by_step={event.step_key: event.event_specific_data.duration_ms / 1000
                             for event in result.all_events if event.is_step_success},
            suite_steps=frozenset(name for name in names if name.endswith("_expectations")),
            rule_check_steps=frozenset(name for name in names if not name.endswith("_expectations")),
        )

    def total(self, steps=None) -> float:
        return sum(seconds for step, seconds in self.seconds_by_step.items() if steps is None or step in steps)

    @property
    def suites(self) -> float:
        return self.total(self.suite_steps)

    @property
    def rule_checks(self) -> float:
        return self.total(self.rule_check_steps)

    def report(self) -> str:
        whole = self.total()
        lines = [f"{'step':<46} {'seconds':>8} {'share':>7}"]
        for step, seconds in sorted(self.seconds_by_step.items(), key=lambda item: -item[1]):
            lines.append(f"{step:<46} {seconds:8.1f} {seconds / whole:7.1%}")
        lines.append(f"{'all steps':<46} {whole:8.1f}")
        lines.append(f"expectation suites: {self.suites:.1f} s ({self.suites / whole:.1%} of the steps); rule checks: "
                     f"{self.rule_checks:.1f} s ({self.rule_checks / whole:.1%})")
        return "\n".join(lines)
