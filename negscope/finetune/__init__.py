"""Training: world pretraining, Omni-NegCLIP fine-tuning runs, their data, losses and schedule."""
