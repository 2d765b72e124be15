"""Fine-tuning: contrastive and Omni-NegCLIP losses."""
