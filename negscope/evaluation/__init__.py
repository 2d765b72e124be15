"""Evaluation: the seed similarity study, negation accuracies, MCQ and retrieval."""
