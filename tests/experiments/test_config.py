import dataclasses
from pathlib import Path

import pytest

from negscope.cli import main
from negscope.experiments.config import (
    QUICK,
    ConfigError,
    FinetuneConfig,
    RunConfig,
    config_hash,
    load_config,
    quick,
    section_config,
    with_overrides,
)

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_default_toml_is_the_builtin_default():
    assert load_config(CONFIGS / "default.toml") == RunConfig()
    assert load_config(None) == RunConfig()


def test_coco_config_loads():
    cfg = load_config(CONFIGS / "coco-vit-b32.toml")
    assert cfg.model == "openai/clip-vit-base-patch32"
    assert cfg.finetune.lr == 1e-6 and cfg.finetune.batch_size == 128 and cfg.finetune.data.endswith("train2017")


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
        ("[finetune]\ndata = 3\n", r"finetune.data must be str or NoneType"),
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
    assert "study" not in cfg.stages and cfg.stages[0] == "similarity"
    assert cfg.finetune.steps == QUICK["finetune"]["steps"] and cfg.similarity.limit == QUICK["similarity"]["limit"]
    small = quick(with_overrides(RunConfig(), {"finetune": {"steps": 3}}))
    assert small.finetune.steps == 3  # never larger than the config asks


def test_with_overrides_checks_keys():
    with pytest.raises(ConfigError, match="did you mean 'steps'"):
        with_overrides(RunConfig(), {"finetune": {"step": 3}})


def test_section_hash_is_stable_and_local():
    base = RunConfig()
    h = config_hash(section_config(base, "probes"))
    assert h == config_hash(section_config(RunConfig(), "probes"))
    assert config_hash({"a": 1, "b": 2}) == config_hash({"b": 2, "a": 1})
    other_section = with_overrides(base, {"finetune": {"steps": 7}})
    assert config_hash(section_config(other_section, "probes")) == h
    assert config_hash(section_config(with_overrides(base, {"probes": {"folds": 3}}), "probes")) != h
    assert config_hash(section_config(dataclasses.replace(base, seed=1), "probes")) != h
    assert config_hash(section_config(dataclasses.replace(base, name="x", stages=["probes"]), "probes")) == h


def test_finetune_section_covers_the_trainer_config():
    from negscope.finetune.trainer import TrainConfig

    ours = {f.name for f in dataclasses.fields(FinetuneConfig)}
    assert {f.name for f in dataclasses.fields(TrainConfig)} - {"seed"} <= ours


def test_cli_unknown_key_and_missing_file(tmp_path, capsys):
    assert main(["run", "--config", str(write(tmp_path, "[similarity]\nlimt = 3\n")), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "negscope run: error:" in err and "'limt' in [similarity]; did you mean 'limit'" in err
    assert main(["run", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml does not exist" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
