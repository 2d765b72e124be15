import dataclasses
import tomllib
from pathlib import Path

import pytest

from negscope.cli import build_parser, main
from negscope.experiments.config import (
    QUICK,
    STAGES,
    ConfigError,
    FinetuneConfig,
    RunConfig,
    load_config,
    quick,
    with_overrides,
)
from negscope.finetune.config import TrainConfig

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_default_toml_is_the_builtin_default():
    assert load_config(CONFIGS / "default.toml") == RunConfig()
    assert load_config(None) == RunConfig()


def test_default_toml_lists_every_setting():
    text = (CONFIGS / "default.toml").read_text()
    written = tomllib.loads(text)
    defaults = dataclasses.asdict(RunConfig())
    for key, value in defaults.items():
        if isinstance(value, dict):
            assert set(written[key]) == {k for k, v in value.items() if v is not None}, key
        elif value is None:
            assert f"# {key} = " in text, key
        else:
            assert key in written, key


def test_coco_config_loads():
    cfg = load_config(CONFIGS / "coco-vit-b32.toml")
    assert cfg.model == "openai/clip-vit-base-patch32"
    assert cfg.finetune.lr == 1e-6 and cfg.finetune.batch_size == 128 and cfg.finetune.train_data.endswith("train2017")


def test_sections_and_types_are_read(tmp_path):
    cfg = load_config(write(tmp_path, 'model = "tiny"\nstages = ["similarity"]\n[finetune]\nlr = 1\nblocks = "0,2"\n'))
    assert cfg.model == "tiny" and cfg.stages == ["similarity"]
    assert cfg.finetune.lr == 1.0 and isinstance(cfg.finetune.lr, float) and cfg.finetune.blocks == "0,2"
    assert cfg.finetune.steps == FinetuneConfig().steps


