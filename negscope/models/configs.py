"""Small model configs: `tiny` for tests and `world` for the shipped shapes-world CLIP."""

from __future__ import annotations

from transformers import CLIPConfig, CLIPTokenizer

SIZES: dict[str, dict] = {
    "tiny": {
        "text": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 4, "num_attention_heads": 2},
        "vision": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
                   "image_size": 32, "patch_size": 8},
        "projection_dim": 16,
    },
    "world": {
        "text": {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 12, "num_attention_heads": 4},
        "vision": {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4,
                   "image_size": 64, "patch_size": 8},
        "projection_dim": 64,
    },
}


def clip_config(size: str, tokenizer: CLIPTokenizer, context_length: int = 77) -> CLIPConfig:
    """A `CLIPConfig` of the named size whose text side matches `tokenizer`."""
    if size not in SIZES:
        raise ValueError(f"unknown model size {size!r}; choose from {sorted(SIZES)}")
    s = SIZES[size]
    text = dict(
        s["text"],
        vocab_size=len(tokenizer),
        max_position_embeddings=context_length,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return CLIPConfig(text_config=text, vision_config=dict(s["vision"]), projection_dim=s["projection_dim"])
