"""``python -m inpaintkit`` (also what ``torchrun -m inpaintkit train ...`` runs)."""

from .cli import main

main()
