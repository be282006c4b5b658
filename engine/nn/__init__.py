"""The neural network pieces: configurations (plain data), their NumPy references (the
specification of every kernel), GPU layers that own their parameters, and training (backward
passes, losses, Adam)."""
