"""Training loops, losses, EMA, checkpoints and distributed helpers."""
