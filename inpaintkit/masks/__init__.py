"""Mask generators for training and evaluation (True / 255 = hole).

    >>> from inpaintkit.masks import create_mask_generator, MaskMixture
    >>> gen = create_mask_generator("irregular", ratio=(0.1, 0.2))
    >>> m = gen(0, (256, 256))                       # bool (256, 256), hole ratio in [0.1, 0.2)
    >>> mix = MaskMixture.from_config([{"kind": "lama-thick", "p": 0.5}, {"kind": "boxes", "p": 0.5}])
    >>> m = mix(np.random.default_rng(0), (256, 256))

``MASKS`` is the only list of kinds; ``generate_protocol`` builds the fixed evaluation sets; ``OnDemandSchedule``
is on-demand learning's per-band batch schedule.
"""

from .generators import (
    DEFAULT_MAX_ATTEMPTS,
    LAMA_CONFIGS,
    MASKS,
    ONDEMAND_BANDS,
    MaskGenerator,
    MaskMixture,
    as_rng,
    as_shape,
    create_mask_generator,
    get_mask_class,
    list_mask_kinds,
    mask_ratio,
    parse_ratio,
    register_mask,
)
from .ondemand import OnDemandSchedule
from .protocols import PCONV_BUCKETS, PROTOCOLS, bucket_name, generate_protocol, mask_seed, protocol_buckets

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "LAMA_CONFIGS",
    "MASKS",
    "ONDEMAND_BANDS",
    "MaskGenerator",
    "MaskMixture",
    "OnDemandSchedule",
    "PCONV_BUCKETS",
    "PROTOCOLS",
    "as_rng",
    "as_shape",
    "bucket_name",
    "create_mask_generator",
    "generate_protocol",
    "get_mask_class",
    "list_mask_kinds",
    "mask_ratio",
    "mask_seed",
    "parse_ratio",
    "protocol_buckets",
    "register_mask",
]
