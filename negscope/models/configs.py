"""Small model configs: `tiny` for tests and `world` for the shipped shapes-world CLIP, as Hugging Face CLIP configs."""

from __future__ import annotations

SIZES: dict[str, dict] = {
    "tiny": {
        "text_config": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 4, "num_attention_heads": 2},
        "vision_config": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
                          "image_size": 32, "patch_size": 8},
        "projection_dim": 16,
    },
    "world": {
        "text_config": {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 12, "num_attention_heads": 4},
        "vision_config": {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4,
                          "image_size": 64, "patch_size": 8},
        "projection_dim": 64,
    },
}
