"""The open_clip backend (optional extra `negscope[openclip]`): CLIP models with open_clip's own text transformer.

Specs: `open_clip:NAME:WEIGHTS` with WEIGHTS a pretrained tag (`openai`), a checkpoint file or `random`;
`open_clip:hf-hub:ORG/REPO`; or a folder holding `open_clip_config.json` (what `save` writes). Text blocks
are `transformer.resblocks.N`; `text.embed` is the input of `transformer` (token plus position embedding).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .attention import BlockParts
from .bundle import ClipBundle, ModelLoadError, seeded

PREFIX = "open_clip:"
CONFIG_FILE = "open_clip_config.json"
WEIGHTS_FILE = "open_clip_model.safetensors"
INSTALL = (
    "open_clip is not importable here; install the extra in an environment whose torch has a matching "
    "torchvision: pip install torch==2.14.1 torchvision==0.29.1 'negscope[openclip]'"
)


def open_clip_module() -> Any:
    """The `open_clip` package, or a ModelLoadError that says how to install it."""
    try:
        import open_clip
    except (ImportError, RuntimeError, AttributeError) as err:  # torchvision beside a torch it was not built for: RuntimeError
        raise ModelLoadError(f"{INSTALL} ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})") from None
    return open_clip


def available() -> bool:
    """Whether open_clip can be imported in this environment."""
    try:
        open_clip_module()
    except ModelLoadError:
        return False
    return True


class OpenClipBundle(ClipBundle):
    """An open_clip `CLIP` model: captions padded to the full context, pooled where its pool type says."""

    backend = "open_clip"
    pad_to_context = True

    def __init__(self, spec: str, model: nn.Module, tokenizer: Any, transform: Any, source: str, model_cfg: dict) -> None:
        super().__init__(spec, model)
        if not hasattr(model, "transformer") or not hasattr(model, "token_embedding"):
            raise ModelLoadError(
                f"{spec} is an open_clip model with a custom text tower ({type(model).__name__}); negscope reads "
                "open_clip models whose text encoder is open_clip's own transformer (the OpenAI RN and ViT models)"
            )
        self.tokenizer = tokenizer
        self.transform = transform
        self.source = source
        self.model_cfg = model_cfg

    @property
    def context_length(self) -> int:
        return int(self.model.positional_embedding.shape[0])

    @property
    def eos_token_id(self) -> int:
        return int(self.tokenizer.eot_token_id)

    @property
    def pad_token_id(self) -> int:
        return 0

    @property
    def special_ids(self) -> frozenset[int]:
        return frozenset({int(self.tokenizer.sot_token_id), self.eos_token_id, self.pad_token_id})

    def _token_ids(self, captions: list[str]) -> list[list[int]]:
        sot, eot = int(self.tokenizer.sot_token_id), self.eos_token_id
        return [[sot, *self.tokenizer.encode(c), eot] for c in captions]

    def token_names(self, ids: Sequence[int]) -> list[str]:
        return [self.tokenizer.decoder[int(i)].replace("</w>", "") for i in ids]

    @property
    def token_embedding(self) -> nn.Module:
        return self.model.token_embedding

    @property
    def text_layers(self) -> list[nn.Module]:
        return list(self.model.transformer.resblocks)

    def _embed_point(self) -> tuple[nn.Module, bool]:
        return self.model.transformer, True

    def pool_positions(self, input_ids: torch.Tensor) -> torch.Tensor:
        kind = self.model.text_pool_type
        if kind == "argmax":
            return input_ids.argmax(dim=-1)
        if kind == "eos":
            return (input_ids == self.eos_token_id).to(torch.int).argmax(dim=-1)
        index = 0 if kind == "first" else input_ids.shape[1] - 1
        return torch.full((len(input_ids),), index, dtype=torch.long, device=input_ids.device)

    def text_features(self, tokens: dict[str, torch.Tensor], positions: torch.Tensor | None = None) -> torch.Tensor:
        m, ids = self.model, tokens["input_ids"]
        cast = m.transformer.get_cast_dtype()
        x = m.token_embedding(ids).to(cast) + m.positional_embedding.to(cast)
        x = m.ln_final(m.transformer(x, attn_mask=m.attn_mask))
        pos = self.pool_positions(ids) if positions is None else positions.to(x.device)
        pooled = x[torch.arange(len(x), device=x.device), pos]
        proj = m.text_projection
        return proj(pooled) if isinstance(proj, nn.Linear) else pooled @ proj

    @property
    def causal_text(self) -> bool:
        return self.model.attn_mask is not None

    def _block_parts(self, layer: nn.Module) -> BlockParts:
        attn = layer.attn
        if not getattr(attn, "batch_first", False):
            raise ModelLoadError(f"{self.spec}: its text attention takes (tokens, batch, width); negscope reads "
                                 "open_clip's batch-first transformer (open_clip 2.24 or later)")
        return BlockParts(attn, attn.num_heads, attn.in_proj_weight, attn.in_proj_bias, attn.out_proj.weight,
                          attn.out_proj.bias, layer.ln_1, layer.ln_2, layer.mlp, layer.ls_1, layer.ls_2)

    def _attention_input(self, args: tuple, kwargs: dict[str, Any]) -> torch.Tensor:
        return args[0] if args else kwargs["query"]

    def pooled_feature(self, state: torch.Tensor) -> torch.Tensor:
        proj = self.model.text_projection
        state = self.model.ln_final(state)
        return proj(state) if isinstance(proj, nn.Linear) else state @ proj

    def image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(pixel_values)

    @property
    def image_size(self) -> int:
        size = self.model.visual.image_size
        return int(size[0] if isinstance(size, tuple | list) else size)

    @property
    def image_mean_std(self) -> tuple[list[float], list[float]]:
        return list(self.model.visual.image_mean), list(self.model.visual.image_std)  # set by open_clip's factory

    def _process_images(self, images: list[np.ndarray]) -> torch.Tensor:
        from PIL import Image

        return torch.stack([self.transform(Image.fromarray(a).convert("RGB")) for a in images])

    def _image_side(self) -> tuple[list[nn.Module], dict[str, Any]]:
        return [self.model.visual], {"transform": repr(self.transform)}

    @property
    def logit_scale(self) -> nn.Parameter:
        return self.model.logit_scale

    @property
    def logit_bias(self) -> torch.Tensor | None:
        return getattr(self.model, "logit_bias", None)

    @property
    def always_trained(self) -> tuple[str, ...]:
        names = ("token_embedding", "positional_embedding", "ln_final", "text_projection", "logit_scale")
        return names + (("logit_bias",) if self.logit_bias is not None else ())

    def train_text(self) -> None:
        self.model.train()
        self.model.visual.eval()

    def save(self, folder: str | Path, half: bool = False) -> Path:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: (v.half() if half and v.is_floating_point() else v).contiguous()
                   for k, v in self.model.state_dict().items()}, str(folder / WEIGHTS_FILE))
        mean, std = self.image_mean_std
        config = {"model_cfg": self.model_cfg, "preprocess_cfg": {"mean": mean, "std": std}}
        (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2))
        return folder

    def untrained_copy(self, seed: int = 0) -> OpenClipBundle:
        open_clip = open_clip_module()
        with seeded(seed):
            model = open_clip.create_model(self.source, load_weights=False, **_quick_gelu(self.model_cfg)).eval()
        copy = OpenClipBundle(f"{self.spec} (untrained, seed {seed})", model, self.tokenizer, self.transform,
                              self.source, self.model_cfg)
        return copy.to(self.device)

    def _tokenizer_fit(self) -> tuple[int, int, int | None, int | None]:
        tokens = len(self.tokenizer.encoder)
        pooled_id = tokens - 1 if self.model.text_pool_type == "argmax" else None  # argmax pools at the highest id
        return tokens, self.model.token_embedding.num_embeddings, self.tokenizer.context_length, pooled_id


def _quick_gelu(model_cfg: dict) -> dict:
    return {"force_quick_gelu": True} if model_cfg.get("quick_gelu") else {}


def _effective_config(open_clip: Any, name: str, model: nn.Module) -> dict:
    """The model config to save: open_clip's for `name`, with QuickGELU recorded when the weights need it."""
    cfg = dict(open_clip.get_model_config(name) or {})
    if any(isinstance(m, open_clip.model.QuickGELU) for m in model.modules()):
        cfg["quick_gelu"] = True
    return cfg


