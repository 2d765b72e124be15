"""Hugging Face backends: `CLIPModel` and `SiglipModel` folders and hub ids, with tokenizer checks at load."""

from __future__ import annotations

import copy
import json
from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import (
    AutoTokenizer,
    CLIPConfig,
    CLIPImageProcessorPil,
    CLIPModel,
    SiglipConfig,
    SiglipImageProcessorPil,
    SiglipModel,
)
from transformers.utils import logging as hf_logging

from .attention import BlockParts
from .bundle import ClipBundle, ModelLoadError, seeded
from .packing import PackedBatch

TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "spiece.model", "tokenizer.model")
UNSET_MAX_LENGTH = 10**6  # transformers' "no limit" model_max_length is a huge integer


def projected(output: Any) -> torch.Tensor:
    """Projected features from `get_text_features`/`get_image_features`, whatever they return."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


class HFBundle(ClipBundle):
    """What Hugging Face CLIP and SigLIP share: a `text_model` with embeddings, encoder layers and final norm."""

    model_class: type[nn.Module]
    config_class: type
    processor_class: type

    def __init__(self, spec: str, model: nn.Module, tokenizer: Any, image_processor: Any) -> None:
        super().__init__(spec, model)
        self.tokenizer = tokenizer
        self.image_processor = image_processor

    @property
    def text_config(self) -> Any:
        """The text tower's config."""
        return self.model.config.text_config

    @property
    def context_length(self) -> int:
        return self.text_config.max_position_embeddings

    @property
    def eos_token_id(self) -> int:
        return self.tokenizer.eos_token_id

    @property
    def pad_token_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return self.eos_token_id if pad is None else pad

    @property
    def special_ids(self) -> frozenset[int]:
        return frozenset(i for i in (self.tokenizer.bos_token_id, self.eos_token_id, self.pad_token_id) if i is not None)

    def _token_ids(self, captions: list[str]) -> list[list[int]]:
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        if backend is not None and backend.truncation is None and backend.padding is None:  # the ids alone: faster
            return [encoding.ids for encoding in backend.encode_batch(captions, add_special_tokens=True)]
        return self.tokenizer(captions, add_special_tokens=True)["input_ids"]

    def token_names(self, ids: Sequence[int]) -> list[str]:
        return [t.replace("</w>", "").replace("\u2581", "") for t in self.tokenizer.convert_ids_to_tokens(list(ids))]

    @property
    def token_embedding(self) -> nn.Module:
        return self.model.text_model.embeddings.token_embedding

    @property
    def text_layers(self) -> list[nn.Module]:
        return list(self.model.text_model.encoder.layers)

    def _embed_point(self) -> tuple[nn.Module, bool]:
        return self.model.text_model.embeddings, False

    def _final_states(self, tokens: dict[str, torch.Tensor]) -> torch.Tensor:
        """The text tower's last hidden states (after its final layer norm)."""
        return self.model.text_model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]).last_hidden_state

    def text_features(self, tokens: dict[str, torch.Tensor], positions: torch.Tensor | None = None) -> torch.Tensor:
        hidden = self._final_states(tokens)
        if positions is None:
            positions = self.pool_positions(tokens["input_ids"])
        return self._project_text(hidden[torch.arange(len(hidden), device=hidden.device), positions.to(hidden.device)])

    @abstractmethod
    def _project_text(self, pooled: torch.Tensor) -> torch.Tensor:
        """The text feature from the pooled final state."""

    def _block_parts(self, layer: nn.Module) -> BlockParts:
        attn = layer.self_attn
        projections = (attn.q_proj, attn.k_proj, attn.v_proj)
        return BlockParts(attn, attn.num_heads, torch.cat([p.weight for p in projections]),
                          torch.cat([p.bias for p in projections]), attn.out_proj.weight, attn.out_proj.bias,
                          layer.layer_norm1, layer.layer_norm2, layer.mlp, nn.Identity(), nn.Identity())

    def _attention_input(self, args: tuple, kwargs: dict[str, Any]) -> torch.Tensor:
        return kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]

    def pooled_feature(self, state: torch.Tensor) -> torch.Tensor:
        return self._project_text(self.model.text_model.final_layer_norm(state))

    def image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return projected(self.model.get_image_features(pixel_values=pixel_values))

    @property
    def image_size(self) -> int:
        return self.model.config.vision_config.image_size

    @property
    def image_mean_std(self) -> tuple[list[float], list[float]]:
        return list(self.image_processor.image_mean), list(self.image_processor.image_std)

    def _process_images(self, images: list[np.ndarray]) -> torch.Tensor:
        return self.image_processor(images=images, return_tensors="pt")["pixel_values"]

    def _image_side(self) -> tuple[list[nn.Module], dict[str, Any]]:
        towers = [getattr(self.model, name) for name in ("vision_model", "visual_projection") if hasattr(self.model, name)]
        return towers, self.image_processor.to_dict()

    @property
    def logit_scale(self) -> nn.Parameter:
        return self.model.logit_scale

    def train_text(self) -> None:
        self.model.eval()
        self.model.text_model.train()

    def save(self, folder: str | Path, half: bool = False) -> Path:
        folder = Path(folder)
        hf_logging.disable_progress_bar()
        try:
            (copy.deepcopy(self.model).half() if half else self.model).save_pretrained(folder)
        finally:
            hf_logging.enable_progress_bar()
        self.tokenizer.save_pretrained(folder)
        self.image_processor.save_pretrained(folder)
        return folder

    def untrained_copy(self, seed: int = 0) -> HFBundle:
        with seeded(seed):
            model = type(self.model)(self.model.config).eval()
        return type(self)(f"{self.spec} (untrained, seed {seed})", model, self.tokenizer, self.image_processor).to(self.device)

    def _tokenizer_fit(self) -> tuple[int, int, int | None, int | None]:
        limit = self.tokenizer.model_max_length
        if not isinstance(limit, int) or isinstance(limit, bool):
            raise ModelLoadError(f"the tokenizer of {self.spec} has model_max_length {limit!r}, not a whole number of "
                                 "tokens; fix it in tokenizer_config.json or restore the file")
        return len(self.tokenizer), self.text_config.vocab_size, limit if limit < UNSET_MAX_LENGTH else None, self._pooled_id()

    def _pooled_id(self) -> int | None:
        """The end-of-text id the model pools at, or None where it pools by position (SigLIP)."""
        return None


