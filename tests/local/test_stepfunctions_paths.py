"""ASL input/output processing and intrinsic functions, without a cloud (pure functions)."""

from __future__ import annotations

import pytest

from patterns.local.stepfunctions import paths, templates, validate_definition
from patterns.local.stepfunctions.errors import StatesError
from patterns.local.stepfunctions.interpreter import _rule, error_matches
from patterns.local.stepfunctions.intrinsics import evaluate

CONTEXT = {"Execution": {"Id": "arn:exec", "Name": "e1"}, "State": {"RetryCount": 2}}
DOC = {"order": {"id": "o-1", "items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 0}]}, "n": 3, "name": "x"}


def test_reference_paths_read_and_missing_paths_fail_with_states_runtime() -> None:
    assert paths.read(DOC, "$.order.items[1].sku") == "b"
    assert paths.read(DOC, "$['order']['id']") == "o-1"
    assert paths.read(DOC, "$") == DOC
    assert paths.read(DOC, "$$.Execution.Name", CONTEXT) == "e1"
    with pytest.raises(StatesError) as missing:
        paths.read(DOC, "$.order.customer")
    assert missing.value.error == "States.Runtime"


def test_full_jsonpath_in_templates_returns_the_list_of_matches() -> None:
    assert templates.render({"skus.$": "$.order.items[*].sku"}, DOC, CONTEXT) == {"skus": ["a", "b"]}
    assert templates.render({"open.$": "$.order.items[?(@.qty > 0)].sku"}, DOC, CONTEXT) == {"open": ["a"]}


def test_result_path_creates_nodes_and_null_discards_the_result() -> None:
    assert paths.write({"a": 1}, "$.b.c", 5) == {"a": 1, "b": {"c": 5}}
    assert paths.write({"a": 1}, "$", 5) == 5
    assert paths.write({"a": 1}, None, 5) == {"a": 1}
    with pytest.raises(StatesError):
        paths.write("not an object", "$.x", 1)


def test_templates_render_nested_static_values_paths_context_and_intrinsics() -> None:
    template = {
        "static": {"k": [1, "two"]},
        "id.$": "$.order.id",
        "attempt.$": "$$.State.RetryCount",
        "label.$": "States.Format('{}-{}', $.order.id, $.n)",
    }
    assert templates.render(template, DOC, CONTEXT) == {
        "static": {"k": [1, "two"]},
        "id": "o-1",
        "attempt": 2,
        "label": "o-1-3",
    }


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("States.Array($.n, 'a', 1.5, null)", [3, "a", 1.5, None]),
        ("States.ArrayPartition(States.ArrayRange(1, 5, 1), 2)", [[1, 2], [3, 4], [5]]),
        ("States.ArrayContains(States.Array(1, 2), 2)", True),
        ("States.ArrayGetItem(States.Array('a', 'b'), 1)", "b"),
        ("States.ArrayLength($.order.items)", 2),
        ("States.ArrayUnique(States.Array(1, 1, 2))", [1, 2]),
        ("States.StringToJson('{\"a\": 1}')", {"a": 1}),
        ("States.JsonToString($.order.items[0])", '{"sku":"a","qty":2}'),
        ("States.Base64Decode(States.Base64Encode('hi'))", "hi"),
        ("States.Hash('abc', 'SHA-256')", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ('States.JsonMerge($.order, States.StringToJson(\'{"id": "o-2"}\'), false)', {**DOC["order"], "id": "o-2"}),
        ("States.MathAdd($.n, -1)", 2),
        ("States.StringSplit('a,b;c', ',;')", ["a", "b", "c"]),
        ("States.Format('it\\'s {}', $.name)", "it's x"),
    ],
)
def test_intrinsic_functions(expression: str, expected: object) -> None:
    assert evaluate(expression, DOC, CONTEXT) == expected


def test_intrinsics_fail_with_intrinsic_failure_and_random_is_in_range() -> None:
    for bad in ("States.Nope(1)", "States.ArrayGetItem(States.Array(1), 5)", "States.Format('{}')", "States.MathAdd(1"):
        with pytest.raises(StatesError) as failure:
            evaluate(bad, DOC, CONTEXT)
        assert failure.value.error == "States.IntrinsicFailure", bad
    assert all(1 <= evaluate("States.MathRandom(1, 3)", DOC, CONTEXT) <= 3 for _ in range(20))
    assert len(evaluate("States.UUID()", DOC, CONTEXT)) == 36


def test_error_matching_wildcards_follow_the_asl_rules() -> None:
    assert error_matches(["States.ALL"], "ValueError")
    assert error_matches(["States.TaskFailed"], "Lambda.ServiceException")
    assert not error_matches(["States.TaskFailed"], "States.Timeout")
    assert error_matches(["States.Timeout"], "States.Timeout")
    assert not error_matches(["States.ALL"], "States.Runtime")  # never retried or caught
    assert not error_matches(["Other"], "ValueError")


def test_choice_rules_compare_types_paths_patterns_and_combinators() -> None:
    value = {"n": 3, "m": 5, "s": "order-17", "t": "2026-01-01T00:00:00Z", "flag": True, "nothing": None}

    def rule(**kwargs: object) -> bool:
        return _rule(kwargs, value, CONTEXT)

    assert rule(Variable="$.n", NumericLessThanPath="$.m")
    assert rule(Variable="$.s", StringMatches="order-*")
    assert not rule(Variable="$.s", StringMatches="order-\\*")
    assert rule(Variable="$.t", TimestampLessThan="2026-06-01T00:00:00Z")
    assert rule(Variable="$.flag", BooleanEquals=True)
    assert rule(Variable="$.nothing", IsNull=True)
    assert rule(Variable="$.absent", IsPresent=False)
    assert not rule(Variable="$.s", NumericEquals=3)  # wrong type: no match, no error
    assert _rule(
        {"And": [{"Variable": "$.n", "NumericEquals": 3}, {"Not": {"Variable": "$.flag", "BooleanEquals": False}}]},
        value,
        CONTEXT,
    )
    with pytest.raises(StatesError):
        rule(Variable="$.absent", NumericEquals=1)


@pytest.mark.parametrize(
    ("state", "problem"),
    [
        ({"Type": "Task", "Resource": "arn:aws:states:us-east-1:1:activity:a", "End": True}, "activities"),
        ({"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync", "End": True}, "glue:startJobRun"),
        ({"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:noSuchAction", "End": True}, "noSuchAction"),
        (
            {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED"},
                    "StartAt": "P",
                    "States": {"P": {"Type": "Pass", "End": True}},
                },
                "End": True,
            },
            "DISTRIBUTED",
        ),
        ({"Type": "Pass", "QueryLanguage": "JSONata", "End": True}, "JSONata"),
        ({"Type": "Pass", "Next": "Nowhere"}, "Nowhere"),
        ({"Type": "Choice", "Choices": [{"Variable": "$.a", "NumericAbout": 1, "Next": "S"}]}, "NumericAbout"),
    ],
)
def test_definitions_the_interpreter_cannot_run_are_refused_naming_the_feature(
    state: dict[str, object], problem: str
) -> None:
    import json

    definition = {"StartAt": "S", "States": {"S": state}}
    message = validate_definition(json.dumps(definition))
    assert message is not None and problem in message and "'S'" in message