def test_unknown_top_level_key_names_nearest(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'modle' in the top level; did you mean 'model'\?"):
        load_config(write(tmp_path, 'modle = "tiny"\n'))


def test_unknown_section_key_names_section_and_nearest(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'learning_rat' in \[finetune\].*valid keys") as err:
        load_config(write(tmp_path, "[finetune]\nlearning_rat = 0.1\n"))
    assert "c.toml" in str(err.value)
    with pytest.raises(ConfigError, match=r"'batchsize' in \[finetune\]; did you mean 'batch_size'"):
        load_config(write(tmp_path, "[finetune]\nbatchsize = 8\n"))


def test_unknown_section_is_an_unknown_key(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'probe' in the top level; did you mean 'probes'"):
        load_config(write(tmp_path, "[probe]\nlimit = 3\n"))


@pytest.mark.parametrize(
    "text, match",
    [
        ('[finetune]\nsteps = "10"\n', r"finetune.steps must be int, not str"),
        ("[finetune]\nsteps = true\n", r"finetune.steps must be int, not bool"),
        ("[finetune]\nsteps = 1.5\n", r"finetune.steps must be int, not float"),
        ("strict = 1\n", r"strict must be bool"),
        ('stages = "similarity"\n', r"stages must be list"),
        ("stages = [1]\n", r"stages\[0\] must be str"),
        ("finetune = 3\n", r"'finetune' must be a table"),
        ("[finetune]\ntrain_data = 3\n", r"finetune.train_data must be str or NoneType"),
    ],
)
def test_wrong_types_are_errors(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match):
        load_config(write(tmp_path, text))


def test_unknown_stage_names_nearest(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown stage 'probe'.*did you mean 'probes'"):
        load_config(write(tmp_path, 'stages = ["similarity", "probe"]\n'))


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.toml does not exist"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match=r"not valid TOML"):
        load_config(write(tmp_path, "model = \n"))


def test_quick_shrinks_and_drops_the_study():
    cfg = quick(RunConfig())
    assert "study" not in cfg.stages and cfg.stages[0] == "negations"
    assert cfg.finetune.steps == QUICK["finetune"]["steps"] and cfg.similarity.limit == QUICK["similarity"]["limit"]
    small = quick(with_overrides(RunConfig(), {"finetune": {"steps": 3}}))
    assert small.finetune.steps == 3  # never larger than the config asks


def test_with_overrides_checks_keys():
    with pytest.raises(ConfigError, match="did you mean 'steps'"):
        with_overrides(RunConfig(), {"finetune": {"step": 3}})


def test_values_are_checked_against_their_choices_and_ranges(tmp_path):
    with pytest.raises(ConfigError, match=r"probes.dtype is 'float64'.*choose one of float32, float16"):
        load_config(write(tmp_path, '[probes]\ndtype = "float64"\n'))
    with pytest.raises(ConfigError, match=r"selection.coverage is 1.5; it must be between 0 and 1"):
        load_config(write(tmp_path, "[selection]\ncoverage = 1.5\n"))
    with pytest.raises(ConfigError, match=r"finetune.batch_size is 1; it must be at least 2"):
        load_config(write(tmp_path, "[finetune]\nbatch_size = 1\n"))


def test_the_finetune_section_is_the_trainer_config_plus_the_plan():
    assert issubclass(FinetuneConfig, TrainConfig)
    extra = {f.name for f in dataclasses.fields(FinetuneConfig)} - {f.name for f in dataclasses.fields(TrainConfig)}
    assert extra == {"blocks", "train_data", "pool"}


def _flags(parser) -> set[str]:
    return {s for a in parser._actions for s in a.option_strings}


def test_every_setting_is_a_flag_of_its_stage_with_help():
    subparsers = build_parser()._subparsers._group_actions[0].choices
    commands = {"negations": "negations", "similarity": "similarity", "probes": "probe", "attribution": "attribute", "patching": "patch", "erasure": "erase", "heads": "heads",
                "selection": "select", "finetune": "finetune", "steer": "steer", "evaluate": "evaluate", "localisation": "localise"}
    assert set(commands) | {"study", "recipes"} == set(STAGES)
    for section, command in commands.items():
        cls = type(getattr(RunConfig(), section))
        for f in dataclasses.fields(cls):
            assert f.metadata["help"], f"{section}.{f.name} has no help"
            assert "--" + f.name.replace("_", "-") in _flags(subparsers[command]), f"{command} lacks --{f.name}"
    study = subparsers["study"]._subparsers._group_actions[0].choices["layers"]
    assert {"--steps", "--limit", "--lr", "--train-data"} <= _flags(study)
    assert study.parse_args(["--out", "x"]).limit == RunConfig().study.limit  # the study's own default, not the trainer's
    recipes = subparsers["study"]._subparsers._group_actions[0].choices["recipes"]
    assert {"--arms", "--steps", "--seeds", "--lr", "--forms", "--lora-rank"} <= _flags(recipes)
    args = recipes.parse_args(["--out", "x", "--arms", "default", "--arms", "lr=1e-4"])
    assert args.arms == ["default", "lr=1e-4"] and args.steps == RunConfig().recipes.steps


@pytest.mark.parametrize("command", [["negations"], ["similarity"], ["probe"], ["attribute"], ["patch"], ["erase"], ["select"], ["finetune"],
                                     ["evaluate"], ["localise"], ["study", "layers"], ["study", "recipes"], ["run"], ["report"], ["world", "train"]])
def test_every_help_page_renders(command, capsys):
    with pytest.raises(SystemExit) as stop:
        main([*command, "--help"])
    assert stop.value.code == 0 and "--" in capsys.readouterr().out


def test_flags_are_checked_like_config_keys(tmp_path, capsys):
    assert main(["probe", "--model", "tiny", "--folds", "1", "--out", str(tmp_path)]) == 2
    assert "folds is 1; it must be at least 2" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_cli_unknown_key_and_missing_file(tmp_path, capsys):
    assert main(["run", "--config", str(write(tmp_path, "[similarity]\nlimt = 3\n")), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "negscope run: error:" in err and "'limt' in [similarity]; did you mean 'limit'" in err
    assert main(["run", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml does not exist" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("text", "match"), [
    ('[patching]\nall_tokens = true\npairs = "seed"\n', "seed pairs never are"),
    ('[finetune]\nblocks = "first"\n', r"finetune blocks is 'first'; use auto, front, middle, back, all"),
    ('[finetune]\nblocks = "0,x"\n', "block indices like 0,1,2"),
    ("[probes]\nlimit = 3\n", r"probes folds \(5\) is more than limit \(3\)"),
])
def test_settings_that_conflict_are_errors_when_the_config_loads(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match):
        load_config(write(tmp_path, text))


def test_run_stops_on_a_bad_section_before_any_stage(tmp_path, capsys):
    path = write(tmp_path, 'model = "tiny"\ndata = "world:4"\n[patching]\nall_tokens = true\npairs = "seed"\n')
    assert main(["run", "--config", str(path), "--out", str(tmp_path / "r")]) == 2
    assert "seed pairs never are" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
