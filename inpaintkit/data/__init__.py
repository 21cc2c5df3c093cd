"""Training data: the photo index (``inpaintkit prepare``), crops and masks for training, the photo fetcher."""

from .dataset import StepSampler, TrainCrops, load_records, read_index, validation_set

__all__ = ["StepSampler", "TrainCrops", "load_records", "read_index", "validation_set"]