def parse_spec(open_clip: Any, spec: str) -> tuple[str, str | None]:
    """(model name for open_clip, pretrained tag or file or None) for an `open_clip:` spec; errors say what to write."""
    rest = spec[len(PREFIX):]
    if rest.startswith(("hf-hub:", "local-dir:")):
        return rest, None
    name, _, weights = rest.partition(":")
    known = open_clip.list_models()
    if name not in known:
        close = [m for m in known if name.lower().replace("/", "-") in m.lower()][:8]
        raise ModelLoadError(f"open_clip has no model {name!r} (in {spec!r}); close names: {close or known[:8]}")
    tags = open_clip.list_pretrained_tags_by_model(name)
    if not weights:
        raise ModelLoadError(
            f"{spec!r} names no weights; write open_clip:{name}:TAG with TAG one of {tags or ['(none published)']}, "
            f"open_clip:{name}:/path/to/checkpoint.pt, or open_clip:{name}:random for random weights"
        )
    if weights == "random":
        return name, None
    if Path(weights).expanduser().is_file() or weights in tags:
        return name, str(Path(weights).expanduser()) if weights not in tags else weights
    raise ModelLoadError(f"{weights!r} in {spec!r} is neither a checkpoint file nor a pretrained tag of {name} ({tags}); check the path")


def load_openclip(spec: str) -> OpenClipBundle:
    """Load an `open_clip:` spec or an open_clip folder, with its tokenizer and preprocessing, checked."""
    open_clip = open_clip_module()
    folder = Path(spec).expanduser()
    if folder.is_dir():
        if not (folder / CONFIG_FILE).is_file():
            raise ModelLoadError(f"open_clip folder {folder} has no {CONFIG_FILE}")
        name, pretrained = f"local-dir:{folder.resolve()}", None
        model_cfg = json.loads((folder / CONFIG_FILE).read_text())["model_cfg"]
    else:
        name, pretrained = parse_spec(open_clip, spec)
        model_cfg = None
    try:
        model, _, transform = open_clip.create_model_and_transforms(
            name, pretrained=pretrained, **_quick_gelu(model_cfg or {})
        )
        tokenizer = open_clip.get_tokenizer(name)
    except (OSError, RuntimeError, ValueError) as err:
        raise ModelLoadError(
            f"open_clip could not build {spec!r} ({str(err).splitlines()[0] if str(err) else type(err).__name__}); "
            "offline, pass a local checkpoint: open_clip:NAME:/path/to/checkpoint.pt"
        ) from None
    if model_cfg is None:
        model_cfg = _effective_config(open_clip, name, model)
    bundle = OpenClipBundle(spec, model.eval(), tokenizer, transform, name, model_cfg)
    bundle.check_tokenizer(spec)
    return bundle
