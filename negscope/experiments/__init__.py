"""Experiments: stage runners that read and write run folders."""
