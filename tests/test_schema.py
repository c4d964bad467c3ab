"""Unit tests on recorded `/gradio_api/info` answers (tests/data/*_info.json, re-record with
`python tests/data/record_info.py`): compact rendering, input mapping and command-line coercion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spacechain.tools import ApiSchema, EndpointNotFound, InvalidInputs, Param
from spacechain.tools.values import coerce_text

DATA = Path(__file__).resolve().parent / "data"


def load(name: str) -> dict:
    return json.loads((DATA / f"{name}_info.json").read_text())


@pytest.fixture(scope="module")
def misc() -> ApiSchema:
    return ApiSchema.from_info(load("misc"))


@pytest.fixture(scope="module")
def img2_3d() -> ApiSchema:
    return ApiSchema.from_info(load("img2_3d"))


def line_of(schema: ApiSchema, name: str) -> str:
    lines = [ln for ln in schema.compact().splitlines() if ln.startswith(name + "(")]
    assert len(lines) == 1, schema.compact()
    return lines[0]


# --------------------------------------------------------------------------- compact rendering


@pytest.mark.parametrize("name", ["text2img", "img2_3d", "misc", "big"])
def test_one_line_per_endpoint(name: str) -> None:
    info = load(name)
    text = ApiSchema.from_info(info).compact()
    lines = text.splitlines()
    assert len(lines) == len(info["named_endpoints"])
    assert [ln.split("(", 1)[0] for ln in lines] == list(info["named_endpoints"])
    assert all(" -> [" in ln for ln in lines)


def test_echo_line_shows_types_defaults_and_choices(misc: ApiSchema) -> None:
    line = line_of(misc, "/echo")
    # Required first parameter: no default.
    assert line.startswith("/echo(text: str, number: float = 1.5, count: int = 2, flag: bool = False, ")
    assert 'choice: "a"|"b"|"c" = "a"' in line  # Dropdown choices
    assert 'tags: list["x"|"y"|"z"] = []' in line  # CheckboxGroup choices
    assert "data: str | float | bool | list | dict = None" in line
    assert line.endswith("# Return every received value with its Python type name.")


def test_file_params_and_state(img2_3d: ApiSchema) -> None:
    gen = line_of(img2_3d, "/image_to_3d")
    assert gen.startswith("/image_to_3d(image: image file, seed: float = 0, ")  # required file, no default
    assert 'multiimage_algo: "stochastic"|"multidiffusion" = "stochastic"' in gen  # Radio
    assert "texture_size: 512|1024|2048 = 1024" in gen  # Dropdown of ints
    assert 'resolution: "512"|"1024" = "1024"' in gen  # Dropdown of strings
    assert "reference_file: file = None" in gen
    assert "-> [model3d file]  #" in gen  # the State output is not shown
    ext = line_of(img2_3d, "/extract_glb")
    assert ext.startswith(
        "/extract_glb(decimation_target: float = 500000, texture_size: float = 2048) -> [model3d file, file]"
    )
    # gr.State inputs are not API parameters.
    assert img2_3d.endpoint("extract_glb").param_names() == ["decimation_target", "texture_size"]
    assert "state" not in img2_3d.endpoint("image_to_3d").param_names()
    assert len(img2_3d.endpoint("image_to_3d").returns) == 1


def test_misc_file_shapes(misc: ApiSchema) -> None:
    assert line_of(misc, "/files").startswith("/files(files: list[file]) -> [str, file]")
    assert line_of(misc, "/count_upload").startswith("/count_upload(file: file) -> [str]")
    assert line_of(misc, "/gallery").startswith("/gallery(n: int = 3) -> [gallery[image file]]")
    assert line_of(misc, "/noop").startswith("/noop() -> [str]")


def test_to_dict(misc: ApiSchema, img2_3d: ApiSchema) -> None:
    echo = misc.to_dict()["/echo"]
    params = {p["name"]: p for p in echo["parameters"]}
    assert params["text"]["required"] is True and "default" not in params["text"]
    assert params["number"] == {
        "name": "number",
        "label": "Number",
        "component": "Number",
        "type": "float",
        "required": False,
        "default": 1.5,
        "takes_files": False,
    }
    assert params["choice"]["choices"] == ["a", "b", "c"]
    assert echo["signature"] == line_of(misc, "/echo")
    image = img2_3d.to_dict()["/image_to_3d"]["parameters"][0]
    assert image["takes_files"] is True and image["type"] == "image file" and image["required"] is True


@pytest.mark.parametrize("name", ["img2_3d", "big"])
def test_compaction_ratio(name: str) -> None:
    info = load(name)
    schema = ApiSchema.from_info(info)
    raw = len(json.dumps(info))
    assert schema.raw_chars == raw
    assert len(schema.compact()) <= 0.08 * raw, (len(schema.compact()), raw)


def test_private_and_hidden_endpoints_are_left_out() -> None:
    info = {
        "named_endpoints": {
            "/shown": {"parameters": [], "returns": [], "api_visibility": "public"},
            "/private": {"parameters": [], "returns": [], "api_visibility": "private"},
            "/old_hidden": {"parameters": [], "returns": [], "show_api": False},
            "no_slash": {"parameters": [], "returns": []},
        },
        "unnamed_endpoints": {},
    }
    assert list(ApiSchema.from_info(info).endpoints) == ["/shown", "/no_slash"]


def test_placeholder_names_show_the_label() -> None:
    info = {
        "named_endpoints": {
            "/predict": {
                "parameters": [
                    {
                        "label": "Input Text",
                        "parameter_name": None,
                        "parameter_has_default": False,
                        "type": {"type": "string"},
                        "python_type": {"type": "str"},
                        "component": "Textbox",
                    }
                ],
                "returns": [{"label": "out", "python_type": {"type": "str"}, "component": "Textbox"}],
            }
        }
    }
    ep = ApiSchema.from_info(info).endpoint("/predict")
    assert ep.param_names() == ["param_0"]
    assert ep.signature() == '/predict(param_0 "Input Text": str) -> [str]'


def test_endpoint_lookup(misc: ApiSchema) -> None:
    assert misc.endpoint("echo") is misc.endpoint("/echo") is misc.endpoint(" /echo ")
    with pytest.raises(EndpointNotFound) as err:
        misc.endpoint("/nope", "acme/toolbox")
    assert err.value.available == list(misc.endpoints)
    assert "/nope" in str(err.value) and "acme/toolbox" in str(err.value) and "/echo" in str(err.value)


# --------------------------------------------------------------------------- to_positional


def test_named_inputs_fill_defaults(misc: ApiSchema) -> None:
    echo = misc.endpoint("echo")
    assert echo.to_positional({"text": "hi"}) == ["hi", 1.5, 2, False, "a", [], None]
    assert echo.to_positional({"count": 5, "text": "x", "tags": ["y"]}) == ["x", 1.5, 5, False, "a", ["y"], None]


def test_positional_inputs_fill_defaults(misc: ApiSchema, img2_3d: ApiSchema) -> None:
    echo = misc.endpoint("echo")
    assert echo.to_positional(["hi", 3]) == ["hi", 3, 2, False, "a", [], None]
    assert echo.to_positional(("hi",)) == ["hi", 1.5, 2, False, "a", [], None]
    assert misc.endpoint("stream").to_positional(7) == [7]  # a bare value for a one-input endpoint
    assert misc.endpoint("stream").to_positional(None) == [5]
    assert misc.endpoint("noop").to_positional({}) == []
    assert img2_3d.endpoint("extract_glb").to_positional([]) == [500000, 2048]


def test_convert_applies_to_given_values_only(img2_3d: ApiSchema) -> None:
    seen = []

    def convert(p: Param, v):
        seen.append((p.name, v))
        return {"path": f"/srv/{v}"} if p.takes_files else v

    data = img2_3d.endpoint("image_to_3d").to_positional(
        {"image": "cat.png", "seed": 3, "reference_file": None}, convert=convert
    )
    assert data[0] == {"path": "/srv/cat.png"} and data[1] == 3 and data[-1] is None
    assert len(data) == 15
    assert seen == [("image", "cat.png"), ("seed", 3)]  # defaults and None are not converted


def test_unknown_name_lists_valid_names(misc: ApiSchema) -> None:
    with pytest.raises(InvalidInputs) as err:
        misc.endpoint("echo").to_positional({"text": "x", "colour": "red"})
    msg = str(err.value)
    assert "colour" in msg and "valid names: text, number, count, flag, choice, tags, data" in msg
    with pytest.raises(InvalidInputs, match="none"):
        misc.endpoint("noop").to_positional({"x": 1})


def test_missing_required_named(img2_3d: ApiSchema, misc: ApiSchema) -> None:
    with pytest.raises(InvalidInputs) as err:
        img2_3d.endpoint("image_to_3d").to_positional({"seed": 1})
    assert "missing required input(s) image" in str(err.value)
    with pytest.raises(InvalidInputs, match=r"missing required input\(s\) files"):
        misc.endpoint("files").to_positional(None)


def test_too_many_positional(misc: ApiSchema) -> None:
    with pytest.raises(InvalidInputs) as err:
        misc.endpoint("stream").to_positional([1, 2])
    assert "takes 1 input(s) but 2 were given" in str(err.value)
    with pytest.raises(InvalidInputs, match="takes 0 input"):
        misc.endpoint("noop").to_positional(["x"])


def test_scalar_for_many_inputs_is_refused(misc: ApiSchema) -> None:
    with pytest.raises(InvalidInputs, match="dict of name"):
        misc.endpoint("echo").to_positional("hi")


# --------------------------------------------------------------------------- coerce_text


def param(schema: ApiSchema, endpoint: str, name: str) -> Param:
    return next(p for p in schema.endpoint(endpoint).params if p.name == name)


def test_text_stays_text(misc: ApiSchema) -> None:
    text = param(misc, "echo", "text")
    for value in ("123", "true", "1.5", '["x"]', ""):
        out = coerce_text(text, value)
        assert out == value and isinstance(out, str)


def test_numbers_and_bools(misc: ApiSchema) -> None:
    count, number, flag = (param(misc, "echo", n) for n in ("count", "number", "flag"))
    assert coerce_text(count, "7") == 7 and isinstance(coerce_text(count, "7"), int)
    assert coerce_text(number, "2.5") == 2.5
    assert coerce_text(number, "3") == 3.0 and isinstance(coerce_text(number, "3"), float)
    for t in ("true", "True", "yes", "1", "on"):
        assert coerce_text(flag, t) is True
    for f in ("false", "no", "0", "OFF"):
        assert coerce_text(flag, f) is False


@pytest.mark.parametrize("name, bad", [("count", "abc"), ("count", "7.5"), ("number", "many"), ("flag", "maybe")])
def test_bad_scalars(misc: ApiSchema, name: str, bad: str) -> None:
    with pytest.raises(InvalidInputs) as err:
        coerce_text(param(misc, "echo", name), bad)
    assert name in str(err.value) and repr(bad) in str(err.value)


def test_choices(misc: ApiSchema, img2_3d: ApiSchema) -> None:
    choice = param(misc, "echo", "choice")
    assert coerce_text(choice, "b") == "b"
    with pytest.raises(InvalidInputs) as err:
        coerce_text(choice, "d")
    assert "must be one of a, b, c" in str(err.value)
    tex = param(img2_3d, "image_to_3d", "texture_size")
    assert coerce_text(tex, "2048") == 2048  # the choice's own type, not the text
    assert coerce_text(param(img2_3d, "image_to_3d", "resolution"), "512") == "512"
    assert coerce_text(param(img2_3d, "image_to_3d", "multiimage_algo"), "multidiffusion") == "multidiffusion"
    with pytest.raises(InvalidInputs):
        coerce_text(tex, "4096")


def test_list_of_choices(misc: ApiSchema) -> None:
    tags = param(misc, "echo", "tags")
    assert coerce_text(tags, '["x", "z"]') == ["x", "z"]
    assert coerce_text(tags, "x,y") == ["x", "y"]
    with pytest.raises(InvalidInputs, match="x, y, z"):
        coerce_text(tags, "x,q")


def test_json_values(misc: ApiSchema) -> None:
    data = param(misc, "echo", "data")
    assert coerce_text(data, '{"a": [1, 2]}') == {"a": [1, 2]}
    assert coerce_text(data, "[1, 2]") == [1, 2]
    assert coerce_text(data, "hello") == "hello"  # a bare word is kept as text
    dict_param = Param(
        name="opts",
        label="Options",
        component="Custom",
        python_type="dict(a: int)",
        json_type={"type": "object"},
        has_default=False,
        default=None,
    )
    assert coerce_text(dict_param, '{"a": 1}') == {"a": 1}
    with pytest.raises(InvalidInputs, match="expects JSON"):
        coerce_text(dict_param, "{a: 1")


def test_file_params_keep_paths(misc: ApiSchema) -> None:
    assert coerce_text(param(misc, "count_upload", "file"), "/tmp/x,y.png") == "/tmp/x,y.png"
    files = param(misc, "files", "files")
    assert coerce_text(files, "a.txt,b.txt") == ["a.txt", "b.txt"]
    assert coerce_text(files, '["a.txt"]') == ["a.txt"]