class HFClipBundle(HFBundle):
    """A Hugging Face `CLIPModel`: pooled at the first end-of-text token, projected by `text_projection`."""

    backend = "hf-clip"
    model_class = CLIPModel
    config_class = CLIPConfig
    processor_class = CLIPImageProcessorPil

    @staticmethod
    def new_processor(size: int) -> CLIPImageProcessorPil:
        """CLIP's preprocessing for `size`-pixel inputs: resize the short side, centre-crop."""
        return CLIPImageProcessorPil(size={"shortest_edge": size}, crop_size={"height": size, "width": size})

    causal_text = True

    def pool_positions(self, input_ids: torch.Tensor) -> torch.Tensor:
        eos = self.text_config.eos_token_id
        if eos == 2:  # configs written before the end-of-text id was recorded: the highest id marks the end
            return input_ids.to(torch.int).argmax(dim=-1)
        return (input_ids == eos).to(torch.int).argmax(dim=-1)

    def _project_text(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.model.text_projection(pooled)

    @property
    def packs_prefixes(self) -> bool:
        # sdpa takes a boolean mask and eager attention an additive one; other kernels take no mask of this shape.
        # A steered model's hooks find each caption's negator by row, which packed rows do not keep.
        return self.steering is None and self.model.text_model.config._attn_implementation in ("sdpa", "eager")

    def _packed_features(self, batch: PackedBatch) -> torch.Tensor:
        text = self.model.text_model
        device = self.device
        hidden = text.embeddings(input_ids=batch.input_ids.to(device), position_ids=batch.position_ids.to(device))
        mask = batch.mask[:, None].to(device)
        if text.config._attn_implementation != "sdpa":  # eager attention adds the mask to its scores
            mask = torch.zeros(mask.shape, dtype=hidden.dtype, device=device).masked_fill_(~mask, torch.finfo(hidden.dtype).min)
        hidden = text.final_layer_norm(text.encoder(inputs_embeds=hidden, attention_mask=mask).last_hidden_state)
        return self._project_text(hidden[batch.rows.to(device), batch.ends.to(device)])

    @property
    def always_trained(self) -> tuple[str, ...]:
        return ("text_model.embeddings", "text_model.final_layer_norm", "text_projection", "logit_scale")

    def _pooled_id(self) -> int | None:
        eos = self.text_config.eos_token_id
        return self.text_config.vocab_size - 1 if eos == 2 else eos  # legacy configs pool at the highest id


class HFSiglipBundle(HFBundle):
    """A Hugging Face `SiglipModel`: captions padded to the full context, pooled at the last position, logit bias."""

    backend = "hf-siglip"
    pad_to_context = True
    resize_mode = "square"
    model_class = SiglipModel
    config_class = SiglipConfig
    processor_class = SiglipImageProcessorPil

    @staticmethod
    def new_processor(size: int) -> SiglipImageProcessorPil:
        """SigLIP's preprocessing for `size`-pixel inputs: resize to the square."""
        return SiglipImageProcessorPil(size={"height": size, "width": size})

    causal_text = False

    def pool_positions(self, input_ids: torch.Tensor) -> torch.Tensor:
        return torch.full((len(input_ids),), input_ids.shape[1] - 1, dtype=torch.long, device=input_ids.device)

    def _final_states(self, tokens: dict[str, torch.Tensor]) -> torch.Tensor:
        # SigLIP was trained attending to its padding, so the mask of real tokens is not passed
        return self.model.text_model(input_ids=tokens["input_ids"]).last_hidden_state

    def _project_text(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.model.text_model.head(pooled)

    @property
    def logit_bias(self) -> torch.Tensor:
        return self.model.logit_bias

    @property
    def always_trained(self) -> tuple[str, ...]:
        return ("text_model.embeddings", "text_model.final_layer_norm", "text_model.head", "logit_scale", "logit_bias")


BACKENDS: dict[str, type[HFBundle]] = {"clip": HFClipBundle, "siglip": HFSiglipBundle}  # by config model_type
KINDS = {cls.backend: kind for kind, cls in BACKENDS.items()}


def model_type(folder: Path) -> str:
    """The `model_type` a Hugging Face folder's config.json declares."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"{folder / 'config.json'} cannot be read ({err}); restore the model folder") from None
    if not isinstance(config, dict):
        raise ModelLoadError(f"{folder / 'config.json'} holds a {type(config).__name__}, not a config object; restore it")
    return str(config.get("model_type", ""))


def has_tokenizer(folder: Path) -> bool:
    """Whether a folder holds tokenizer files of any kind transformers reads."""
    return any((folder / name).is_file() for name in TOKENIZER_FILES)


def random_hf(kind: str, spec: str, config: dict[str, Any], seed: int = 0) -> HFBundle:
    """A Hugging Face model of `kind` built from `config` (its `text_config`, `vision_config`, ...) with random
    weights and CLIP's tokenizer, whose vocabulary the text tower takes; the context defaults to 77."""
    from .tokenizer import clip_tokenizer

    cls = BACKENDS[kind]
    context = config["text_config"].get("max_position_embeddings", 77)
    tok = clip_tokenizer(context)
    text = {"max_position_embeddings": context, **config["text_config"], "vocab_size": len(tok),
            "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id}
    with seeded(seed):
        model = cls.model_class(cls.config_class(**{**config, "text_config": text})).eval()
    bundle = cls(spec, model, tok, cls.new_processor(config["vision_config"]["image_size"]))
    bundle.check_tokenizer(spec)
    return bundle


def load_hf(source: str, spec: str, local_only: bool, kind: str) -> HFBundle:
    """Load a Hugging Face model of `kind` ('clip' or 'siglip') with its tokenizer and image processor, checked."""
    if kind not in BACKENDS:
        raise ModelLoadError(
            f"{spec} is a {kind or 'unknown'!r} model; negscope reads Hugging Face 'clip' and 'siglip' models, "
            "and open_clip models as open_clip:NAME:WEIGHTS"
        )
    cls = BACKENDS[kind]
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        model, info = cls.model_class.from_pretrained(source, local_files_only=local_only, output_loading_info=True,
                                                     dtype=torch.float32)
        tok = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
        proc = cls.processor_class.from_pretrained(source, local_files_only=local_only)
    except OSError:  # a file that is missing here, or not in the cache: the callers say which
        raise
    except Exception as err:  # noqa: BLE001 - transformers and safetensors fail on a corrupt file in many ways
        raise ModelLoadError(f"{spec} cannot be loaded ({type(err).__name__}: {str(err).splitlines()[0]}); its files are "
                             "corrupt or do not match each other: restore them from the original") from None
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()
    if Path(source).is_dir():
        _check_complete(Path(source), model.config, proc)
    _check_weights(spec, model.eval(), info)
    _check_processor(spec, proc, model.config.vision_config.image_size)
    bundle = cls(spec, model, tok, proc)
    bundle.check_tokenizer(source)
    return bundle


def _missing(written: dict[str, Any], full: dict[str, Any], where: str = "") -> list[str]:
    """The keys of `full` (one level of nesting deep) that `written` lacks."""
    lost = [f"{where}{k}" for k in full if k not in written]
    return lost + [m for k, v in full.items() if isinstance(v, dict) and isinstance(written.get(k), dict)
                   for m in _missing(written[k], v, f"{k}.")]


def _check_complete(folder: Path, config: Any, processor: Any) -> None:
    """Refuse a config.json or preprocessor_config.json written by transformers 5 or later that lacks a key: those
    versions write every key, so a missing one was lost, and its default would silently stand in for it (a lost
    `num_attention_heads` changes the numbers without changing any weight's shape). Older files leave defaults out,
    so they are not checked."""
    written = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if int(str(written.get("transformers_version", "0")).split(".")[0] or 0) < 5:
        return
    pre = folder / "preprocessor_config.json"
    for path, have, full in ((folder / "config.json", written, type(config).from_dict(written).to_diff_dict()),
                             (pre, json.loads(pre.read_text(encoding="utf-8")), processor.to_dict())):
        lost = _missing(have, full)
        if lost:
            raise ModelLoadError(f"{path} lacks {', '.join(lost[:3])}{' ...' if len(lost) > 3 else ''}, which the "
                                 "transformers version that wrote it always writes: the file was cut or edited, and "
                                 "defaults would stand in for its values; restore it")


def _like(value: Any, default: Any) -> bool:
    """Whether a setting has the type (and, for a list, the length) of its default."""
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float)) and (isinstance(default, float) or float(value).is_integer())
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple)) and len(value) == len(default) and all(map(_like, value, default))
    if isinstance(default, dict):
        return isinstance(value, dict) and all(_like(value[k], d) for k, d in default.items() if k in value)
    return isinstance(value, type(default))


