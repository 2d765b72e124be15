"""Typed results: JSON round trips with kind and schema inside, and clear refusals of other files."""

import json
from dataclasses import dataclass, field

import numpy as np
import pytest

from negscope.experiments.stages import STAGE, STAGE_LIST
from negscope.results import Result, ResultError


@dataclass
class Part:
    name: str
    values: list[float]


@dataclass
class Demo(Result):
    kind = "demo"
    filename = "demo.json"

    parts: dict[str, Part]
    optional: Part | None = None
    counts: list[int] = field(default_factory=list)


def test_round_trip_rebuilds_nested_dataclasses(tmp_path):
    demo = Demo({"a": Part("a", [0.5, 1.0])}, Part("b", []), [1, 2])
    path = demo.save(tmp_path)
    data = json.loads(path.read_text())
    assert (data["kind"], data["schema"]) == ("demo", 1)
    assert Demo.load(tmp_path) == demo and Demo.load(path) == demo
    assert isinstance(Demo.load(tmp_path).parts["a"], Part)


def test_arrays_and_numpy_scalars_are_written_as_plain_json(tmp_path):
    demo = Demo({"a": Part("a", np.array([0.25, 0.5]))}, None, [np.int64(3)])
    assert Demo.load(demo.save(tmp_path)) == Demo({"a": Part("a", [0.25, 0.5])}, None, [3])


def test_other_kinds_schemas_and_fields_are_refused(tmp_path):
    path = Demo({}).save(tmp_path)
    data = json.loads(path.read_text())
    with pytest.raises(ResultError, match="holds a 'demo' result, not 'probes'"):
        STAGE["probes"].result.load(path)
    path.write_text(json.dumps({**data, "schema": 7}))
    with pytest.raises(ResultError, match="schema 7.*rerun the demo stage"):
        Demo.load(tmp_path)
    path.write_text(json.dumps({**data, "surprise": 1}))
    with pytest.raises(ResultError, match="no field 'surprise'"):
        Demo.load(tmp_path)


def test_every_stage_result_names_its_stage_and_file():
    names = [s.result.kind for s in STAGE_LIST]
    assert len(set(names)) == len(names)
    assert all(s.result.filename.endswith(".json") for s in STAGE_LIST)
