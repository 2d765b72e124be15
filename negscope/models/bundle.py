"""`ClipBundle`: the one interface negscope has to a CLIP-style model; backends fill in the model details.

A backend (`hf.py` for Hugging Face CLIP and SigLIP, `openclip.py` for open_clip) says how to turn
captions into token ids, where the text blocks and the pooled position are, how to get projected
features, which parameters always train with the chosen blocks, and how to save itself. Everything else
in negscope (capture, attribution, patching, training, evaluation) speaks only to this class.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import itertools
import json
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from ..data.negation import NEGATORS
from ..progress import tqdm
from .attention import BlockParts, HeadStates, heads_of
from .packing import PackedBatch, pack_prefixes, packed_batches
from .sites import Block, Site, all_blocks, all_sites, check_block, check_site

if TYPE_CHECKING:
    from .steering import Steering

SiteHook = Callable[[torch.Tensor], torch.Tensor | None]
HeadHook = Callable[[HeadStates], torch.Tensor | None]


class ModelLoadError(ValueError):
    """A model spec or folder that cannot be loaded; the message says what to pass or fix instead."""


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Draw from torch's CPU generator seeded with `seed` inside the block, and leave the generator outside as it was,
    so building a model from a seed never shifts the random numbers of the code around it."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


class ClipBundle(ABC):
    """A CLIP-style model and everything needed to feed it text and images."""

    backend: ClassVar[str]
    pad_to_context: ClassVar[bool] = False  # text models with a fixed sequence width get every caption padded to it
    resize_mode: ClassVar[str] = "shortest"  # on a GPU: "shortest" side to the input size then centre crop, or "square"

    def __init__(self, spec: str, model: nn.Module) -> None:
        self.spec = spec
        self.model = model
        self.truncated = 0
        self.steering: Steering | None = None  # set while `models.steering` hooks move its text states
        self._image_print: tuple[list[tuple[int, int]], str] | None = None

    # ---- what each backend provides

    @property
    @abstractmethod
    def context_length(self) -> int:
        """The longest token sequence the text encoder accepts."""

    @property
    @abstractmethod
    def eos_token_id(self) -> int:
        """The id that ends every tokenized caption."""

    @property
    @abstractmethod
    def pad_token_id(self) -> int:
        """The id that fills the positions after a caption's end."""

    @property
    @abstractmethod
    def special_ids(self) -> frozenset[int]:
        """Start, end and padding ids: the tokens that are not words."""

    @abstractmethod
    def _token_ids(self, captions: list[str]) -> list[list[int]]:
        """Token ids with the special tokens, before truncation and padding."""

    @abstractmethod
    def token_names(self, ids: Sequence[int]) -> list[str]:
        """Readable token strings for `ids` (word-boundary markers removed)."""

    @property
    @abstractmethod
    def token_embedding(self) -> nn.Module:
        """The token-embedding table: the module that receives the token ids."""

    @property
    @abstractmethod
    def text_layers(self) -> list[nn.Module]:
        """The text-encoder transformer blocks, input side first."""

    @abstractmethod
    def _embed_point(self) -> tuple[nn.Module, bool]:
        """The module whose output (False) or first input (True) is the `text.embed` state."""

    @abstractmethod
    def pool_positions(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Per row, the position whose final state the model projects into its text feature."""

    @abstractmethod
    def text_features(self, tokens: dict[str, torch.Tensor], positions: torch.Tensor | None = None) -> torch.Tensor:
        """Projected, unnormalised text features; `positions` overrides the pooled position per row."""

    @property
    @abstractmethod
    def causal_text(self) -> bool:
        """Whether each text token attends only to itself and the tokens before it."""

    @abstractmethod
    def _block_parts(self, layer: nn.Module) -> BlockParts:
        """The modules and attention weights of text block `layer`."""

    @abstractmethod
    def _attention_input(self, args: tuple, kwargs: dict[str, Any]) -> torch.Tensor:
        """The normalised states (batch, tokens, width) a block's attention module was called with."""

    @abstractmethod
    def pooled_feature(self, state: torch.Tensor) -> torch.Tensor:
        """The projected, unnormalised text feature of a last block's output at the pooled position (rows, width)."""

    @property
    def packs_prefixes(self) -> bool:
        """Whether `_packed_features` can run the text tower on prefix trees: a causal tower that takes position ids
        and an attention mask."""
        return False

    def _packed_features(self, batch: PackedBatch) -> torch.Tensor:
        """Projected, unnormalised text features of the sequences packed in `batch`, in its order; only where
        `packs_prefixes`."""
        raise NotImplementedError(f"{self.backend} text towers do not run on packed prefix trees")

    @abstractmethod
    def image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Projected, unnormalised image features."""

    @property
    @abstractmethod
    def image_size(self) -> int:
        """The side of the square pixel input the image tower takes."""

    @property
    @abstractmethod
    def image_mean_std(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and standard deviation used to normalise pixels."""

    @abstractmethod
    def _process_images(self, images: list[np.ndarray]) -> torch.Tensor:
        """Pixel tensor from images of any size, with the backend's own resize and crop."""

    @abstractmethod
    def _image_side(self) -> tuple[list[nn.Module], dict[str, Any]]:
        """The image tower's modules (with its projection) and the settings of the backend's preprocessing."""

    @property
    @abstractmethod
    def logit_scale(self) -> nn.Parameter:
        """The learned log temperature: similarities are multiplied by its exponential."""

    @property
    def logit_bias(self) -> torch.Tensor | None:
        """The learned logit bias (SigLIP), or None."""
        return None

    @property
    @abstractmethod
    def always_trained(self) -> tuple[str, ...]:
        """Parameter-name prefixes trained with any text blocks: embeddings, final norm, projection, temperature."""

    @abstractmethod
    def train_text(self) -> None:
        """Put the text tower in training mode and the image tower in evaluation mode."""

    @abstractmethod
    def save(self, folder: str | Path, half: bool = False) -> Path:
        """Write the model, tokenizer and image preprocessing in this backend's standard folder layout.

        Args:
            folder: the folder to write (created where missing).
            half: store the weights as float16, half the size on disk; loading reads them back as float32.

        Returns:
            The folder.
        """

    @abstractmethod
    def _tokenizer_fit(self) -> tuple[int, int, int | None, int | None]:
        """(tokens in the tokenizer, rows of the token embedding, the tokenizer's own context limit or None,
        the end-of-text id the model pools at or None where it pools by position)."""

    @abstractmethod
    def untrained_copy(self, seed: int = 0) -> ClipBundle:
        """The same architecture and tokenizer with freshly initialised weights (the control model)."""

    # ---- shared behaviour

    def frozen_copy(self) -> ClipBundle:
        """A copy of this bundle with its current weights, in eval mode, with gradients off (a fixed reference)."""
        twin = copy.deepcopy(self)
        twin.model.eval().requires_grad_(False)
        return twin

    def check_tokenizer(self, source: str) -> None:
        """Refuse a tokenizer that does not fit the model: vocabulary, end-of-text id and context length."""
        tokens, rows, limit, pooled_id = self._tokenizer_fit()
        fix = f"give {source} the tokenizer of the model it was trained from"
        if self.eos_token_id is None:
            raise ModelLoadError(f"the tokenizer in {source} has no end-of-text token; {fix}")
        if tokens > rows:
            raise ModelLoadError(
                f"the tokenizer in {source} has {tokens} tokens but the model's embedding table has {rows}: "
                f"it is the tokenizer of another model; {fix}"
            )
        if pooled_id is not None and pooled_id != self.eos_token_id:
            raise ModelLoadError(
                f"the tokenizer in {source} ends captions with id {self.eos_token_id}, but the model pools at id "
                f"{pooled_id}: it is the tokenizer of another model, or the config does not match it; {fix}"
            )
        if limit is not None and limit != self.context_length:
            raise ModelLoadError(
                f"the tokenizer in {source} has context {limit}, the model {self.context_length}: the config and "
                f"tokenizer do not match (the model's context is {self.context_length} tokens); {fix}"
            )

    @property
    def device(self) -> torch.device:
        """The device the model's weights live on."""
        return next(self.model.parameters()).device

    def to(self, device: str | torch.device) -> ClipBundle:
        """Move the model to `device` and return the bundle."""
        self.model.to(device)
        return self

    @property
    def blocks(self) -> list[Block]:
        """Every trainable text block, input side first."""
        return all_blocks(len(self.text_layers))

    @property
    def sites(self) -> list[Site]:
        """Every hidden-state site of the text encoder: `text.embed`, then each block's output."""
        return all_sites(len(self.text_layers))

    def site(self, site: Site | str) -> Site:
        """`site` checked against this model; an error names the valid sites."""
        return check_site(site, len(self.text_layers), self.spec)

    def block(self, block: Block | int) -> Block:
        """`block` checked against this model; an error names the valid range."""
        return check_block(block, len(self.text_layers), self.spec)

    def site_point(self, site: Site | str) -> tuple[nn.Module, bool]:
        """The module holding `site` and whether the state is its first input (True) or its output (False)."""
        s = self.site(site)
        return self._embed_point() if s.block is None else (self.text_layers[s.block.index], False)

    def hook_site(self, site: Site | str, fn: SiteHook) -> RemovableHandle:
        """Call `fn(state)` on every forward pass at `site`; a tensor it returns replaces the state."""
        module, is_input = self.site_point(site)
        if is_input:
            def pre(mod: nn.Module, args: tuple) -> tuple | None:
                new = fn(args[0])
                return None if new is None else (new, *args[1:])

            return module.register_forward_pre_hook(pre)

        def post(mod: nn.Module, args: tuple, output: Any) -> Any:
            hidden = output[0] if isinstance(output, tuple) else output
            new = fn(hidden)
            if new is None:
                return None
            return (new, *output[1:]) if isinstance(output, tuple) else new

        return module.register_forward_hook(post)

    @functools.cached_property
    def negator_ids(self) -> torch.Tensor:
        """The ids of the vocabulary's tokens whose text is a negator word (`data.negation.NEGATORS`)."""
        ids = list(range(self.token_embedding.weight.shape[0]))
        return torch.tensor([i for i, name in zip(ids, self.token_names(ids)) if name.strip().lower() in NEGATORS])

    def block_parts(self, block: Block | int) -> BlockParts:
        """The modules and attention weights of text block `block` (`models.attention`)."""
        return self._block_parts(self.block_module(block))

    @property
    def heads(self) -> int:
        """Attention heads per text block."""
        return self.block_parts(0).heads

    def hook_heads(self, block: Block | int, fn: HeadHook) -> RemovableHandle:
        """Call `fn(states)` with the per-head `HeadStates` of block `block`'s attention on every forward pass; per-head
        outputs it returns (batch, tokens, heads, head width) replace the block's, through its output projection."""
        parts = self.block_parts(block)

        def post(mod: nn.Module, args: tuple, kwargs: dict[str, Any], output: Any) -> Any:
            states = heads_of(parts, self._attention_input(args, kwargs), self.causal_text)
            new = fn(states)
            if new is None:
                return None
            change = parts.project_out(new - states.z, bias=False)
            return (output[0] + change, *output[1:]) if isinstance(output, tuple) else output + change

        return parts.attention.register_forward_hook(post, with_kwargs=True)

    def hook_token_ids(self, fn: Callable[[torch.Tensor], None]) -> RemovableHandle:
        """Call `fn(input_ids)` at the start of every text forward pass."""
        return self.token_embedding.register_forward_pre_hook(lambda mod, args: fn(args[0]))

    def block_module(self, block: Block | int) -> nn.Module:
        """The module of text block `block`."""
        return self.text_layers[self.block(block).index]

    def real_lengths(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Per row, the number of real tokens: start through the first end-of-text token."""
        is_eos = input_ids == self.eos_token_id
        first = is_eos.to(torch.int).argmax(dim=-1)
        return torch.where(is_eos.any(dim=-1), first + 1, torch.full_like(first, input_ids.shape[1]))

    def prefix_ends(self, prefixes: Sequence[str]) -> torch.Tensor:
        """Per prefix, the position of its last word token in any caption that starts with it at a word boundary."""
        return self.real_lengths(self.tokenize(prefixes)["input_ids"]) - 2

    def tokenize(self, captions: Sequence[str]) -> dict[str, torch.Tensor]:
        """Token ids and real-token mask; empty captions are an error, over-long ones are truncated with a warning."""
        captions = list(captions)
        if not captions:
            raise ValueError("no captions given; pass at least one caption")
        for i, c in enumerate(captions):
            if not isinstance(c, str) or not c.strip():
                raise ValueError(f"caption {i} is empty ({c!r}); remove it or give it text")
        ids = self._token_ids(captions)
        ctx, eos = self.context_length, self.eos_token_id
        long = [i for i, t in enumerate(ids) if len(t) > ctx]
        if long:
            self.truncated += len(long)
            warnings.warn(
                f"{len(long)} caption(s) longer than the model's {ctx}-token context were truncated "
                f"({self.truncated} so far), e.g. {captions[long[0]][:60]!r}...",
                stacklevel=2,
            )
            ids = [t[: ctx - 1] + [eos] if len(t) > ctx else t for t in ids]
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        width = ctx if self.pad_to_context else int(lengths.max())
        mask = np.arange(width) < lengths[:, None]
        input_ids = np.full((len(ids), width), self.pad_token_id, dtype=np.int64)
        input_ids[mask] = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
        return {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(mask.astype(np.int64))}

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast on a GPU; nothing on the CPU."""
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def image_fingerprint(self) -> str:
        """A digest of everything an image's feature depends on besides the image: the image tower's weights, the
        preprocessing, and the device kind and precision it runs at. Recomputed only after those weights change."""
        modules, settings = self._image_side()
        tensors = [t for m in modules for t in (*m.parameters(), *m.buffers())]
        state = [(t.data_ptr(), t._version) for t in tensors]
        if self._image_print is None or self._image_print[0] != state:
            h = hashlib.blake2b(digest_size=16)
            for t in tensors:
                h.update(str((t.dtype, tuple(t.shape))).encode())
                h.update(t.detach().reshape(-1).view(torch.uint8).cpu().numpy())
            where = {"device": self.device.type, "autocast": "bf16" if self.device.type == "cuda" else None,
                     "resize": self.resize_mode if self.device.type == "cuda" else "backend", "size": self.image_size,
                     "preprocessing": settings}
            h.update(json.dumps(where, sort_keys=True, default=str).encode())
            self._image_print = (state, h.hexdigest())
        return self._image_print[1]

    def preprocess_on_device(self, images: Sequence[torch.Tensor]) -> torch.Tensor:
        """Pixel tensor from HxWx3 uint8 tensors of any size, resized on the model's device (bicubic, antialiased):
        the shorter side to the input size and a centre crop, or the whole image to the square (`resize_mode`)."""
        size, dev = self.image_size, self.device
        mean, std = (torch.tensor(v, device=dev).view(3, 1, 1) for v in self.image_mean_std)
        out = []
        for im in images:
            x = im.to(dev, non_blocking=True).permute(2, 0, 1).unsqueeze(0).float() / 255.0
            h, w = x.shape[-2:]
            if self.resize_mode == "square":
                hw = (size, size)
            else:
                scale = size / min(h, w)
                hw = (max(size, int(h * scale)), max(size, int(w * scale)))
            if (h, w) != hw:
                x = nn.functional.interpolate(x, size=hw, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)
            top, left = (x.shape[-2] - size) // 2, (x.shape[-1] - size) // 2
            out.append(x[0, :, top : top + size, left : left + size])
        return (torch.stack(out) - mean) / std

    def preprocess(self, images: Sequence[Any]) -> torch.Tensor:
        """Pixel tensor for the image tower; uint8 images already at the input size skip resizing."""
        size = self.image_size
        arrays = [np.asarray(im) for im in images]
        if all(a.shape == (size, size, 3) and a.dtype == np.uint8 for a in arrays):
            mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in self.image_mean_std)
            x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255.0
            return (x - mean) / std
        return self._process_images(arrays)

    def text_embeds(self, tokens: dict[str, torch.Tensor], positions: torch.Tensor | None = None) -> torch.Tensor:
        """L2-normalised projected text features (differentiable)."""
        tokens = {k: v.to(self.device) for k, v in tokens.items()}
        return nn.functional.normalize(self.text_features(tokens, positions).float(), dim=-1)

    def image_embeds(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """L2-normalised projected image features (differentiable)."""
        return nn.functional.normalize(self.image_features(pixel_values.to(self.device)).float(), dim=-1)

    def logits(self, similarities: torch.Tensor) -> torch.Tensor:
        """Similarities as the model's logits: exp(logit scale) * S, plus the logit bias where the model has one."""
        out = self.logit_scale.exp() * similarities
        return out if self.logit_bias is None else out + self.logit_bias

    def clamp_logit_scale(self, high: float) -> None:
        """Keep the log temperature in [0, high] (CLIP's training rule)."""
        with torch.no_grad():
            self.logit_scale.clamp_(0, high)

    def encode_text(self, captions: Sequence[str], batch_size: int = 256, progress: bool = False,
                    by_length: bool = False, share_prefixes: bool = False) -> torch.Tensor:
        """L2-normalised text features for `captions`, on CPU, tokenised once and encoded in batches, each padded only
        to its own longest caption. `by_length` batches captions of similar length together (less padding); the
        forward passes, and so any states captured from them, then follow that order instead of the captions'.
        `share_prefixes` encodes each shared token prefix once (`packing`) where the text tower `packs_prefixes`: the
        same features, but the forward passes see packed rows, so capture nothing from them."""
        captions = list(captions)
        if not captions:
            raise ValueError("no captions given; pass at least one caption")
        tokens = self.tokenize(captions)
        if share_prefixes and self.packs_prefixes:
            return self._encode_packed(tokens["input_ids"], batch_size, progress)
        out: torch.Tensor | None = None
        with torch.inference_mode(), self.autocast():
            for rows, batch in tqdm(self.length_batches(tokens, batch_size, by_length), total=-(-len(captions) // batch_size),
                                    desc="text", disable=None if progress else True, leave=False):
                feats = self.text_embeds(batch).cpu()
                if out is None:
                    out = torch.empty(len(captions), feats.shape[1])
                out[rows] = feats
        return out

    def length_batches(self, tokens: dict[str, torch.Tensor], batch_size: int, by_length: bool = True
                       ) -> Iterator[tuple[torch.Tensor, dict[str, torch.Tensor]]]:
        """Per batch of `batch_size` rows of `tokens` (captions of similar length together when `by_length`), the row
        indices and every tensor of `tokens` at those rows, cut to the batch's longest caption (kept whole where the
        model pads to its context)."""
        lengths = tokens["attention_mask"].sum(dim=1)
        order = torch.argsort(lengths, stable=True) if by_length else torch.arange(len(lengths))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = lengths.new_tensor(tokens["attention_mask"].shape[1]) if self.pad_to_context else lengths[rows].max()
            yield rows, {k: v[rows, : int(width)] for k, v in tokens.items()}

    def _encode_packed(self, input_ids: torch.Tensor, batch_size: int, progress: bool) -> torch.Tensor:
        """`encode_text` on prefix trees of the tokens through each pooled position, in batches of as many tokens as
        `batch_size` unpacked captions hold on average."""
        ends = self.pool_positions(input_ids).tolist()
        rows = pack_prefixes([ids[: end + 1] for ids, end in zip(input_ids.tolist(), ends)], self.context_length)
        max_nodes = batch_size * (sum(ends) + len(ends)) // len(ends)
        out: torch.Tensor | None = None
        with torch.inference_mode(), self.autocast(), tqdm(total=len(ends), desc="text", unit="text",
                                                           disable=None if progress else True, leave=False) as bar:
            for batch in packed_batches(rows, self.pad_token_id, max_nodes):
                feats = nn.functional.normalize(self._packed_features(batch).float(), dim=-1).cpu()
                if out is None:
                    out = torch.empty(len(ends), feats.shape[1])
                out[batch.sequences] = feats
                bar.update(len(batch.sequences))
        return out

    def encode_image(self, images: Sequence[Any], batch_size: int = 64, progress: bool = False) -> torch.Tensor:
        """L2-normalised image features for HxWx3 arrays or PIL images, on CPU, in batches."""
        images = list(images)
        if not images:
            raise ValueError("no images given; pass at least one image")
        out = []
        with torch.inference_mode(), self.autocast():
            for i in tqdm(range(0, len(images), batch_size), desc="images", disable=None if progress else True, leave=False):
                out.append(self.image_embeds(self.preprocess(images[i : i + batch_size])).cpu())
        return torch.cat(out)

    def changed_weights(self, other: ClipBundle) -> int:
        """How many weights (tensor elements) differ between this model and `other`, a model of the same architecture.

        Args:
            other: the model to compare with.

        Returns:
            The count; a steered model's hooks are not weights and count nothing.
        """
        mine, theirs = self.model.state_dict(), other.model.state_dict()
        if mine.keys() != theirs.keys() or any(mine[k].shape != theirs[k].shape for k in mine):
            raise ValueError(f"{self.spec} and {other.spec} differ in architecture; compare models of one architecture")
        return sum(int((mine[k].cpu() != theirs[k].cpu()).sum()) for k in mine)

    def seconds_per_1000_captions(self, captions: Sequence[str], batch_size: int = 256) -> float:
        """Seconds `encode_text` takes for 1,000 captions: `captions` cycled or cut to 1,000, after one warm-up batch."""
        captions = list(captions)
        if not captions:
            raise ValueError("no captions given; pass at least one caption")
        thousand = [captions[i % len(captions)] for i in range(1000)]
        self.encode_text(thousand[:batch_size], batch_size=batch_size)
        start = time.perf_counter()
        self.encode_text(thousand, batch_size=batch_size)
        return time.perf_counter() - start

    def describe(self) -> dict[str, Any]:
        """Backend, text depth and width, context length and image size, for listings and result files."""
        width = self.token_embedding.weight.shape[1]
        return {"backend": self.backend, "text_blocks": len(self.text_layers), "text_width": int(width),
                "context_length": self.context_length, "image_size": self.image_size}
