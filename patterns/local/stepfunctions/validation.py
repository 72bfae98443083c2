"""Refuse, when a state machine is created, what the interpreter cannot run (strict local cloud).

The check names the state and the feature (``state 'Load': Map ItemReader (distributed map)``),
so a deploy fails with a message a user can act on instead of an execution failing later.
"""

from __future__ import annotations

import json
from typing import Any

from .integrations import parse_resource
from .paths import is_reference_path

_COMMON = {"Type", "Comment", "Next", "End", "InputPath", "OutputPath"}
_FIELDS: dict[str, set[str]] = {
    "Pass": _COMMON | {"Result", "ResultPath", "Parameters"},
    "Task": _COMMON
    | {
        "Resource",
        "Parameters",
        "ResultSelector",
        "ResultPath",
        "Retry",
        "Catch",
        "TimeoutSeconds",
        "TimeoutSecondsPath",
        "HeartbeatSeconds",
        "HeartbeatSecondsPath",
        "Credentials",
    },
    "Choice": {"Type", "Comment", "Choices", "Default", "InputPath", "OutputPath"},
    "Wait": _COMMON | {"Seconds", "SecondsPath", "Timestamp", "TimestampPath"},
    "Succeed": {"Type", "Comment", "InputPath", "OutputPath"},
    "Fail": {"Type", "Comment", "Error", "ErrorPath", "Cause", "CausePath"},
    "Parallel": _COMMON | {"Branches", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch"},
    "Map": _COMMON
    | {
        "ItemsPath",
        "ItemSelector",
        "Parameters",
        "ItemProcessor",
        "Iterator",
        "MaxConcurrency",
        "ResultSelector",
        "ResultPath",
        "Retry",
        "Catch",
    },
}
_RULE_KEYS = {"Variable", "Next", "And", "Or", "Not", "Comment"}
_OPERATORS = {
    f"{kind}{op}{path}"
    for kind in ("String", "Numeric", "Timestamp")
    for op in ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")
    for path in ("", "Path")
} | {
    "BooleanEquals",
    "BooleanEqualsPath",
    "IsNull",
    "IsPresent",
    "IsString",
    "IsNumeric",
    "IsBoolean",
    "IsTimestamp",
    "StringMatches",
}


def validate_definition(definition: str) -> str | None:
    """None if the interpreter can run ``definition``, else what it cannot run."""
    try:
        document = json.loads(definition)
    except ValueError as exc:
        return f"the definition is not JSON ({exc})"
    if not isinstance(document, dict):
        return "the definition is not a JSON object"
    return _machine(document, "")


def _machine(document: dict[str, Any], where: str) -> str | None:
    if document.get("QueryLanguage", "JSONPath") != "JSONPath":
        return f"{where}QueryLanguage {document['QueryLanguage']} is not supported locally (JSONPath only)"
    states = document.get("States")
    if not isinstance(states, dict) or document.get("StartAt") not in (states or {}):
        return f"{where}StartAt must name one of the States"
    for name, state in states.items():
        problem = _state(name, state, states)
        if problem:
            return f"{where}state '{name}': {problem}"
    return None


def _state(name: str, state: Any, states: dict[str, Any]) -> str | None:
    if not isinstance(state, dict):
        return "not an object"
    kind = state.get("Type")
    if kind not in _FIELDS:
        return f"state type {kind!r} is not supported locally"
    if state.get("QueryLanguage", "JSONPath") != "JSONPath":
        return f"QueryLanguage {state['QueryLanguage']} is not supported locally (JSONPath only)"
    unknown = set(state) - _FIELDS[kind]
    if unknown:
        return f"{kind} field(s) {sorted(unknown)} not supported locally"
    for target in [state.get("Next"), state.get("Default")] + [c.get("Next") for c in state.get("Catch") or []]:
        if target is not None and target not in states:
            return f"transition to unknown state {target!r}"
    for key in ("Parameters", "ResultSelector", "ItemSelector"):
        if key in state and not isinstance(state[key], dict) and not (key == "Parameters" and kind == "Pass"):
            return f"{key} must be a JSON object"
    for key in ("InputPath", "OutputPath", "ResultPath", "ItemsPath"):
        value = state.get(key)
        if isinstance(value, str) and key != "InputPath" and key != "OutputPath" and not is_reference_path(value):
            return f"{key} {value!r} is not a reference path"
    if kind == "Task":
        try:
            parse_resource(str(state.get("Resource")))
        except ValueError as exc:
            return str(exc)
        if "Credentials" in state:
            return "Task Credentials (cross-account role) are not supported locally"
    if kind == "Choice":
        for rule in state.get("Choices") or []:
            problem = _rule(rule, states, top=True)
            if problem:
                return problem
    if kind == "Parallel":
        for index, branch in enumerate(state.get("Branches") or []):
            problem = _machine(branch, f"branch {index}: ")
            if problem:
                return problem
    if kind == "Map":
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if not isinstance(processor, dict):
            return "Map needs an ItemProcessor"
        config = processor.get("ProcessorConfig") or {}
        if config.get("Mode", "INLINE") != "INLINE":
            return "Map in DISTRIBUTED mode is not supported locally (inline only)"
        problem = _machine({k: v for k, v in processor.items() if k != "ProcessorConfig"}, "item processor: ")
        if problem:
            return problem
    for retrier in state.get("Retry") or []:
        unknown = set(retrier) - {
            "ErrorEquals",
            "IntervalSeconds",
            "MaxAttempts",
            "BackoffRate",
            "MaxDelaySeconds",
            "JitterStrategy",
            "Comment",
        }
        if unknown:
            return f"Retry field(s) {sorted(unknown)} not supported locally"
        if retrier.get("JitterStrategy", "NONE") not in ("NONE", "FULL"):
            return f"JitterStrategy {retrier['JitterStrategy']!r} is not NONE or FULL"
    return None


def _rule(rule: Any, states: dict[str, Any], *, top: bool) -> str | None:
    if not isinstance(rule, dict):
        return "a Choice rule is not an object"
    if top and rule.get("Next") not in states:
        return f"Choice rule transitions to unknown state {rule.get('Next')!r}"
    for key in ("And", "Or"):
        for nested in rule.get(key) or []:
            problem = _rule(nested, states, top=False)
            if problem:
                return problem
    if "Not" in rule:
        return _rule(rule["Not"], states, top=False)
    if not {"And", "Or", "Not"} & set(rule):
        operators = set(rule) - _RULE_KEYS
        if len(operators) != 1 or not operators <= _OPERATORS:
            return f"Choice rule operator(s) {sorted(operators)} not supported"
    return None
