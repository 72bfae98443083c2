"""The Velocity subset used by API Gateway mapping templates, checked without any server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from patterns.local.frontdoor.vtl import (
    InputVariable,
    UtilVariable,
    VtlError,
    VtlInputError,
    escape_javascript,
    java_url_encode,
    json_path,
    render,
)

BODY = '{"name": "Bob", "items": [{"id": 1, "tags": ["a"]}, {"id": 2, "tags": []}], "n": 3, "nested": {"k": "v"}}'


def variables(body: str = BODY, **context: Any) -> dict[str, Any]:
    return {
        "input": InputVariable(body, {"id": "7"}, {"q": "x y", "empty": ""}, {"Content-Type": "application/json"}),
        "util": UtilVariable(),
        "context": {"requestId": "req-1", "identity": {"sourceIp": "127.0.0.1"}, **context},
        "stageVariables": {"env": "dev"},
    }


def test_sqs_form_template_url_encodes_the_body() -> None:
    out = render("Action=SendMessage&MessageBody=$util.urlEncode($input.body)", variables('{"a": "b c~*"}'))

    assert out == "Action=SendMessage&MessageBody=%7B%22a%22%3A+%22b+c%7E*%22%7D"


def test_kinesis_json_template_with_base64_path_and_context() -> None:
    template = (
        '{"Data": "$util.base64Encode($input.json(\'$\'))", "PartitionKey": "$input.path(\'$.name\')", '
        '"Id": "$context.requestId", "Ip": "$context.identity.sourceIp"}'
    )

    out = json.loads(render(template, variables()))

    assert json.loads(UtilVariable().vtl_call("base64Decode", [out["Data"]])) == json.loads(BODY)
    assert (out["PartitionKey"], out["Id"], out["Ip"]) == ("Bob", "req-1", "127.0.0.1")


def test_foreach_with_has_next_velocity_count_and_line_gobbling() -> None:
    template = """#set($items = $input.path('$.items'))
[
#foreach($item in $items)
  {"id": $item.id, "n": $velocityCount, "first": $foreach.first}#if($foreach.hasNext),#end

#end
]"""

    out = render(template, variables())

    assert json.loads(out) == [{"id": 1, "n": 1, "first": True}, {"id": 2, "n": 2, "first": False}]
    assert out.startswith("[\n  {")  # the #set and #foreach lines left no blank lines


def test_if_elseif_else_and_operators() -> None:
    template = (
        "#if($input.params('id') == '7' && !$missing)seven#elseif($n > 2)big#{else}other#end|"
        "#if($input.path('$.n') >= 3 and $input.path('$.n') lt 4)three#end|"
        "#if($input.params('empty') == '')blank#end|"
        "#if($input.params('empty'))truthy#end"
    )

    assert render(template, variables()) == "seven|three|blank|truthy"


def test_params_lookup_order_and_maps() -> None:
    template = (
        "$input.params('id') $input.params('q') $input.params('content-type') [$input.params('nope')] "
        "$input.params().header.get('Content-Type') $input.params().path.id $input.params().querystring.keySet().size()"
    )

    assert render(template, variables()) == "7 x y application/json [] application/json 7 2"


def test_json_path_and_java_style_rendering_of_objects() -> None:
    template = (
        "$input.json('$.nested') $input.path('$.nested') $input.path('$.items[*].id') $input.path('$.items[1].id')"
    )

    assert render(template, variables()) == '{"k":"v"} {k=v} [1, 2] 2'
    assert json_path(json.loads(BODY), "$..tags") == [["a"], []]
    assert json_path(json.loads(BODY), "$['nested']['k']") == "v"
    assert json_path(json.loads(BODY), "$.missing") is None


def test_set_null_keeps_previous_value_and_quiet_references() -> None:
    template = "#set($a = 'x')#set($a = $input.path('$.missing'))$a|$!nothing|$nothing|${a}y"

    assert render(template, variables()) == "x|||xy"


def test_string_list_and_map_methods() -> None:
    template = (
        "#set($s = 'Hello World')$s.toUpperCase() $s.length() $s.substring(0, 5) $s.replaceAll('o(.)', '0$1') "
        "$s.split(' ').size() $s.contains('World') "
        "#set($list = [])#set($ignore = $list.add('a'))#set($ignore = $list.add('b'))$list $list.size() $list.get(1) "
        "#set($map = {'k': 1})#set($ignore = $map.put('j', 2))$map.keySet() $map.containsKey('j') "
        "#foreach($i in [1..3])$i#end $math"
    )

    assert render(template, variables()) == "HELLO WORLD 11 Hello Hell0 W0rld 2 true [a, b] 2 b [k, j] true 123 "


def test_arithmetic_follows_java_integer_semantics() -> None:
    assert (
        render("#set($a = 7)#set($b = $a / 2)#set($c = $a % 4)#set($d = -$a / 2)$b $c $d ${a}", variables())
        == "3 3 -3 7"
    )
    assert render("#set($x = 1.5 * 2)$x", variables()) == "3.0"


def test_response_override_is_set_through_context() -> None:
    context = {"responseOverride": {"status": None, "header": {}}}
    template = (
        "#set($context.responseOverride.status = 404)#set($context.responseOverride.header.Content-Type = 'text/plain')"
    )

    render(template, {"context": context})

    assert context["responseOverride"] == {"status": 404, "header": {"Content-Type": "text/plain"}}


def test_escape_javascript_matches_java_string_escape_utils() -> None:
    assert escape_javascript('it\'s "a"\n/é\t') == 'it\\\'s \\"a\\"\\n\\/\\u00E9\\t'
    template = '$util.escapeJavaScript($input.body).replaceAll("\\\\\'","\'")'
    assert render(template, variables("it's")) == "it's"
    assert java_url_encode("a b~c*") == "a+b%7Ec*"


def test_parse_json_and_comments_and_escapes() -> None:
    template = (
        "## a comment line\n"
        "#set($o = $util.parseJson($input.body))$o.items.get(0).tags.get(0)#* block *# \\$o #[[$raw]]#"
    )

    assert render(template, variables()) == "a $o $raw"


def test_invalid_body_for_json_functions_raises_an_input_error() -> None:
    with pytest.raises(VtlInputError):
        render("$input.json('$')", variables("not json"))
    assert render("$input.body", variables("not json")) == "not json"


@pytest.mark.parametrize(
    "template",
    [
        "#macro(x)#end",
        "#if($a)unterminated",
        "$input.params().nope()",
        "#set($a 1)",
        "$input.json()",
        "$input.path('$.a[?(@.b)]')",
    ],
)
def test_unsupported_or_malformed_templates_fail_loudly(template: str) -> None:
    with pytest.raises(VtlError):
        render(template, variables())