def _check_processor(spec: str, processor: Any, image_size: int) -> None:
    """Refuse image preprocessing settings of the wrong type, or that do not turn an image into the model's input."""
    defaults = type(processor)().to_dict()
    for key, value in processor.to_dict().items():
        if defaults.get(key) is not None and not _like(value, defaults[key]):
            raise ModelLoadError(f"the image preprocessing of {spec} has {key} = {value!r}, but it must be like "
                                 f"{defaults[key]!r}; fix it in preprocessor_config.json or restore the file")
    want = (1, 3, image_size, image_size)
    try:
        # a grey image stays one grey per channel unless the settings pad it (a resize below the crop size)
        pixels = processor(images=[np.full((40, 48, 3), 128, dtype=np.uint8)], return_tensors="pt")["pixel_values"]
        flat = pixels.flatten(2)
        problem = (f"it makes inputs of shape {tuple(pixels.shape)}, the model takes {want}" if tuple(pixels.shape) != want
                   else "it gives non-finite pixels" if not pixels.isfinite().all()
                   else "it pads the image: it resizes below the crop size" if (flat.amax(2) - flat.amin(2)).max() > 1e-3
                   else None)
    except Exception as err:  # noqa: BLE001 - a bad setting fails somewhere inside transformers' image transforms
        problem = f"{type(err).__name__}: {err}"
    if problem:
        raise ModelLoadError(f"the image preprocessing of {spec} does not work ({problem}); fix preprocessor_config.json "
                             "or restore the file")


def _check_weights(spec: str, model: nn.Module, info: dict[str, Any]) -> None:
    """Refuse weights that do not fill the model its config describes, or that hold NaN or infinity."""
    for what, keys in (("lack", info["missing_keys"]), ("have unused", info["unexpected_keys"]),
                       ("have wrongly shaped", info["mismatched_keys"])):
        keys = sorted(str(k) for k in keys if not str(k).endswith("position_ids"))
        if keys:
            raise ModelLoadError(f"the weights of {spec} {what} tensors for its config ({len(keys)}, first {keys[0]}): "
                                 "config.json does not describe these weights; restore the model's own config.json")
    for name, p in model.named_parameters():
        if not torch.isfinite(p).all():
            raise ModelLoadError(f"the weights of {spec} hold NaN or infinity in {name}: the weights file is corrupt; "
                                 "restore it from the original")
